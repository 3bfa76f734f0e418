"""The materializers: one agent per fanout lane, the only writers of followers' feeds.

The two lanes' agents take turns (a shared lock), since the same users live
on both; the lanes still differ in what waits: a low-lane backlog is never
ahead of high-lane batches in one queue.

Each feed-ops partition holds the recipients hashed to it, so the agent
owning the partition is the one writer of those users' feeds: aggregated and
notification feeds are read, merged and written with no storage locks.
"""

from __future__ import annotations

from typing import Any

from consumers.context import PipelineContext
from consumers.runtime import crash
from pipeline.events import FanoutBatch
from pipeline.steps import materialize, materialize_many
from schemas.catalog import FANOUT_BATCH


def register(app: Any, ctx: PipelineContext, topic_name: str, agent_name: str) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> FanoutBatch:
        return FanoutBatch.from_record(codec.decode(FANOUT_BATCH, value), manager.activity_class)

    def handle(batch: FanoutBatch) -> None:
        materialize(manager, batch)

    def handle_all(batches: list[FanoutBatch]) -> None:
        materialize_many(manager, batches)

    @app.agent(ctx.topics[topic_name], name=agent_name)
    async def materializer(stream: Any) -> None:
        async for events in stream.take_events(
            ctx.settings.worker_batch_size, within=ctx.settings.worker_batch_wait
        ):
            # Both lanes hold the same users (co-partitioned): one batch at a time keeps
            # a single writer per user's aggregated feeds.
            async with ctx.materialize_lock:
                try:
                    await ctx.runtime.process(agent_name, events, decode, handle, handle_all)
                except Exception as error:  # crash-only: the batch is not acked, so it comes back
                    crash(agent_name, error)

    return materializer
