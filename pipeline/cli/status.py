"""`streamfeed status`: the consumer group's members, partitions, lag and dead letters."""

from __future__ import annotations

from typing import Annotated

import typer
from confluent_kafka import KafkaException

from streamfeed.ops.status import group_status
from streamfeed.settings import get_settings


def status(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kafka's answers.", min=0.5)] = 10.0,
) -> None:
    """The consumer group (STREAMFEED_APP_ID): its members and their partitions, its lag per
    topic, and how many dead letters are waiting."""

    try:
        report = group_status(get_settings(), timeout)
    except KafkaException as error:
        typer.echo(f"error: Kafka: {error.args[0].str()}", err=True)
        raise typer.Exit(1) from None
    for line in report.lines():
        typer.echo(line)
