"""The reactions agent: fold each activity's reaction events into its reaction states and counts,
and send the notification of each reaction that names target feeds (streamfeed.app.steps.reactions).

The reactions topic is keyed by activity, so the worker holding a partition is the one writer
of those activities' reactions; the fold is order-free and storage applies an activity's events
in one transaction, so a redelivered or replayed batch changes nothing
(streamfeed.domain.reactions, streamfeed.storage.reactions). It plans like the fanout: the
notifications' feed-ops batches are sent and acknowledged before its offsets are committed.
"""

from __future__ import annotations

from typing import Any

from streamfeed.app.steps import react_and_notify
from streamfeed.consumers.context import PipelineContext
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.schemas.catalog import REACTION_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> ReactionEvent:
        return ReactionEvent.from_record(codec.decode(REACTION_EVENT, value))

    def plan(event: ReactionEvent) -> list[Any]:
        return react_and_notify(manager, [event], ctx.partitions)

    def plan_all(events: list[ReactionEvent]) -> list[list[Any]]:
        # A run's batches are planned together; they are sent as one list, whichever event made them.
        return [react_and_notify(manager, events, ctx.partitions), *([] for _ in events[1:])]

    return ctx.register_planner(app, ctx.names.reactions, "reactions", decode, plan, plan_all)
