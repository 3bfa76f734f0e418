"""`streamfeed serve`: read feeds, publish events, follow, mark seen, over HTTP.

Every write goes through the Manager's driver, like every other write:
published to Kafka (workers apply it) or, inline, applied at once. Every
input is checked with the rules of the producer and the worker (the JSON
models of streamfeed.domain.json_events, user ids, the app's feeds and verbs), and
every error is an RFC 9457 problem with the field at fault. This module
assembles the app; the routes are in streamfeed.api.routes, one router per
resource.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException

from streamfeed.api.auth import Authenticator, CallerLimits
from streamfeed.api.body_limit import BodyLimit
from streamfeed.api.gc_steward import steward, sweep
from streamfeed.api.hardening import SecurityHeaders, redact_tokens_in_logs
from streamfeed.api.metrics import ApiMetrics, MeasureRequests
from streamfeed.api.problems import Problem, handle_problem, problem_response
from streamfeed.api.rate_limit import Bucket, RateLimiter
from streamfeed.api.routes import activities, demo, feeds, follows, health, reactions, realtime
from streamfeed.api.write_guard import WriteGuard
from streamfeed.app.inline import InlineDriver
from streamfeed.app.manager import Manager


def create_app(
    manager: Manager,
    jwt_key: str | None = None,
    service_key: str | None = None,
    cors_origins: list[str] | None = None,
    max_body_bytes: int = 1_048_576,
    realtime_wait: float = 15.0,
    demo_page: bool = False,
    realtime_per_user: int = 10,
    realtime_max: int = 10_000,
    docs: bool = True,
    jwt_issuer: str | None = None,
    jwt_audience: str | None = None,
    token_max_seconds: int = 86_400,
    rate_limits: CallerLimits | None = None,
    freeze_gc: bool = False,
    gc_freeze_every: float = 5.0,
    gc_sweep_every: float = 3600.0,
) -> FastAPI:
    """The API over a manager: its feeds, its verbs, its driver (inline or Kafka).

    realtime_wait: seconds a realtime stream waits for an event before it
    sends a keep-alive line (and notices a client that left). docs: serve
    /docs and /openapi.json (off in production if the API is not public).
    freeze_gc: a server process (`streamfeed serve`) keeps long-lived objects
    out of the garbage collector's reach (streamfeed.api.gc_steward), freezing
    every gc_freeze_every seconds and sweeping every gc_sweep_every.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded so far (modules, the app, connections) lives as long as the process,
        # and open streams live long: kept out of the collector, a collection walks only what
        # was made since (with 1,000 open streams a full one took 190-220 ms, the read tail).
        stewarding = None
        if freeze_gc:
            sweep()
            stewarding = asyncio.create_task(steward(gc_freeze_every, gc_sweep_every))
        # What the storage vouched it was at startup: /readyz says when that goes (a Redis
        # restarted empty). Memory storage has nothing to lose.
        if manager.backend.name != "memory":
            if isinstance(manager.driver, InlineDriver):  # this process writes: guard its writes
                app.state.write_guard = WriteGuard(lambda: manager.backend.marker)
                with contextlib.suppress(Exception):  # unreachable now: the first write claims
                    await asyncio.to_thread(app.state.write_guard.open)
            with contextlib.suppress(Exception):  # unreachable now: /readyz says so until it answers
                app.state.storage_identity = await asyncio.to_thread(lambda: manager.backend.marker.read())
        renewals = asyncio.create_task(
            realtime.renew_listeners(app.state.stream_limits, manager.backend.publisher, realtime_wait)
        )
        yield
        renewals.cancel()
        if stewarding is not None:
            stewarding.cancel()
        await manager.backend.publisher.close_async()

    app = FastAPI(
        title="streamfeed",
        version="1",
        description="Feeds of a streamfeed app: read a page, publish, follow, mark seen.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.manager = manager
    app.state.storage_identity = None
    app.state.write_guard = None
    app.state.auth = Authenticator(
        jwt_key, service_key, issuer=jwt_issuer, audience=jwt_audience, max_seconds=token_max_seconds
    )
    app.state.realtime_wait = realtime_wait
    app.state.stream_limits = realtime.StreamLimits(realtime_per_user, realtime_max)
    app.state.rate_limits = rate_limits or CallerLimits(
        RateLimiter(), Bucket(50.0, 200), Bucket(2_000.0, 5_000), Bucket(2.0, 20)
    )
    app.add_exception_handler(Problem, handle_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Service-Key"],
        )
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.state.metrics = ApiMetrics(lambda: app.state.stream_limits.open_total)
    app.add_middleware(MeasureRequests, metrics=app.state.metrics)
    redact_tokens_in_logs()
    for router in (
        feeds.router,
        activities.router,
        reactions.router,
        follows.router,
        realtime.router,
        health.router,
    ):
        app.include_router(router)
    if demo_page:  # a page to try it with: sign in as anyone, so never on a real deployment
        app.include_router(demo.router)
    return app


async def _http_error(request: Request, error: StarletteHTTPException) -> Any:
    title = "Bad request" if error.status_code == 400 else "Error"
    return problem_response(error.status_code, title, str(error.detail))


async def _invalid_request(request: Request, error: RequestValidationError) -> Any:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
    return problem_response(422, "Invalid request", f"{field}: {first['msg']}", field or None)
