"""Following and unfollowing: the follow graph's events, through the driver like every write."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from streamfeed.api.auth import Caller
from streamfeed.api.deps import CallerDep, ManagerDep, accepted_write, flush
from streamfeed.api.models import Accepted, FollowBody
from streamfeed.api.problems import Problem
from streamfeed.domain.events import FollowEvent, FollowOp
from streamfeed.domain.exceptions import StreamfeedError

router = APIRouter()


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


@router.post("/v1/follows", **accepted_write())
def follow(body: FollowBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Follow: the followed user's history is copied into the follower's feeds."""
    manager.driver.follow(follow_event(body, FollowOp.FOLLOW, caller))
    flush(manager)
    return Accepted(accepted=1)


@router.delete("/v1/follows", **accepted_write())
def unfollow(body: FollowBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Unfollow: the followed user's activities leave the follower's feeds."""
    manager.driver.follow(follow_event(body, FollowOp.UNFOLLOW, caller))
    flush(manager)
    return Accepted(accepted=1)
