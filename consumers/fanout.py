"""The fanout agent: activities topic in, one feed-ops batch per destination partition out, and
the push/pull switches the manager's threshold asks for out to the follows topic."""

from __future__ import annotations

from typing import Any

from streamfeed.app.steps import fanout_many
from streamfeed.consumers.context import PipelineContext
from streamfeed.consumers.metrics import observe_recipients
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent
from streamfeed.schemas.catalog import ACTIVITY_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec
    recipients = observe_recipients(ctx.metrics)

    def decode(value: bytes) -> ActivityEvent:
        return ActivityEvent.from_record(codec.decode(ACTIVITY_EVENT, value), manager.activity_class)

    def plan_all(events: list[ActivityEvent]) -> list[list[Any]]:
        switches: list[AuthorModeEvent] = []
        plans: list[list[Any]] = [
            recipients(p) for p in fanout_many(manager, events, ctx.partitions, switches)
        ]
        if plans and switches:  # sent with the run, before its offsets are committed
            plans[-1] = [*plans[-1], *switches]
        return plans

    return ctx.register_planner(
        app, ctx.names.activities, "fanout", decode, lambda event: plan_all([event])[0], plan_all
    )
