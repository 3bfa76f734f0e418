"""Server-Sent Events of a user's new entries and notification counts, resumable by Last-Event-ID.

A stream costs a socket and a coroutine, never a thread: it waits on the
publisher's event-loop side (an asyncio Redis client, or a future the
memory publisher wakes), so thousands of idle streams cost memory only and
never delay another user's. Streams are capped per user and per process
(STREAMFEED_API_REALTIME_PER_USER, _MAX): beyond, a 429 problem.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from streamfeed.api.deps import ManagerDep, StreamCallerDep
from streamfeed.api.models import AUTH, problems
from streamfeed.api.problems import Problem
from streamfeed.domain.activity import check_user_id
from streamfeed.domain.exceptions import ValidationError
from streamfeed.storage.base import CountsPublisher

#: Seconds a user's new entries are still kept after their realtime stream was last renewed:
#: a client that reconnects within it (EventSource does, in about 3 s) misses nothing.
LISTEN_GRACE = 60.0

router = APIRouter()
log = logging.getLogger(__name__)


@dataclass
class StreamLimits:
    """Open streams of this API process, per user and in all; the event loop is the only
    writer, so counting needs no lock."""

    per_user: int
    total: int
    open: Counter[str] = field(default_factory=Counter)
    open_total: int = 0

    def enter(self, user_id: str) -> None:
        if self.open_total >= self.total:
            raise Problem(
                429, "Too many requests", f"this server holds {self.total} realtime streams already"
            )
        if self.open[user_id] >= self.per_user:
            raise Problem(
                429, "Too many requests", f"{user_id!r} has {self.per_user} realtime streams open already"
            )
        self.open[user_id] += 1
        self.open_total += 1

    def leave(self, user_id: str) -> None:
        self.open_total -= 1
        self.open[user_id] -= 1
        if self.open[user_id] <= 0:
            del self.open[user_id]


async def renew_listeners(limits: StreamLimits, publisher: CountsPublisher, wait: float) -> None:
    """Every `wait` seconds, tell the publisher again that the users with a stream open here
    are listening: one command for all of them, where each stream renewing itself cost two
    round trips per stream per turn. The grace beyond `wait` keeps entries for a reconnect."""
    while True:
        await asyncio.sleep(wait)
        try:
            await publisher.listen_many_async(list(limits.open), wait + LISTEN_GRACE)
        except Exception:  # storage unreachable for a moment: the next turn renews
            log.warning("could not renew the realtime listeners", exc_info=True)


@router.get("/v1/realtime/{user_id}", responses=problems(*AUTH))
async def realtime(
    user_id: str,
    request: Request,
    manager: ManagerDep,
    caller: StreamCallerDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """Server-Sent Events, as they happen: `entries` (activities newly shown in one of the
    user's feeds: the feed, its name and the activity ids) and `counts` (the notification
    feed's unseen and unread counts). Reconnect with Last-Event-ID to get what was missed,
    in order; if the server no longer holds all of it (or never gave that id), a `reset`
    event says so first and the client re-reads the feed. Entries are told at least once: a
    redelivery or a follow's copy may tell of an entry again, so a client re-reads the feed
    or skips ids it already shows."""
    caller.require(user_id, "listen to the events")
    try:
        check_user_id("user_id", user_id)
    except ValidationError as error:
        raise Problem(422, "Invalid request", str(error), "user_id") from None
    publisher = manager.backend.publisher
    if last_event_id is not None and not publisher.valid_event_id(last_event_id):
        raise Problem(400, "Bad request", "Last-Event-ID is not an id this server gave", "Last-Event-ID")
    limits: StreamLimits = request.app.state.stream_limits
    wait: float = request.app.state.realtime_wait
    limits.enter(user_id)
    try:
        # Listening from before the client hears "connected": nothing after that is missed.
        await publisher.listen_async(user_id, wait + LISTEN_GRACE)
        after, gap = await publisher.resume(user_id, last_event_id)
    except BaseException:
        limits.leave(user_id)
        raise

    async def events() -> AsyncIterator[str]:
        cursor = after
        yield ": connected\n\n"
        if gap:
            yield f"event: reset\ndata: {json.dumps({'reason': 'events missed: re-read the feed'})}\n\n"
        while not await request.is_disconnected():
            # Each turn waits a little more or less than `wait`: streams opened together (a
            # reconnect storm, a deploy) spread their renewals instead of waking as one wave.
            found = await publisher.read_async(user_id, cursor, wait * random.uniform(0.75, 1.25))
            if not found:
                yield ": keep-alive\n\n"
                continue
            for event_id, data in found:
                cursor = event_id
                kind = data.get("type", "counts")
                yield f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"

    return _CountedStream(events(), lambda: limits.leave(user_id))


class _CountedStream(StreamingResponse):
    """A stream that gives its place back however it ends: finished, failed, or cancelled
    before its first event (when the generator's own cleanup would never run)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"Cache-Control": "no-store"})
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
