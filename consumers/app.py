"""The Faust app of a worker: topics, agents and the periodic throughput line.

``build_app(manager)`` is what ``streamfeed worker --app module:manager``
runs. Topics are created beforehand (``streamfeed topics create``); the app
declares them with the same partition count and never creates them itself.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import tempfile
import time
from typing import Any, cast

import faust

from streamfeed.app.manager import Manager
from streamfeed.consumers import fanout, follows, marks, materialize, reactions, transport
from streamfeed.consumers.applied_offsets import AppliedOffsets
from streamfeed.consumers.context import PipelineContext
from streamfeed.consumers.dead_letters import DeadLetters
from streamfeed.consumers.metrics import TimedBackend, WorkerMetrics
from streamfeed.consumers.runtime import AgentRuntime
from streamfeed.kafka.lag import partition_lags
from streamfeed.kafka.topics import TopicNames
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings, get_settings
from streamfeed.storage.base import Backend

log = logging.getLogger("streamfeed.worker")

METADATA_MAX_AGE_MS = 10_000
PRODUCER_BATCH_BYTES = 512 * 1024


def build_app(manager: Manager, settings: Settings | None = None) -> faust.App:
    """The Faust app alone, for tools that only need its topics and agents."""
    return build_worker_app(manager, settings)[0]


def build_worker_app(
    manager: Manager, settings: Settings | None = None, metrics: WorkerMetrics | None = None
) -> tuple[faust.App, PipelineContext]:
    """The Faust app and the context its agents share (runtime, readiness) for the worker to drive.

    With metrics, storage calls are timed (the manager's backend is wrapped)
    and the agents report into it.
    """
    settings = settings or get_settings()
    if metrics is not None:
        # A proxy with the Backend's interface, timing each storage call.
        manager.backend = cast(Backend, TimedBackend(manager.backend, metrics.storage_seconds))
    app = faust.App(
        settings.app_id,
        # Faust's aiokafka transport, committing only records the agents applied (consumers.transport).
        broker=f"{transport.SCHEME}://{settings.kafka_bootstrap}",
        store="memory://",
        # Faust wants a directory for table state even with none: never the current directory.
        datadir=settings.worker_data_dir or _scratch_dir(settings.app_id),
        producer_max_request_size=settings.message_max_bytes,
        producer_linger=settings.worker_linger,
        # One produce batch per partition holds many feed-ops messages; Kafka's default (16 KiB)
        # held a handful of 1,000-follower batches, so each send loop wrote many small requests.
        producer_max_batch_size=min(PRODUCER_BATCH_BYTES, settings.message_max_bytes),
        # A worker whose metadata missed the topics (a broker restarting as it joined) is
        # assigned nothing until the metadata expires: 10 s, not aiokafka's 5 minutes.
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        producer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        # A worker killed outright is noticed after this long, not Faust's default minute.
        broker_session_timeout=settings.worker_session_timeout,
        # A 1 s heartbeat moved a dead member's partitions no sooner (stalls of 10.7-12.6 s
        # against 11.1-11.6 s, tests/chaos worker_kills): the session timeout dominates.
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout / 3),
        consumer_group_instance_id=settings.worker_instance_id,
    )
    names = TopicNames.from_settings(settings)
    topics = {
        name: app.topic(name, partitions=settings.partitions, key_type=bytes, value_type=bytes)
        for name in (
            names.activities,
            names.follows,
            names.marks,
            names.reactions,
            names.feed_ops_high,
            names.feed_ops_low,
            names.dead_letters,
        )
    }
    codec = AvroCodec(registry=settings.schema_registry_url)
    runtime = AgentRuntime(
        DeadLetters(topics[names.dead_letters], codec, settings.stats_interval),
        retry_deadline=settings.worker_retry_deadline,
        report_interval=settings.stats_interval,
        failures=lambda: manager.backend.failures,
        group=settings.app_id,
        poison_attempts=settings.worker_poison_attempts,
        poison_streak=settings.worker_poison_streak,
        # Only a deployment that asks for replicas pays a call per batch for it.
        durable=(lambda: manager.backend.make_durable()) if settings.redis_wait_replicas else None,
        applied=AppliedOffsets(names.consumed),
    )
    ctx = PipelineContext(manager, settings, codec, names, topics, runtime, metrics=metrics)
    if metrics is not None:
        metrics.runtime = runtime
        metrics.readiness = ctx.readiness
        runtime.dead_letters.on_letter = lambda topic, reason: metrics.dead_letters.labels(
            topic, reason
        ).inc()

        @app.timer(1.0)
        async def heartbeat() -> None:
            metrics.heartbeat()

    fanout.register(app, ctx)
    follows.register(app, ctx)
    marks.register(app, ctx)
    reactions.register(app, ctx)
    materialize.register(app, ctx, names.feed_ops_high, "materialize_high")
    materialize.register(app, ctx, names.feed_ops_low, "materialize_low")
    _register_stats(app, ctx)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust's signal type is stricter than its call
    async def on_assigned(app: faust.App, assigned: set[Any], **kwargs: object) -> None:
        ctx.readiness.serving()
        if ctx.metrics is not None:
            ctx.metrics.held |= {(tp.topic, tp.partition) for tp in assigned}
        log.info("serving %d partitions", len(assigned))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # as above
    async def on_revoked(app: faust.App, revoked: set[Any], **kwargs: object) -> None:
        ctx.readiness.waiting("rebalancing")
        if ctx.metrics is not None:
            ctx.metrics.held -= {(tp.topic, tp.partition) for tp in revoked}

    log.info(
        "streamfeed worker: app %s, broker %s, storage %s generation %s, %d partitions, topics %s",
        settings.app_id,
        settings.kafka_bootstrap,
        manager.backend.name,
        "followed" if settings.generation is None else (settings.generation or "default"),
        settings.partitions,
        ", ".join(topics),
    )
    return app, ctx


def _scratch_dir(app_id: str) -> str:
    path = tempfile.mkdtemp(prefix=f"streamfeed-{app_id}-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _register_stats(app: faust.App, ctx: PipelineContext) -> None:
    last: dict[str, Any] = {"time": time.monotonic(), "counts": {}}

    @app.timer(ctx.settings.stats_interval)
    async def report_throughput() -> None:
        stats = ctx.runtime.stats
        now = time.monotonic()
        elapsed = max(now - last["time"], 1e-9)
        rates = {
            agent: (count - last["counts"].get(agent, 0)) / elapsed
            for agent, count in stats.processed.items()
        }
        last["time"], last["counts"] = now, dict(stats.processed)
        summary = ", ".join(f"{agent} {rate:,.0f}/s" for agent, rate in sorted(rates.items())) or "idle"
        log.info(
            "processed: %s; group lag %s; dead letters %d",
            summary,
            await _group_lag(ctx.settings, ctx.metrics),
            ctx.runtime.dead_letters.count,
        )


async def _group_lag(settings: Settings, metrics: WorkerMetrics | None = None) -> str:
    """The whole group's lag from its committed offsets against the high-water marks.

    Not what this process has seen: that is wrong after a restart or a
    rebalance, and says nothing about the partitions other workers hold.
    """

    try:
        lags = await asyncio.to_thread(partition_lags, settings, min(3.0, settings.stats_interval / 2))
    except Exception as error:  # Kafka away: the stats line must not stop the timer
        return f"unknown ({error.__class__.__name__})"
    if lags is None:
        return "unknown (nothing committed yet)"
    if metrics is not None:
        metrics.set_lags(lags)
    return str(sum(lags.values()))
