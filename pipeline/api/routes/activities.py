"""Publishing activities, and updating or removing one that is stored: every write through the driver."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from streamfeed.api.auth import Caller
from streamfeed.api.deps import WRITES, CallerDep, ManagerDep, accepted_write, flush
from streamfeed.api.models import AUTH, MAX_BATCH, Accepted, ActivityBody, ContextBody, problems
from streamfeed.api.problems import Problem
from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.json_events import event_from_line
from streamfeed.domain.targets import parse_targets

router = APIRouter()


@router.post("/v1/activities", **accepted_write())
def publish(body: ActivityBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
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
            assert isinstance(event, ActivityEvent)  # an ActivityLine makes an ActivityEvent
            parse_targets(manager, [event.activity])
        except StreamfeedError as error:
            field = getattr(error, "field", None)
            raise Problem(422, "Invalid activity", f"{where}{error}", field) from None
        if not caller.service and event.activity.to:
            allowed = set(manager.allow_targets(event.activity))
            refused = [entry for entry in event.activity.to if entry not in allowed]
            if refused:
                shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
                raise Problem(403, "Forbidden", f"{where}a user token may not target {shown}", "to")
        events.append(event)
    for event in events:
        manager.driver.activity(event)
    flush(manager)
    return Accepted(accepted=len(events), ids=[e.activity.id for e in events])


def stored_activity(manager: Manager, activity_id: str, caller: Caller) -> Activity:
    state = manager.backend.activities.get_states([activity_id], manager.activity_class).get(activity_id)
    if state is None or state.removed:
        raise Problem(404, "Not found", f"no live activity {activity_id!r}", "id")
    caller.require(state.activity.actor_id, "change the activities")
    return state.activity


def publish_change(manager: Manager, op: ActivityOp, activity: Activity) -> Accepted:
    """An update or removal of a stored activity, through the pipeline like every write."""
    manager.driver.activity(ActivityEvent(op, activity, None, datetime.now(UTC)))
    flush(manager)
    return Accepted(accepted=1, ids=[activity.id])


@router.delete("/v1/activities/{activity_id}", **accepted_write(404))
def remove(activity_id: str, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Remove an activity everywhere it was delivered."""
    return publish_change(manager, ActivityOp.REMOVE, stored_activity(manager, activity_id, caller))


@router.patch(
    "/v1/activities/{activity_id}",
    status_code=202,
    response_model=Accepted,
    responses=problems(*AUTH, 404, 503),
    dependencies=WRITES,
)
def update(activity_id: str, body: ContextBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Replace an activity's extra_context everywhere it was delivered."""
    activity = stored_activity(manager, activity_id, caller)
    try:
        updated = activity.with_extra_context(body.extra_context)
    except StreamfeedError as error:
        raise Problem(422, "Invalid activity", str(error), "extra_context") from None
    return publish_change(manager, ActivityOp.UPDATE, updated)
