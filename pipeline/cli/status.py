"""`streamfeed status`: the consumer group's members, partitions, lag and dead letters."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from streamfeed.cli.errors import EXIT_THRESHOLD
from streamfeed.ops.status import GroupStatus, group_status
from streamfeed.settings import get_settings
from streamfeed.storage.registry import get_backend


def status(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kafka's answers.", min=0.5)] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    fail_on_lag: Annotated[
        int | None,
        typer.Option(help="Exit 4 if the group's total lag is above this (or any dead letter waits).", min=0),
    ] = None,
) -> None:
    """The consumer group (STREAMFEED_APP_ID): its members and their partitions, its lag per
    topic, how many dead letters are waiting, and whether storage still holds the group's data.
    Exit 1 if storage lost it; with --fail-on-lag N, exit 4 if the lag is above N or a dead
    letter waits (a check for scripts and CI)."""

    report = group_status(get_settings(), timeout)  # Kafka away or no topics: one line, exit 3
    storage = _storage_state(report)
    if as_json:
        typer.echo(json.dumps({**report.as_json(), "storage": storage}, sort_keys=True))
    else:
        for line in [*report.lines(), storage["line"]]:
            typer.echo(line)
    if storage["lost"]:
        raise typer.Exit(1)
    if fail_on_lag is not None and (report.total_lag > fail_on_lag or report.dead_letters > 0):
        raise typer.Exit(EXIT_THRESHOLD)


def _storage_state(report: GroupStatus) -> dict[str, Any]:
    """Whether the live storage still holds the group's data (its identity, see
    streamfeed.consumers.storage_guard): kind, identity, lost, and the line that says so."""
    settings = get_settings()
    state: dict[str, Any] = {"kind": settings.storage, "identity": None, "lost": False}
    if settings.storage == "memory":
        return {**state, "line": "storage: memory"}
    try:
        identity = get_backend().marker.read()
    except Exception as error:  # storage down: a line, not a traceback
        line = f"storage: {settings.storage} unreachable ({error.__class__.__name__}: {error})"
        return {**state, "reachable": False, "line": line}
    if identity is not None:
        return {**state, "identity": identity, "line": f"storage: {settings.storage}, identity {identity}"}
    if report.committed_anything:
        line = (
            f"storage: {settings.storage} LOST: it has no identity although the group committed "
            "offsets; workers refuse to write into it. Run `streamfeed rebuild --switch` (the "
            "workers then restart onto it; STREAMFEED_AUTO_REBUILD does this by itself), or "
            "`streamfeed storage claim` to accept it as it is"
        )
        return {**state, "lost": True, "line": line}
    return {**state, "line": f"storage: {settings.storage}, new (no worker has claimed it yet)"}
