"""Reactions over HTTP: add, edit and remove likes, comments and replies (through the driver,
like every write), and read them: newest first by kind, counts for a page of activities, and
a user's own ("did I like this")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from streamfeed.api.auth import Caller
from streamfeed.api.deps import CallerDep, ManagerDep, accepted_write, flush
from streamfeed.api.models import (
    ACTIVITY_ID,
    AUTH,
    KIND,
    MAX_PAGE,
    REACTION_CURSOR,
    REACTION_ID,
    Accepted,
    OwnReactions,
    ReactionBody,
    ReactionCounts,
    ReactionDataBody,
    ReactionOut,
    ReactionPage,
    problems,
)
from streamfeed.api.problems import Problem
from streamfeed.api.views import reaction_json
from streamfeed.app.manager import Manager
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.reactions import ReactionState
from streamfeed.storage.reactions import cursor_of

router = APIRouter()

#: The most activities one counts or own-reactions read may name: a page of a feed.
MAX_ACTIVITIES = MAX_PAGE
ActivityIds = Annotated[
    list[Annotated[str, Query(pattern=ACTIVITY_ID)]],
    Query(min_length=1, max_length=MAX_ACTIVITIES, description="Repeat for each activity of a page."),
]
ActivityId = Annotated[str, Path(pattern=ACTIVITY_ID, description="The activity's id (30 hex digits).")]
ReactionId = Annotated[str, Path(pattern=REACTION_ID)]
ParentId = Annotated[str | None, Query(pattern=REACTION_ID, description="Reactions on this reaction.")]


def live_activity(manager: Manager, activity_id: str) -> None:
    """404 unless the activity is stored and live: a reaction to a typo would count forever."""
    state = manager.backend.activities.get_states([activity_id], manager.activity_class).get(activity_id)
    if state is None or state.removed:
        raise Problem(404, "Not found", f"no live activity {activity_id!r}", "activity_id")


def own_reaction(manager: Manager, activity_id: str, reaction_id: str, caller: Caller) -> ReactionState:
    """The live reaction, if the caller may change it (its user, or a service)."""
    state = manager.reaction(activity_id, reaction_id)
    if state is None or not state.live or state.identity is None:
        raise Problem(404, "Not found", f"no live reaction {reaction_id!r} on {activity_id!r}", "reaction_id")
    caller.require(state.identity.user_id, "change the reactions")
    return state


def reaction_out(state: ReactionState) -> ReactionOut:
    return ReactionOut.model_validate(reaction_json(state))


@router.post("/v1/activities/{activity_id}/reactions", **accepted_write(404))
def add(activity_id: ActivityId, body: ReactionBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """React to a live activity (or, with parent_id, to one of its reactions); `ids` holds the
    reaction's id."""
    caller.require(body.user_id, "react as the user")
    if body.target_feeds and not caller.service:
        raise Problem(403, "Forbidden", "a user token may not set target_feeds", "target_feeds")
    live_activity(manager, activity_id)
    try:
        reaction_id = manager.add_reaction(
            body.kind, body.user_id, activity_id, body.data, body.parent_id, body.target_feeds, body.id
        )
    except StreamfeedError as error:
        raise Problem(422, "Invalid reaction", str(error), getattr(error, "field", None)) from None
    flush(manager)
    return Accepted(accepted=1, ids=[reaction_id])


@router.patch("/v1/activities/{activity_id}/reactions/{reaction_id}", **accepted_write(404))
def edit(
    activity_id: ActivityId,
    reaction_id: ReactionId,
    body: ReactionDataBody,
    manager: ManagerDep,
    caller: CallerDep,
) -> Accepted:
    """Replace a reaction's data (a comment's text); the newest edit wins."""
    own_reaction(manager, activity_id, reaction_id, caller)
    try:
        manager.update_reaction(reaction_id, activity_id, body.data)
    except StreamfeedError as error:
        raise Problem(422, "Invalid reaction", str(error), getattr(error, "field", None)) from None
    flush(manager)
    return Accepted(accepted=1, ids=[reaction_id])


@router.delete("/v1/activities/{activity_id}/reactions/{reaction_id}", **accepted_write(404))
def remove(
    activity_id: ActivityId, reaction_id: ReactionId, manager: ManagerDep, caller: CallerDep
) -> Accepted:
    """Remove a reaction for good."""
    own_reaction(manager, activity_id, reaction_id, caller)
    manager.remove_reaction(reaction_id, activity_id)
    flush(manager)
    return Accepted(accepted=1, ids=[reaction_id])


@router.get("/v1/activities/{activity_id}/reactions", response_model=ReactionPage, responses=problems(*AUTH))
def newest(
    activity_id: ActivityId,
    manager: ManagerDep,
    caller: CallerDep,
    kind: Annotated[str, Query(pattern=KIND)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    before: Annotated[
        str | None, Query(pattern=REACTION_CURSOR, description="`next` of the page before.")
    ] = None,
    parent_id: ParentId = None,
) -> ReactionPage:
    """The live reactions of a kind, newest first, paged by `before`."""
    cursor = None
    if before is not None:
        at, _, last = before.partition(".")
        cursor = (int(at), last)
    found = manager.reactions(activity_id, kind, limit + 1, cursor, parent_id)
    page = found[:limit]
    more = len(found) > limit
    next_cursor = "{}.{}".format(*cursor_of(page[-1])) if more else None
    return ReactionPage(
        activity_id=activity_id,
        kind=kind,
        parent_id=parent_id,
        results=[reaction_out(state) for state in page],
        next=next_cursor,
    )


@router.get("/v1/reaction-counts", response_model=ReactionCounts, responses=problems(*AUTH))
def counts(
    manager: ManagerDep, caller: CallerDep, activity_id: ActivityIds, parent_id: ParentId = None
) -> ReactionCounts:
    """Live reactions per kind on each activity of a page (or on their reaction parent_id)."""
    return ReactionCounts(activity_ids=activity_id, results=manager.reaction_counts(activity_id, parent_id))


@router.get("/v1/users/{user_id}/reactions", response_model=OwnReactions, responses=problems(*AUTH))
def own(
    user_id: str,
    manager: ManagerDep,
    caller: CallerDep,
    activity_id: ActivityIds,
) -> OwnReactions:
    """The user's own live reactions on each activity of a page: "did I like this"."""
    caller.require(user_id, "read the reactions")
    try:
        found = manager.own_reactions(user_id, activity_id)
    except StreamfeedError as error:
        raise Problem(422, "Invalid request", str(error), "user_id") from None
    return OwnReactions(
        user_id=user_id,
        activity_ids=activity_id,
        results=[[reaction_out(state) for state in states] for states in found],
    )
