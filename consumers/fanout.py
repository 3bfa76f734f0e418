"""The fanout agent: activities topic in, one feed-ops batch per destination partition out."""

from __future__ import annotations

import asyncio
from typing import Any

from consumers.context import PipelineContext
from pipeline.events import ActivityEvent
from pipeline.steps import fanout_activity
from schemas.catalog import ACTIVITY_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> ActivityEvent:
        return ActivityEvent.from_record(codec.decode(ACTIVITY_EVENT, value), manager.activity_class)

    def handle(event: ActivityEvent) -> list:
        return [ctx.encode_batch(b) for b in fanout_activity(manager, event, ctx.partitions)]

    @app.agent(ctx.topics[ctx.names.activities], name="fanout")
    async def fanout(stream: Any) -> None:
        async for events in stream.take_events(
            ctx.settings.worker_batch_size, within=ctx.settings.worker_batch_wait
        ):
            results = await ctx.runtime.process("fanout", events, decode, handle)
            futures = await ctx.send_batches([item for batches in results for item in batches])
            await asyncio.gather(*futures)

    return fanout
