"""The reactions agent: fold each activity's reaction events into its reaction states and counts.

The reactions topic is keyed by activity, so the worker holding a partition is the one writer
of those activities' reactions; the fold is order-free and storage applies an activity's events
in one transaction, so a redelivered or replayed batch changes nothing
(streamfeed.domain.reactions, streamfeed.storage.reactions).
"""

from __future__ import annotations

from typing import Any

from streamfeed.app.steps import apply_reactions
from streamfeed.consumers.context import PipelineContext
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.schemas.catalog import REACTION_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> ReactionEvent:
        return ReactionEvent.from_record(codec.decode(REACTION_EVENT, value))

    def handle(event: ReactionEvent) -> None:
        apply_reactions(manager, [event])

    def handle_all(events: list[ReactionEvent]) -> None:
        apply_reactions(manager, events)

    async def apply(events: list[Any]) -> None:
        await ctx.runtime.process("reactions", events, decode, handle, handle_all)

    @app.agent(ctx.topics[ctx.names.reactions], name="reactions")
    async def reactions(stream: Any) -> None:
        settings = ctx.settings
        await ctx.runtime.consume(
            "reactions", stream, settings.worker_batch_size, settings.worker_batch_wait, apply
        )

    return reactions
