"""The follows agent: keep the follow graph, send history copies and removals through feed-ops,
and apply authors' push/pull switches (keyed by the author on the same topic)."""

from __future__ import annotations

from typing import Any

from streamfeed.app.steps import apply_author_mode, apply_follow
from streamfeed.consumers.context import PipelineContext
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import FollowEvent
from streamfeed.schemas.catalog import AUTHOR_MODE_EVENT, FOLLOW_EVENT


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> FollowEvent | AuthorModeEvent:
        if codec.is_record(AUTHOR_MODE_EVENT, value):
            return AuthorModeEvent.from_record(codec.decode(AUTHOR_MODE_EVENT, value))
        return FollowEvent.from_record(codec.decode(FOLLOW_EVENT, value))

    def plan(event: FollowEvent | AuthorModeEvent) -> list[Any]:
        if isinstance(event, AuthorModeEvent):
            return apply_author_mode(manager, event, ctx.partitions)
        return apply_follow(manager, event)

    return ctx.register_planner(app, ctx.names.follows, "follows", decode, plan)
