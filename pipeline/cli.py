"""The streamfeed command line: one Typer app, a sub-command per job."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="streamfeed: newsfeeds, aggregated and notification feeds as a Kafka stream pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
schema_app = typer.Typer(
    help="Storage schema (Cassandra keyspace and tables).", no_args_is_help=True
)
feed_app = typer.Typer(help="Read feeds from storage.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(feed_app, name="feed")


@schema_app.command("sync")
def schema_sync(
    replication_factor: Annotated[int, typer.Option(help="For a new keyspace only.")] = 1,
) -> None:
    """Create the Cassandra keyspace and tables if missing and add missing columns; never drops."""
    from pipeline.settings import get_settings
    from storage.cassandra_storage import connect_cluster, sync_schema

    settings = get_settings()
    cluster = connect_cluster(settings.cassandra_hosts, settings.cassandra_port)
    try:
        session = cluster.connect()
        done = sync_schema(session, settings.cassandra_keyspace, replication_factor)
    finally:
        cluster.shutdown()
    for line in done:
        typer.echo(line)
    typer.echo(f"schema of keyspace {settings.cassandra_keyspace} is up to date")


@feed_app.command("show")
def feed_show(
    group: Annotated[
        str, typer.Argument(help="Feed name: normal, user, aggregated, notification.")
    ],
    user: Annotated[str, typer.Argument(help="User id.")],
    limit: Annotated[int, typer.Option(help="How many entries.")] = 25,
    before: Annotated[
        str | None, typer.Option(help="Only entries older than this activity id.")
    ] = None,
    storage: Annotated[str | None, typer.Option(help="memory, redis or cassandra.")] = None,
) -> None:
    """Print one user's feed, newest first."""
    from pipeline.feed_registry import default_feed_classes
    from pipeline.render import render_feed
    from storage.registry import get_backend

    classes = default_feed_classes()
    if group not in classes:
        raise typer.BadParameter(
            f"unknown feed {group!r}; one of {', '.join(classes)}", param_hint="GROUP"
        )
    feed = classes[group](user, backend=get_backend(storage))
    query = feed.filter(activity_id__lt=before) if before else feed
    typer.echo(render_feed(feed, query[:limit]))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
