"""The materializers: one agent per fanout lane, the only writers of followers' feeds.

Each feed-ops partition holds the recipients hashed to it, in both lanes
(co-partitioned), so the worker owning partition p is the one writer of
those users' feeds: aggregated and notification feeds are read, merged and
written with no storage locks. Within the worker, a batch is applied as one
run under the locks of the partitions it holds, so the two lanes never write
the same users at once; a high-lane batch waits only for low-lane work on
partitions they share.
"""

from __future__ import annotations

import contextlib
from typing import Any

from streamfeed.app.steps import materialize, materialize_many
from streamfeed.consumers.context import PipelineContext
from streamfeed.domain.events import FanoutBatch
from streamfeed.schemas.catalog import FANOUT_BATCH


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

    async def apply(events: list[Any]) -> None:
        # One run for every partition of the batch, under all their locks (taken in order, so
        # the two lanes never wait on each other in a cycle): their users are disjoint, and one
        # run makes one round of storage calls instead of one per partition.
        partitions = sorted({event.message.partition for event in events})
        async with contextlib.AsyncExitStack() as held:
            for partition in partitions:
                await held.enter_async_context(ctx.partition_lock(partition))
            await ctx.runtime.process(agent_name, events, decode, handle, handle_all)

    @app.agent(ctx.topics[topic_name], name=agent_name)
    async def materializer(stream: Any) -> None:
        settings = ctx.settings
        await ctx.runtime.consume(
            agent_name, stream, settings.worker_batch_size, settings.worker_batch_wait, apply
        )

    return materializer
