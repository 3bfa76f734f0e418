"""`streamfeed worker`: one member of the consumer group, or a pool of them."""

from __future__ import annotations

import faulthandler
import logging
import os
from typing import Annotated, Any

import typer

from streamfeed.cli.common import load_app
from streamfeed.consumers.metrics import WorkerMetrics, serve_http
from streamfeed.consumers.pool import processes_for, run_pool
from streamfeed.consumers.processes import die_with_parent_if_asked
from streamfeed.kafka.clients import LIBRDKAFKA_LOG
from streamfeed.settings import get_settings
from streamfeed.storage.registry import create_generational_backend


def worker(
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="The Manager to run, as module:attribute.")
    ] = "streamfeed.default_app:manager",
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "info",
    processes: Annotated[
        int,
        typer.Option(
            min=0,
            help="Worker processes to run (one uses about one core); 0: one per core. With a "
            "metrics port P, process n serves it on P + n.",
        ),
    ] = 1,
) -> None:
    """Run the pipeline's agents (fanout, follows, materializers) in one consumer group member.

    Waits for Kafka and storage if they are not up yet; exits 75 after a
    storage outage longer than STREAMFEED_WORKER_RETRY_DEADLINE and 70 on an
    unexpected error, in both cases without committing (restart it). With --processes N, a
    pool of N such members that ends (with the member's code) when one ends on its own.
    """

    die_with_parent_if_asked()
    if (count := processes_for(processes)) > 1:
        member = ["--app", app_path, "--loglevel", loglevel, "--processes", "1"]
        raise typer.Exit(run_pool(member, count, get_settings().metrics_port))

    from streamfeed.consumers.app import build_worker_app  # noqa: PLC0415 (Faust is slow to load)
    from streamfeed.consumers.runtime import OUTAGE_STATUS  # noqa: PLC0415 (Faust is slow to load)
    from streamfeed.consumers.storage_guard import GenerationMoved  # noqa: PLC0415 (beside the worker's)
    from streamfeed.consumers.worker import (  # noqa: PLC0415 (Faust is slow to load)
        Readiness,
        StreamfeedWorker,
        kafka_reachable,
        topics_present,
        wait_for,
    )

    # A crash in a C extension (librdkafka, the Cassandra driver, hiredis) leaves
    # Python's stack of every thread in the worker's log instead of nothing.
    faulthandler.enable(all_threads=True)
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s] [%(process)d] %(levelname)s %(message)s"
    )
    LIBRDKAFKA_LOG.setLevel(logging.WARNING)  # a long-running process logs its Kafka client's trouble
    settings = get_settings()
    readiness = Readiness()
    metrics = WorkerMetrics(readiness)
    if settings.metrics_port is not None:  # up before the waits: live, not ready, and saying why
        serve_http(metrics, settings.metrics_host, settings.metrics_port)
    if settings.generation is None and settings.storage != "memory":
        settings = _pin_live_generation(settings, readiness)
    # The app first: a typo in --app is a usage error at once, not a wait for Kafka.
    manager = wait_for(f"{settings.storage} storage", lambda: load_app(app_path), readiness)
    wait_for("Kafka", lambda: kafka_reachable(settings.kafka_bootstrap), readiness, settings.stats_interval)
    wait_for("the pipeline's topics", lambda: topics_present(settings), readiness, settings.stats_interval)
    guard = None
    if settings.storage != "memory":  # memory storage keeps nothing across a restart anyway
        guard = metrics.guard = _storage_guard(settings, manager, app_path)
        try:
            wait_for("storage holding this group's data", guard.open, readiness, settings.stats_interval)
        except GenerationMoved as moved:
            logging.getLogger(__name__).warning("%s", moved)
            raise typer.Exit(OUTAGE_STATUS) from None
    faust_app, context = build_worker_app(manager, settings, metrics)
    context.readiness = metrics.readiness = readiness
    context.runtime.readiness = readiness
    context.runtime.guard = guard
    StreamfeedWorker(faust_app, context.runtime, settings, loglevel=loglevel).execute_from_commandline()


def _storage_guard(settings: Any, manager: Any, app_path: str) -> Any:
    """The guard of the generation this worker writes: it notices a switch away from it, and
    starts the automatic rebuild when the storage is lost, if the deployment asks for one."""
    from streamfeed.consumers.storage_guard import StorageGuard  # noqa: PLC0415 (beside the worker's)
    from streamfeed.consumers.worker import group_progress  # noqa: PLC0415 (Faust is slow to load)
    from streamfeed.ops.auto_rebuild import AutoRebuild  # noqa: PLC0415 (only a worker needs it)

    store = create_generational_backend(settings.storage, settings).store
    marker = lambda: manager.backend.marker  # noqa: E731 (looked up each time: it may change)
    return StorageGuard(
        marker,
        lambda: group_progress(settings),
        pinned=settings.generation,
        live=store.live,
        when_lost=AutoRebuild(settings, marker, app_path, moved=lambda: store.live() != settings.generation)
        if settings.auto_rebuild
        else None,
    )


def _pin_live_generation(settings: Any, readiness: Any) -> Any:
    """A worker writes the generation live when it starts, and only that one.

    Readers follow a switch; writers do not, so the group building a new
    generation and the live group never write the same one at once. Restart
    the workers after a switch (see docs/operations.md, "Rebuilding feeds").
    """

    from streamfeed.consumers.worker import wait_for  # noqa: PLC0415 (Faust is slow to load)

    def live() -> str:
        backend = create_generational_backend(settings.storage, settings)
        try:
            return backend.store.live()
        finally:
            backend.close()

    generation = wait_for(f"{settings.storage} storage", live, readiness, settings.stats_interval)
    os.environ["STREAMFEED_GENERATION"] = generation  # what the app's Manager() will read
    get_settings.cache_clear()
    return get_settings()
