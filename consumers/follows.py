"""The follows agent: keep the follow graph, send history copies through feed-ops."""

from __future__ import annotations

import asyncio
from typing import Any

from consumers.context import PipelineContext
from pipeline.events import FollowEvent
from pipeline.steps import apply_follow
from schemas.catalog import FOLLOW_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> FollowEvent:
        return FollowEvent.from_record(codec.decode(FOLLOW_EVENT, value))

    def handle(event: FollowEvent) -> list:
        return [ctx.encode_batch(b) for b in apply_follow(manager, event)]

    @app.agent(ctx.topics[ctx.names.follows], name="follows")
    async def follows(stream: Any) -> None:
        async for events in stream.take_events(
            ctx.settings.worker_batch_size, within=ctx.settings.worker_batch_wait
        ):
            results = await ctx.runtime.process("follows", events, decode, handle)
            futures = await ctx.send_batches([item for batches in results for item in batches])
            await asyncio.gather(*futures)

    return follows
