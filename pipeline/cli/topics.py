"""`streamfeed topics`: the pipeline's Kafka topics, created idempotently or listed."""

from __future__ import annotations

import json

import typer

from streamfeed.cli.common import JsonOption
from streamfeed.kafka.topics import CoPartitioningError, create_topics, topic_specs
from streamfeed.settings import get_settings

app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)


@app.command("create")
def topics_create() -> None:
    """Create the pipeline's topics if missing; refuse if co-partitioned counts disagree."""

    try:
        for line in create_topics(get_settings()):
            typer.echo(line)
    except CoPartitioningError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("list")
def topics_list(as_json: JsonOption = False) -> None:
    """Print the topics the pipeline uses, with their purpose."""

    specs = topic_specs(get_settings())
    if as_json:
        fields = ("name", "partitions", "retention_ms", "co_partitioned", "purpose")
        topics = [{field: getattr(spec, field) for field in fields} for spec in specs]
        typer.echo(json.dumps({"topics": topics}, sort_keys=True))
        return
    for spec in specs:
        hours = spec.retention_ms // 3_600_000
        retention = "forever" if spec.retention_ms < 0 else f"{hours} h"
        shape = f"{spec.partitions:>3} partitions  retention {retention:<10}"
        typer.echo(f"{spec.name:<24} {shape} {spec.purpose}")
