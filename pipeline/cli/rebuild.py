"""`streamfeed rebuild`: every feed into a new generation from the topics, or one user's feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from streamfeed.cli.common import JsonOption, load_app
from streamfeed.cli.progress import WorkProgress, rate_words
from streamfeed.ops.rebuild import Progress as RebuildProgress
from streamfeed.ops.rebuild import default_generation_name, rebuild_user, run_rebuild
from streamfeed.settings import get_settings
from streamfeed.storage.generations import GenerationError, check_generation_name


def rebuild(
    generation: Annotated[
        str | None, typer.Option(help="Name of the new generation (default: g<timestamp>).")
    ] = None,
    from_time: Annotated[
        str | None, typer.Option(help="Replay from this ISO time instead of the start of the topics.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Rebuild workers to run.", min=1)] = 1,
    switch: Annotated[bool, typer.Option(help="Make the new generation live once it caught up.")] = False,
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="The Manager the rebuild workers run, as module:attribute.")
    ] = "streamfeed.default_app:manager",
    user: Annotated[
        str | None,
        typer.Option(
            help="Rebuild only this user's feeds, in the live generation, through the live workers."
        ),
    ] = None,
    graph: Annotated[
        bool,
        typer.Option(
            help="With --user: restore the user's follow graph too (lost follow keys), by sending "
            "every follow event with the user on either side again."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Rebuild every feed into a new generation from the activities and follows topics.

    The live pipeline keeps running: the rebuild has its own consumer group,
    feed-ops and dead-letter topics. Interrupted, run the same command (same
    --generation) again: it resumes where its group committed.
    """

    if user is not None:
        manager = load_app(app_path)
        sent = rebuild_user(get_settings(), manager, user, graph=graph)
        if as_json:
            fields = {"user": user, "batches": sent.batches, "marks": sent.marks}
            typer.echo(json.dumps({**fields, "follows": sent.follows if graph else 0}, sort_keys=True))
            return
        typer.echo(
            f"sent {sent.batches} batches and {sent.marks} marks to {user}'s feed-ops partition"
            + (f", {sent.follows} follow events to the follows topic" if graph else "")
            + ": the live workers apply them"
        )
        if not graph and not manager.backend.follows.following(user):
            typer.echo(f"{user} follows nobody in storage; if follow keys were lost, add --graph", err=True)
        return
    name = generation or default_generation_name()
    try:
        name = check_generation_name(name)
    except GenerationError as error:
        raise typer.BadParameter(str(error), param_hint="--generation") from None
    when = None
    if from_time is not None:
        try:
            when = datetime.fromisoformat(from_time)
        except ValueError:
            raise typer.BadParameter(
                f"{from_time!r} is not an ISO time, e.g. 2026-12-01 or 2026-12-01T09:30:00+00:00",
                param_hint="--from-time",
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    lags: dict[str, int] = {}

    def describe(done: int, total: int | None, elapsed: float) -> str:
        words = rate_words(done, total, elapsed, "events")
        lag = ", ".join(f"{topic} lag {n:,}" for topic, n in sorted(lags.items()) if n)
        return f"{words}; {lag}" if lag else words

    with WorkProgress(f"rebuilding {name}", describe) as bar:

        def report(progress: RebuildProgress) -> None:
            lags.clear()
            lags.update(progress.lag_by_topic)
            bar.update(progress.applied, progress.total)

        result = run_rebuild(get_settings(), name, workers, when, switch, report=report, app_path=app_path)
    rate = result.events / max(result.seconds, 1e-9)
    if as_json:
        summary = {"generation": name, "events": result.events, "seconds": round(result.seconds, 3)}
        typer.echo(
            json.dumps({**summary, "events_per_second": round(rate, 1), "live": switch}, sort_keys=True)
        )
        return
    typer.echo(f"generation {name}: {result.events} events in {result.seconds:.1f}s ({rate:,.0f}/s)")
    typer.echo(
        f"generation {name} is live" if switch else f"make it live: streamfeed generations switch {name}"
    )
