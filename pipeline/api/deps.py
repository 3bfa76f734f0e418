"""What every route gets from the app it runs in: the Manager, the caller, a user's feed.

The Manager lives on app.state (set once by create_app), so routes are
plain module-level functions over FastAPI dependencies instead of closures
over create_app's arguments. Dependencies are async: they never wait, and a
sync one would cost each request a hop to the thread pool and back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from streamfeed.api.auth import Caller, current_caller, stream_caller
from streamfeed.api.models import AUTH, Accepted, problems
from streamfeed.api.problems import Problem
from streamfeed.app.manager import Manager
from streamfeed.domain.activity import check_user_id
from streamfeed.domain.exceptions import ValidationError


async def get_manager(request: Request) -> Manager:
    manager: Manager = request.app.state.manager
    return manager


ManagerDep = Annotated[Manager, Depends(get_manager)]
CallerDep = Annotated[Caller, Depends(current_caller)]
StreamCallerDep = Annotated[Caller, Depends(stream_caller)]


def writable(request: Request) -> None:
    """A write route's guard: inline, refuse writes into storage that lost its data (a 503).
    Sync on purpose: write routes run in the thread pool, and so does the marker's read."""
    guard = request.app.state.write_guard
    if guard is not None:
        guard.require_writable()


#: On every route that writes: `dependencies=WRITES`.
WRITES = [Depends(writable)]


def accepted_write(*statuses: int) -> dict[str, Any]:
    """The route options of a write the pipeline applies later: 202 with an Accepted body, the
    auth problems, `statuses` and 503 (storage lost, or Kafka away), and the write guard.
    `@router.post(path, **accepted_write(404))`."""
    return {
        "status_code": 202,
        "response_model": Accepted,
        "responses": problems(*AUTH, *statuses, 503),
        "dependencies": WRITES,
    }


def feed_of(manager: Manager, name: str, user_id: str) -> Any:
    """The user's feed by name; a bad user id is a 422 and an unknown feed a 404."""
    try:
        check_user_id("user_id", user_id)
        return manager.get_feed(name, user_id)
    except ValidationError as error:
        raise Problem(422, "Invalid request", str(error), "user_id") from None
    except ValueError as error:
        raise Problem(404, "Not found", str(error), "feed") from None


def flush(manager: Manager) -> None:
    """A Kafka driver acknowledges before the request answers: 202 means published."""
    flush_driver = getattr(manager.driver, "flush", None)
    if flush_driver is not None:
        flush_driver()
