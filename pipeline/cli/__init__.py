"""The streamfeed command line: one Typer app, a module per command or command group.

Each command imports what it needs; the slow optional drivers (Faust, the
Cassandra driver, uvicorn) only inside the commands that use them, so
`streamfeed --help` and the light commands start fast.
"""

from __future__ import annotations

import typer
from pydantic import ValidationError as SettingsError

from streamfeed import __version__
from streamfeed.cli import (
    dead_letters,
    demo,
    feeds,
    generations,
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
) -> None:
    """streamfeed: newsfeeds, aggregated and notification feeds as a Kafka stream pipeline."""


app.add_typer(schema.app, name="schema")
app.add_typer(feeds.app, name="feed")
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
    try:
        app()
    except SettingsError as error:  # a STREAMFEED_* variable is wrong: say which, no traceback
        for problem in error.errors(include_url=False):
            name = "STREAMFEED_" + "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"error: {name}: {problem['msg'].removeprefix('Value error, ')}", err=True)
        raise SystemExit(2) from None
