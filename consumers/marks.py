"""The marks agent: seen/read marks in (kept for replay), each to its user's feed-ops partition."""

from __future__ import annotations

from typing import Any

from streamfeed.consumers.context import PipelineContext
from streamfeed.domain.events import FanoutBatch
from streamfeed.domain.exceptions import ValidationError
from streamfeed.schemas.catalog import FANOUT_BATCH


def register(app: Any, ctx: PipelineContext) -> Any:
    manager, codec = ctx.manager, ctx.codec

    def decode(value: bytes) -> FanoutBatch:
        batch = FanoutBatch.from_record(codec.decode(FANOUT_BATCH, value), manager.activity_class)
        if batch.mark is None or len(batch.recipients) != 1:
            raise ValidationError("mark", batch.op.value, "the marks topic carries one user's mark a record")
        return batch

    return ctx.register_planner(app, ctx.names.marks, "marks", decode, lambda batch: [batch])
