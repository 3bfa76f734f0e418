"""`streamfeed serve`: read feeds, publish events, follow, mark seen, over HTTP.

Every write goes through the Manager's driver, like every other write:
published to Kafka (workers apply it) or, inline, applied at once. Every
input is checked with the rules of the producer and the worker (the JSON
models of pipeline.json_events, user ids, the app's feeds and verbs), and
every error is an RFC 9457 problem with the field at fault.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from streamfeed.api.auth import Authenticator, Caller, current_caller
from streamfeed.api.body_limit import BodyLimit
from streamfeed.api.problems import Problem, handle_problem, problem_response
from streamfeed.api.views import activity_json, group_json
from streamfeed.app.manager import Manager
from streamfeed.domain.activity import check_user_id
from streamfeed.domain.events import ActivityEvent, ActivityOp, FollowEvent, FollowOp, MarkSpec
from streamfeed.domain.exceptions import StreamfeedError, ValidationError
from streamfeed.domain.json_events import ActivityLine, Scalar, event_from_line
from streamfeed.domain.targets import parse_targets
from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed

#: The most entries a page may ask for.
MAX_PAGE = 100
#: The most activities one POST may carry.
MAX_BATCH = 500


USER_ID = r"^[A-Za-z0-9_.:@\-]{1,200}$"


class FollowBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    follower: str = Field(pattern=USER_ID)
    followed: str = Field(pattern=USER_ID)
    activity_copy_limit: int | None = Field(None, ge=0, le=2**31 - 1)


class ContextBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    extra_context: dict[str, Scalar | list[Scalar]]


class MarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    groups: list[str] | None = Field(None, description="Group keys to mark; null marks every group.")
    seen: bool = True
    read: bool = False


class Page(BaseModel):
    feed: str
    user_id: str
    results: list[dict[str, Any]]
    next: str | None = Field(description="id_lt for the next page; null at the end.")


class Counts(BaseModel):
    unseen: int
    unread: int


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for the problem answers a route gives (problem+json, one schema)."""
    described = {
        400: "A body that is not JSON",
        401: "No or bad credentials",
        403: "Someone else's data",
        404: "No such feed or activity",
        413: "Too large",
        422: "Invalid input, naming the field",
    }
    return {
        code: {
            "description": described[code],
            "model": ProblemOut,
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


AUTH = (400, 401, 403, 413, 422)


class Accepted(BaseModel):
    accepted: int
    ids: list[str] = []


class ActivityIn(ActivityLine):
    """An activity as produce's JSON lines carry it; `type` may be left out here."""

    type: Literal["activity"] = "activity"
    # Bodies are validated after JSON parsing, where strict mode would refuse an ISO string.
    time: Annotated[datetime | None, Field(strict=False)] = None


ActivityBody = Annotated[ActivityIn | list[ActivityIn], Body()]


def create_app(
    manager: Manager,
    jwt_key: str | None = None,
    service_key: str | None = None,
    cors_origins: list[str] | None = None,
    max_body_bytes: int = 1_048_576,
    realtime_wait: float = 15.0,
    demo_page: bool = False,
) -> FastAPI:
    """The API over a manager: its feeds, its verbs, its driver (inline or Kafka).

    realtime_wait: seconds a realtime stream waits for an event before it
    sends a keep-alive line (and notices a client that left).
    """
    app = FastAPI(
        title="streamfeed",
        version="1",
        description="Feeds of a streamfeed app: read a page, publish, follow, mark seen.",
    )
    app.state.manager = manager
    app.state.auth = Authenticator(jwt_key, service_key)
    app.add_exception_handler(Problem, handle_problem)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Service-Key"],
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Any:
        return problem_response(error.status_code, "Bad request" if error.status_code == 400 else "Error",
                                str(error.detail))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Any:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
        return problem_response(422, "Invalid request", f"{field}: {first['msg']}", field or None)

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    def feed_of(name: str, user_id: str) -> Any:
        try:
            check_user_id("user_id", user_id)
            return manager.get_feed(name, user_id)
        except ValidationError as error:
            raise Problem(422, "Invalid request", str(error), "user_id") from None
        except ValueError as error:
            raise Problem(404, "Not found", str(error), "feed") from None

    @app.get("/v1/feeds/{feed}/{user_id}", response_model=Page, responses=_problems(*AUTH, 404))
    async def read_page(
        feed: str,
        user_id: str,
        caller: Annotated[Caller, Depends(current_caller)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
        id_lt: Annotated[str | None, Query(max_length=64)] = None,
        id_gt: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Page:
        """A page of the feed, newest first; `next` is the id_lt of the next page."""
        # Run on the event loop: a page is one storage round trip, cheaper than the hop to a
        # worker thread and back that a sync endpoint costs (the API's hottest path).
        caller.require(user_id, "read the feeds")
        handle = feed_of(feed, user_id)
        query = handle.filter(
            **{k: v for k, v in (("activity_id__lt", id_lt), ("activity_id__gt", id_gt)) if v}
        )
        items = query[: limit + 1]
        more, items = len(items) > limit, items[:limit]
        if isinstance(handle, AggregatedFeed):
            results = [group_json(g) for g in items]
            last = items[-1].last_activity.id if items else None
        else:
            results = [activity_json(a) for a in items]
            last = items[-1].id if items else None
        return Page(feed=feed, user_id=user_id, results=results, next=last if more else None)

    @app.get("/v1/feeds/{feed}/{user_id}/counts", response_model=Counts, responses=_problems(*AUTH, 404))
    def read_counts(feed: str, user_id: str, caller: Annotated[Caller, Depends(current_caller)]) -> Counts:
        """Unseen and unread groups of a notification feed: one lookup."""
        caller.require(user_id, "read the counts")
        handle = feed_of(feed, user_id)
        if not isinstance(handle, NotificationFeed):
            raise Problem(404, "Not found", f"feed {feed!r} keeps no seen/read counts", "feed")
        return Counts(unseen=handle.count_unseen(), unread=handle.count_unread())

    @app.post(
        "/v1/feeds/{feed}/{user_id}/mark",
        status_code=202,
        response_model=Accepted,
        responses=_problems(*AUTH, 404),
    )
    def mark(
        feed: str, user_id: str, body: MarkBody, caller: Annotated[Caller, Depends(current_caller)]
    ) -> Accepted:
        """Mark groups (or all) seen and/or read; reading implies seeing. Goes through the pipeline."""
        caller.require(user_id, "mark the feeds")
        handle = feed_of(feed, user_id)
        if not isinstance(handle, NotificationFeed):
            raise Problem(404, "Not found", f"feed {feed!r} has no seen/read marks", "feed")
        manager.mark(user_id, MarkSpec(feed, None if body.groups is None else tuple(body.groups),
                                       body.seen or body.read, body.read, datetime.now(UTC)))  # fmt: skip
        return Accepted(accepted=1)

    @app.post("/v1/activities", status_code=202, response_model=Accepted, responses=_problems(*AUTH))
    def publish(body: ActivityBody, caller: Annotated[Caller, Depends(current_caller)]) -> Accepted:
        """Add, update or remove activities (one, or a list of at most 500): checked, then published."""
        lines = body if isinstance(body, list) else [body]
        if len(lines) > MAX_BATCH:
            raise Problem(413, "Payload too large", f"at most {MAX_BATCH} activities a request")
        events: list[ActivityEvent] = []
        for index, line in enumerate(lines):
            where = f"[{index}]" if isinstance(body, list) else ""
            caller.require(line.actor, "publish as the actor")
            try:
                event = event_from_line(line)
                parse_targets(manager, [event.activity])
            except StreamfeedError as error:
                field = getattr(error, "field", None)
                raise Problem(422, "Invalid activity", f"{where}{error}", field) from None
            events.append(event)
        for event in events:
            manager.driver.activity(event)
        _flush(manager)
        return Accepted(accepted=len(events), ids=[e.activity.id for e in events])

    def stored_activity(activity_id: str, caller: Caller) -> Any:
        state = manager.backend.activities.get_states([activity_id], manager.activity_class).get(activity_id)
        if state is None or state.removed:
            raise Problem(404, "Not found", f"no live activity {activity_id!r}", "id")
        caller.require(state.activity.actor_id, "change the activities")
        return state.activity

    def publish_change(op: ActivityOp, activity: Any) -> Accepted:
        """An update or removal of a stored activity, through the pipeline like every write."""
        manager.driver.activity(ActivityEvent(op, activity, None, datetime.now(UTC)))
        _flush(manager)
        return Accepted(accepted=1, ids=[activity.id])

    @app.delete(
        "/v1/activities/{activity_id}",
        status_code=202,
        response_model=Accepted,
        responses=_problems(*AUTH, 404),
    )
    def remove(activity_id: str, caller: Annotated[Caller, Depends(current_caller)]) -> Accepted:
        """Remove an activity everywhere it was delivered."""
        return publish_change(ActivityOp.REMOVE, stored_activity(activity_id, caller))

    @app.patch(
        "/v1/activities/{activity_id}",
        status_code=202,
        response_model=Accepted,
        responses=_problems(*AUTH, 404),
    )
    def update(
        activity_id: str, body: ContextBody, caller: Annotated[Caller, Depends(current_caller)]
    ) -> Accepted:
        """Replace an activity's extra_context everywhere it was delivered."""
        activity = stored_activity(activity_id, caller)
        try:
            updated = activity.with_extra_context(body.extra_context)
        except StreamfeedError as error:
            raise Problem(422, "Invalid activity", str(error), "extra_context") from None
        return publish_change(ActivityOp.UPDATE, updated)

    def follow_event(body: FollowBody, op: FollowOp, caller: Caller) -> FollowEvent:
        caller.require(body.follower, "follow as the follower")
        try:
            return FollowEvent.from_record(
                {
                    "op": op.value,
                    "follower": body.follower,
                    "followed": body.followed,
                    "activity_copy_limit": body.activity_copy_limit,
                    "time": datetime.now(UTC),
                }
            )
        except StreamfeedError as error:
            raise Problem(422, "Invalid follow", str(error), getattr(error, "field", None)) from None

    @app.post("/v1/follows", status_code=202, response_model=Accepted, responses=_problems(*AUTH))
    def follow(body: FollowBody, caller: Annotated[Caller, Depends(current_caller)]) -> Accepted:
        """Follow: the followed user's history is copied into the follower's feeds."""
        manager.driver.follow(follow_event(body, FollowOp.FOLLOW, caller))
        _flush(manager)
        return Accepted(accepted=1)

    @app.delete("/v1/follows", status_code=202, response_model=Accepted, responses=_problems(*AUTH))
    def unfollow(body: FollowBody, caller: Annotated[Caller, Depends(current_caller)]) -> Accepted:
        """Unfollow: the followed user's activities leave the follower's feeds."""
        manager.driver.follow(follow_event(body, FollowOp.UNFOLLOW, caller))
        _flush(manager)
        return Accepted(accepted=1)

    @app.get("/v1/realtime/{user_id}", responses=_problems(*AUTH))
    async def realtime(
        user_id: str,
        request: Request,
        caller: Annotated[Caller, Depends(current_caller)],
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

        async def events() -> Any:
            after = last_event_id
            # Listening from before the client hears "connected": nothing after that is missed.
            await asyncio.to_thread(publisher.listen, user_id, realtime_wait + LISTEN_GRACE)
            yield ": connected\n\n"
            while not await request.is_disconnected():
                found = await asyncio.to_thread(publisher.read, user_id, after, realtime_wait)
                # Renewed at every turn; the grace beyond it keeps entries for a reconnect.
                await asyncio.to_thread(publisher.listen, user_id, realtime_wait + LISTEN_GRACE)
                if not found:
                    yield ": keep-alive\n\n"
                    continue
                for event_id, data in found:
                    after = event_id
                    kind = data.get("type", "counts")
                    yield f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    if demo_page:  # a page to try it with: sign in as anyone, so never on a real deployment
        page = (Path(__file__).parent / "static" / "index.html").read_text()

        @app.get("/", include_in_schema=False)
        def index() -> HTMLResponse:
            return HTMLResponse(page)

        @app.post("/v1/demo/token", include_in_schema=False)
        def demo_token(body: DemoSignIn) -> dict[str, str]:
            return {"token": app.state.auth.token_for(body.user_id)}

    return app


#: Seconds a user's new entries are still kept after their realtime stream was last renewed:
#: a client that reconnects within it (EventSource does, in about 3 s) misses nothing.
LISTEN_GRACE = 60.0


class DemoSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    user_id: str = Field(pattern=USER_ID)


def _flush(manager: Manager) -> None:
    """A Kafka driver acknowledges before the request answers: 202 means published."""
    flush = getattr(manager.driver, "flush", None)
    if flush is not None:
        flush()
