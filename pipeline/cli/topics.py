"""`streamfeed topics`: the pipeline's Kafka topics, created idempotently, listed or described."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from streamfeed.cli.common import JsonOption
from streamfeed.cli.errors import EXIT_THRESHOLD, EXIT_USAGE
from streamfeed.kafka.topics import (
    CoPartitioningError,
    TopicState,
    create_topics,
    created_topics,
    describe_topics,
    topic_specs,
)
from streamfeed.settings import Settings, get_settings

app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)


@app.command("create")
def topics_create(as_json: JsonOption = False) -> None:
    """Create the pipeline's topics if missing; refuse if co-partitioned counts disagree."""

    settings = get_settings()
    try:
        report = create_topics(settings)
    except CoPartitioningError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        topics = [_state_json(state, settings) for state in describe_topics(settings)]
        typer.echo(json.dumps({"created": created_topics(report), "topics": topics}, sort_keys=True))
        return
    for line in report:
        typer.echo(line)


@app.command("list")
def topics_list(as_json: JsonOption = False) -> None:
    """Print the topics the pipeline uses, with their purpose (from the settings; no Kafka)."""

    specs = topic_specs(get_settings())
    if as_json:
        fields = ("name", "partitions", "retention_ms", "co_partitioned", "purpose")
        topics = [{field: getattr(spec, field) for field in fields} for spec in specs]
        typer.echo(json.dumps({"topics": topics}, sort_keys=True))
        return
    for spec in specs:
        shape = f"{spec.partitions:>3} partitions  retention {_retention(spec.retention_ms):<10}"
        typer.echo(f"{spec.name:<24} {shape} {spec.purpose}")


@app.command("describe")
def topics_describe(
    as_json: JsonOption = False,
    check: Annotated[
        bool,
        typer.Option(
            help="Exit 4 when a topic is missing or differs from the settings (for scripts and Jobs)."
        ),
    ] = False,
) -> None:
    """The topics as the cluster has them: partitions, replicas, retention, message size limit and
    records held, with what differs from the pipeline's settings."""

    settings = get_settings()
    states = describe_topics(settings)
    problems = {state.spec.name: state.problems(settings) for state in states}
    if as_json:
        typer.echo(json.dumps({"topics": [_state_json(state, settings) for state in states]}, sort_keys=True))
    else:
        for state in states:
            typer.echo(_state_line(state))
            for problem in problems[state.spec.name]:
                typer.echo(f"  ! {problem}")
    if check and any(problems.values()):
        bad = sum(1 for found in problems.values() if found)
        typer.echo(f"{bad} of {len(states)} topics differ from the settings", err=True)
        raise typer.Exit(EXIT_THRESHOLD)


def _retention(retention_ms: int | None) -> str:
    if retention_ms is None:
        return "?"
    return "forever" if retention_ms < 0 else f"{retention_ms // 3_600_000} h"


def _state_line(state: TopicState) -> str:
    if not state.exists:
        return f"{state.spec.name:<24} missing"
    return (
        f"{state.spec.name:<24} {state.partitions:>3} partitions  {state.replication_factor} replicas  "
        f"retention {_retention(state.retention_ms):<8} max message {state.max_message_bytes:,} bytes  "
        f"{state.records:,} records"
    )


def _state_json(state: TopicState, settings: Settings) -> dict[str, Any]:
    return {
        "name": state.spec.name,
        "exists": state.exists,
        "partitions": state.partitions,
        "replication_factor": state.replication_factor,
        "retention_ms": state.retention_ms,
        "max_message_bytes": state.max_message_bytes,
        "records": state.records,
        "co_partitioned": state.spec.co_partitioned,
        "purpose": state.spec.purpose,
        "problems": state.problems(settings),
    }
