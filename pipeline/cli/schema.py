"""`streamfeed schema`: the Cassandra keyspace and tables, created or extended, never dropped."""

from __future__ import annotations

from typing import Annotated

import typer

from streamfeed.settings import get_settings

app = typer.Typer(help="Storage schema (Cassandra keyspace and tables).", no_args_is_help=True)


@app.command("sync")
def schema_sync(
    replication_factor: Annotated[
        int | None,
        typer.Option(help="For a new keyspace only; default STREAMFEED_CASSANDRA_REPLICATION_FACTOR."),
    ] = None,
    adopt: Annotated[
        bool, typer.Option(help="Add streamfeed's tables to an existing keyspace that has others.")
    ] = False,
) -> None:
    """Create the Cassandra keyspace and tables if missing and add missing columns; never drops."""
    from streamfeed.storage.cassandra import SchemaConflict, connect_cluster, sync_schema  # noqa: PLC0415 (the Cassandra driver is slow to load)

    settings = get_settings()
    cluster = connect_cluster(settings.cassandra_hosts, settings.cassandra_port)
    try:
        session = cluster.connect()
        replicas = replication_factor or settings.cassandra_replication_factor
        done = sync_schema(session, settings.cassandra_keyspace, replicas, adopt=adopt)
    except SchemaConflict as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        cluster.shutdown()
    for line in done:
        typer.echo(line)
    typer.echo(f"schema of keyspace {settings.cassandra_keyspace} is up to date")
