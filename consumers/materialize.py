"""The materializers: one agent per fanout lane, the only writers of followers' feeds.

Each feed-ops partition holds the recipients hashed to it, in both lanes
(co-partitioned), so the worker owning partition p is the one writer of
those users' feeds: aggregated and notification feeds are read, merged and
written with no storage locks. Within the worker, a batch is applied per
partition under that partition's lock, so the two lanes never write the same
users at once, and a high-lane batch waits only for low-lane work on its
own partitions, not for a whole low-lane batch.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from consumers.context import PipelineContext
from pipeline.events import FanoutBatch
from pipeline.steps import materialize, materialize_many
from schemas.catalog import FANOUT_BATCH


def register(app: Any, ctx: PipelineContext, topic_name: str, agent_name: str) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> FanoutBatch:
        return FanoutBatch.from_record(codec.decode(FANOUT_BATCH, value), manager.activity_class)

    def handle(batch: FanoutBatch) -> None:
        materialize(manager, batch)
        visible([batch])

    def handle_all(batches: list[FanoutBatch]) -> None:
        materialize_many(manager, batches)
        visible(batches)

    def visible(batches: list[FanoutBatch]) -> None:
        if ctx.metrics is not None:
            for batch in batches:
                ctx.metrics.observe_visible(batch.published_at)

    async def apply_partition(partition: int, events: list[Any]) -> None:
        async with ctx.partition_lock(partition):
            await ctx.runtime.process(agent_name, events, decode, handle, handle_all)

    async def apply(events: list[Any]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for event in events:
            by_partition[event.message.partition].append(event)
        # Every partition's work finishes before an error surfaces: no write of this
        # batch is still running when the process exits or the batch is retried.
        results = await asyncio.gather(
            *(apply_partition(p, part) for p, part in sorted(by_partition.items())),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @app.agent(ctx.topics[topic_name], name=agent_name)
    async def materializer(stream: Any) -> None:
        settings = ctx.settings
        await ctx.runtime.consume(
            agent_name, stream, settings.worker_batch_size, settings.worker_batch_wait, apply
        )

    return materializer
