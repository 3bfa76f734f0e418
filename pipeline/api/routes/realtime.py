"""Server-Sent Events of a user's new entries and notification counts, resumable by Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from streamfeed.api.deps import CallerDep, ManagerDep
from streamfeed.api.models import AUTH, problems
from streamfeed.api.problems import Problem
from streamfeed.domain.activity import check_user_id
from streamfeed.domain.exceptions import ValidationError

#: Seconds a user's new entries are still kept after their realtime stream was last renewed:
#: a client that reconnects within it (EventSource does, in about 3 s) misses nothing.
LISTEN_GRACE = 60.0

router = APIRouter()


@router.get("/v1/realtime/{user_id}", responses=problems(*AUTH))
async def realtime(
    user_id: str,
    request: Request,
    manager: ManagerDep,
    caller: CallerDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """Server-Sent Events, as they happen: `entries` (activities newly shown in one of the
    user's feeds: the feed, its name and the activity ids) and `counts` (the notification
    feed's unseen and unread counts). Reconnect with Last-Event-ID to get what was missed,
    in order. Entries are told at least once: a redelivery or a follow's copy may tell of an
    entry again, so a client re-reads the feed or skips ids it already shows."""
    caller.require(user_id, "listen to the events")
    try:
        check_user_id("user_id", user_id)
    except ValidationError as error:
        raise Problem(422, "Invalid request", str(error), "user_id") from None
    publisher = manager.backend.publisher
    wait: float = request.app.state.realtime_wait

    async def events() -> AsyncIterator[str]:
        after = last_event_id
        # Listening from before the client hears "connected": nothing after that is missed.
        await asyncio.to_thread(publisher.listen, user_id, wait + LISTEN_GRACE)
        yield ": connected\n\n"
        while not await request.is_disconnected():
            found = await asyncio.to_thread(publisher.read, user_id, after, wait)
            # Renewed at every turn; the grace beyond it keeps entries for a reconnect.
            await asyncio.to_thread(publisher.listen, user_id, wait + LISTEN_GRACE)
            if not found:
                yield ": keep-alive\n\n"
                continue
            for event_id, data in found:
                after = event_id
                kind = data.get("type", "counts")
                yield f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
