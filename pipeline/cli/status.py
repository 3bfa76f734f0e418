"""`streamfeed status`: the consumer group's members, partitions, lag and dead letters."""

from __future__ import annotations

from typing import Annotated

import typer

from streamfeed.ops.status import GroupStatus, group_status
from streamfeed.settings import get_settings
from streamfeed.storage.registry import get_backend


def status(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kafka's answers.", min=0.5)] = 10.0,
) -> None:
    """The consumer group (STREAMFEED_APP_ID): its members and their partitions, its lag per
    topic, and how many dead letters are waiting."""

    report = group_status(get_settings(), timeout)  # Kafka away or no topics: one line, exit 3
    for line in report.lines():
        typer.echo(line)
    if _storage_lost(report):
        raise typer.Exit(1)


def _storage_lost(report: GroupStatus) -> bool:
    """Say whether the live storage still holds the group's data (its identity, see
    streamfeed.consumers.storage_guard); True when it lost it."""
    settings = get_settings()
    if settings.storage == "memory":
        return False
    try:
        identity = get_backend().marker.read()
    except Exception as error:  # storage down: a line, not a traceback
        typer.echo(f"storage: {settings.storage} unreachable ({error.__class__.__name__}: {error})")
        return False
    if identity is not None:
        typer.echo(f"storage: {settings.storage}, identity {identity}")
        return False
    if report.committed_anything:
        typer.echo(
            f"storage: {settings.storage} LOST: it has no identity although the group committed "
            "offsets; workers refuse to write into it. Run `streamfeed rebuild --switch` (then "
            "restart the workers), or `streamfeed storage claim` to accept it as it is"
        )
        return True
    typer.echo(f"storage: {settings.storage}, new (no worker has claimed it yet)")
    return False
