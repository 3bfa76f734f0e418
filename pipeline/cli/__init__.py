"""The streamfeed command line: one Typer app, a module per command or command group.

Each command imports what it needs; the slow optional drivers (Faust, the
Cassandra driver, uvicorn) only inside the commands that use them, so
`streamfeed --help` and the light commands start fast.
"""

from __future__ import annotations

import logging

import typer
from pydantic import ValidationError as SettingsError

from streamfeed import __version__
from streamfeed.cli import (
    dead_letters,
    demo,
    feeds,
    generations,
    graph,
    produce,
    rebuild,
    schema,
    serve,
    status,
    storage,
    token,
    topics,
    worker,
)
from streamfeed.cli.errors import EXIT_UNAVAILABLE, EXIT_USAGE, unavailable_server
from streamfeed.kafka.clients import LIBRDKAFKA_LOG
from streamfeed.settings import get_settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="streamfeed: newsfeeds, aggregated and notification feeds as a Kafka stream pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"streamfeed {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the Kafka client's own log lines."),
) -> None:
    """streamfeed: newsfeeds, aggregated and notification feeds as a Kafka stream pipeline.

    Exit codes: 0 done, 1 some input rejected, 2 usage or configuration error, 3 a server is
    unavailable (try again when it is back), 4 a threshold passed (status --fail-on-lag),
    70 internal error."""
    if verbose:
        LIBRDKAFKA_LOG.setLevel(logging.DEBUG)
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


app.add_typer(schema.app, name="schema")
app.add_typer(feeds.app, name="feed")
app.add_typer(graph.app, name="graph")
app.add_typer(topics.app, name="topics")
app.add_typer(generations.app, name="generations")
app.add_typer(dead_letters.app, name="dead-letters")
app.add_typer(storage.app, name="storage")
app.command()(worker.worker)
app.command()(rebuild.rebuild)
app.command()(produce.produce)
app.command()(serve.serve)
app.command()(status.status)
app.command()(demo.demo)
app.command()(token.token)


def main() -> None:
    # librdkafka's own log lines stay quiet on the command line: the command says in one line
    # what went wrong (--verbose shows them; a worker and the API log them).
    LIBRDKAFKA_LOG.setLevel(logging.CRITICAL)
    try:
        app()
    except SettingsError as error:  # a STREAMFEED_* variable is wrong: say which, no traceback
        for problem in error.errors(include_url=False):
            name = "STREAMFEED_" + "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"error: {name}: {problem['msg'].removeprefix('Value error, ')}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    except Exception as error:  # a server away is one line and exit 3; anything else is a bug
        line = unavailable_server(error, get_settings())
        if line is None:
            raise
        typer.echo(f"error: {line}", err=True)
        raise SystemExit(EXIT_UNAVAILABLE) from None
