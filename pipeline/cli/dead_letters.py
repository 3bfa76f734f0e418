"""`streamfeed dead-letters`: the records the pipeline refused, listed or replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from streamfeed.cli.common import JsonOption
from streamfeed.ops.dead_letters import read_dead_letters, replay_dead_letters
from streamfeed.settings import get_settings

app = typer.Typer(help="Records the pipeline rejected, with why.", no_args_is_help=True)


def _since(value: str | None) -> Any:
    """An ISO time, or an age like 30m, 2h, 1d."""

    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use an ISO time or an age like 30m, 2h, 1d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


SinceOption = Annotated[
    str | None, typer.Option(help="Only letters rejected since: an ISO time or an age (30m, 2h, 1d).")
]


ReasonOption = Annotated[
    str | None, typer.Option(help="Only letters whose error type or reason contains this text.")
]


@app.command("list")
def dead_letters_list(
    since: SinceOption = None,
    reason: ReasonOption = None,
    limit: Annotated[int, typer.Option(help="At most this many, oldest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Print dead letters: when, where from (topic[partition]@offset), why, and the start of the bytes."""

    cutoff = _since(since)
    shown = total = 0
    listed: list[dict[str, Any]] = []
    for letter in read_dead_letters(get_settings()):
        if not letter.matches(reason, cutoff):
            continue
        total += 1
        if shown < limit:
            shown += 1
            if as_json:
                listed.append(letter.as_json())
                continue
            typer.echo(
                f"{letter.failed_at:%Y-%m-%d %H:%M:%S} {letter.topic}[{letter.source_partition}]"
                f"@{letter.source_offset} {letter.error_type}: {letter.error}\n    {letter.preview()}"
            )
    if as_json:
        typer.echo(json.dumps({"total": total, "shown": shown, "letters": listed}, sort_keys=True))
        return
    typer.echo(f"{total} dead letters" + (f", {shown} shown" if shown < total else ""))


@app.command("replay")
def dead_letters_replay(
    since: SinceOption = None,
    reason: ReasonOption = None,
    dry_run: Annotated[bool, typer.Option(help="Count what would be replayed; publish nothing.")] = False,
) -> None:
    """Re-publish dead letters to the topics they came from, after fixing their cause."""

    settings = get_settings()
    cutoff = _since(since)
    letters = [letter for letter in read_dead_letters(settings) if letter.matches(reason, cutoff)]
    if dry_run:
        typer.echo(f"{len(letters)} dead letters would be replayed")
        return
    replayed = replay_dead_letters(settings, letters)
    typer.echo(f"replayed {replayed} dead letters to their original topics")
