"""The fanout agent: activities topic in, one feed-ops batch per destination partition out."""

from __future__ import annotations

from typing import Any

from consumers.context import PipelineContext
from consumers.metrics import observe_recipients
from pipeline.events import ActivityEvent
from pipeline.steps import fanout_activity, fanout_many
from schemas.catalog import ACTIVITY_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec
    recipients = observe_recipients(ctx.metrics)

    def decode(value: bytes) -> ActivityEvent:
        return ActivityEvent.from_record(codec.decode(ACTIVITY_EVENT, value), manager.activity_class)

    return ctx.register_planner(
        app,
        ctx.names.activities,
        "fanout",
        decode,
        lambda event: recipients(fanout_activity(manager, event, ctx.partitions)),
        lambda events: [recipients(plans) for plans in fanout_many(manager, events, ctx.partitions)],
    )
