"""Following and unfollowing (the follow graph's events, through the driver like every write),
and the graph as data: followers and following paged by id, counts, and checks of many pairs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query

from streamfeed.api.auth import Caller
from streamfeed.api.deps import CallerDep, ManagerDep, accepted_write, flush
from streamfeed.api.models import (
    AUTH,
    MAX_PAGE,
    USER_ID,
    Accepted,
    FollowBatchBody,
    FollowBody,
    FollowCheck,
    FollowCheckBody,
    FollowCounts,
    UserList,
    problems,
)
from streamfeed.api.problems import Problem
from streamfeed.domain.events import FollowEvent, FollowOp
from streamfeed.domain.exceptions import StreamfeedError

router = APIRouter()
T = TypeVar("T")


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


def _batch(body: FollowBatchBody, caller: Caller) -> list[tuple[str, str]]:
    pairs = [(pair.follower, pair.followed) for pair in body.pairs]
    for follower, _ in pairs:
        caller.require(follower, "follow as the follower")
    return pairs


@router.post("/v1/follows/batch", **accepted_write())
def follow_batch(body: FollowBatchBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Many follows in one call (a user token: only its own): all checked, then each published."""
    _checked_pairs(manager.follow_pairs, _batch(body, caller), body.activity_copy_limit)
    flush(manager)
    return Accepted(accepted=len(body.pairs))


@router.delete("/v1/follows/batch", **accepted_write())
def unfollow_batch(body: FollowBatchBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Many unfollows in one call, as the batch follow."""
    _checked_pairs(manager.unfollow_pairs, _batch(body, caller))
    flush(manager)
    return Accepted(accepted=len(body.pairs))


def _checked_pairs(publish: Callable[..., int], *args: Any) -> None:
    """Publish the pairs; a pair the events refuse (someone following themselves) refuses the
    whole call with a 422 naming it, and nothing is published."""
    try:
        publish(*args)
    except StreamfeedError as error:
        raise Problem(422, "Invalid follow", str(error), getattr(error, "field", None)) from None


@router.post("/v1/follows/check", response_model=FollowCheck, responses=problems(*AUTH))
async def check_follows(body: FollowCheckBody, manager: ManagerDep, caller: CallerDep) -> FollowCheck:
    """Whether each follower follows each followed now: one lookup per followed user."""
    return FollowCheck(results=manager.is_following([(p.follower, p.followed) for p in body.pairs]))


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
After = Annotated[str | None, Query(pattern=USER_ID, description="The last user id of the page before.")]


@router.get("/v1/users/{user_id}/followers", response_model=UserList, responses=problems(*AUTH))
async def followers(
    user_id: str, manager: ManagerDep, caller: CallerDep, limit: Limit = 25, after: After = None
) -> UserList:
    """Who follows the user, in user id order; `next` is the `after` of the next page."""
    return _user_list(manager.followers, user_id, limit, after)


@router.get("/v1/users/{user_id}/following", response_model=UserList, responses=problems(*AUTH))
async def following(
    user_id: str, manager: ManagerDep, caller: CallerDep, limit: Limit = 25, after: After = None
) -> UserList:
    """Whom the user follows, in user id order, paged as followers."""
    return _user_list(manager.following, user_id, limit, after)


@router.get("/v1/users/{user_id}/follow-counts", response_model=FollowCounts, responses=problems(*AUTH))
async def follow_counts(user_id: str, manager: ManagerDep, caller: CallerDep) -> FollowCounts:
    """How many follow the user, and how many the user follows."""
    count_followers, count_following = _checked(manager.follow_counts, user_id)
    return FollowCounts(user_id=user_id, followers=count_followers, following=count_following)


def _user_list(read: Callable[..., list[str]], user_id: str, limit: int, after: str | None) -> UserList:
    """A page of users, read one longer to know whether another page follows."""
    found = _checked(read, user_id, limit + 1, after)
    more = len(found) > limit
    return UserList(user_id=user_id, results=found[:limit], next=found[limit - 1] if more else None)


def _checked(read: Callable[..., T], user_id: str, *args: Any) -> T:
    """The read's answer; a user id storage refuses is a 422 naming it."""
    try:
        return read(user_id, *args)
    except StreamfeedError as error:
        raise Problem(422, "Invalid request", str(error), "user_id") from None
