"""The follows agent: keep the follow graph, send history copies and removals through feed-ops."""

from __future__ import annotations

from typing import Any

from consumers.context import PipelineContext
from pipeline.events import FollowEvent
from pipeline.steps import apply_follow
from schemas.catalog import FOLLOW_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> FollowEvent:
        return FollowEvent.from_record(codec.decode(FOLLOW_EVENT, value))

    return ctx.register_planner(
        app, ctx.names.follows, "follows", decode, lambda event: apply_follow(manager, event)
    )
