"""Reading feeds: a page by id cursor, the notification counts, and seen/read marks."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from streamfeed.api.deps import CallerDep, ManagerDep, accepted_write, feed_of
from streamfeed.api.models import AUTH, MAX_PAGE, Accepted, Counts, MarkBody, Page, problems
from streamfeed.api.problems import Problem
from streamfeed.api.views import Summaries, feed_page, ranked_feed_page
from streamfeed.domain.reactions import MAX_RECENT_REACTIONS
from streamfeed.feeds.aggregated import NotificationFeed
from streamfeed.feeds.flat import BaseFeed, Feed
from streamfeed.feeds.ranked import BadCursor, UnknownRanking

router = APIRouter()


@router.get("/v1/feeds/{feed}/{user_id}", response_model=Page, responses=problems(*AUTH, 404))
async def read_page(
    feed: str,
    user_id: str,
    manager: ManagerDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    id_lt: Annotated[str | None, Query(max_length=64)] = None,
    id_gt: Annotated[str | None, Query(max_length=64)] = None,
    reactions: Annotated[
        bool, Query(description="Each activity with its reaction counts and the user's own.")
    ] = False,
    recent_reactions: Annotated[
        int, Query(ge=0, le=MAX_RECENT_REACTIONS, description="And the newest N of each kind.")
    ] = 0,
    ranking: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
            description="Order by one of the feed class's rankings instead of newest first (flat feeds).",
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=400, description="With `ranking`: the previous page's `next`.")
    ] = None,
) -> Response:
    """A page of the feed, newest first; `next` is the id_lt of the next page. With `reactions`
    (or `recent_reactions`), each activity carries `reactions`: counts per kind, the user's own
    and the newest of each kind, read for the whole page at once."""
    # Run on the event loop: a page is one storage round trip, cheaper than the hop to a
    # worker thread and back that a sync endpoint costs (the API's hottest path).
    caller.require(user_id, "read the feeds")
    handle = feed_of(manager, feed, user_id)
    # Serialized here, the shape of Page by construction: FastAPI would validate the whole page
    # against the model again before serializing it (a tenth of a read).
    summaries = None
    if reactions or recent_reactions:
        summaries = functools.partial(manager.reaction_summaries, reader=user_id, recent=recent_reactions)
    if ranking is None:
        if cursor is not None:
            raise Problem(400, "Bad request", "cursor pages a ranked read: give `ranking` too", "cursor")
        page = feed_page(handle, feed, user_id, limit, id_lt, id_gt, summaries)
    else:
        page = _ranked(handle, feed, user_id, limit, ranking, cursor, id_lt or id_gt, summaries)
    return Response(to_json(page), media_type="application/json")


def _ranked(
    handle: BaseFeed,
    feed: str,
    user_id: str,
    limit: int,
    ranking: str,
    cursor: str | None,
    id_bound: str | None,
    summaries: Summaries | None,
) -> dict[str, Any]:
    if id_bound is not None:
        raise Problem(400, "Bad request", "a ranked page is paged by `cursor`, not id_lt/id_gt", "ranking")
    if not isinstance(handle, Feed):
        raise Problem(
            400, "Bad request", f"feed {feed!r} is not a flat feed: only flat feeds rank", "ranking"
        )
    try:
        return ranked_feed_page(handle, feed, user_id, limit, ranking, cursor, summaries)
    except UnknownRanking as unknown:
        raise Problem(400, "Unknown ranking", str(unknown), "ranking") from None
    except BadCursor as bad:
        raise Problem(400, "Bad cursor", str(bad), "cursor") from None


@router.get("/v1/feeds/{feed}/{user_id}/counts", response_model=Counts, responses=problems(*AUTH, 404))
def read_counts(feed: str, user_id: str, manager: ManagerDep, caller: CallerDep) -> Counts:
    """Unseen and unread groups of a notification feed: one lookup."""
    caller.require(user_id, "read the counts")
    handle = feed_of(manager, feed, user_id)
    if not isinstance(handle, NotificationFeed):
        raise Problem(404, "Not found", f"feed {feed!r} keeps no seen/read counts", "feed")
    return Counts(unseen=handle.count_unseen(), unread=handle.count_unread())


@router.post("/v1/feeds/{feed}/{user_id}/mark", **accepted_write(404))
def mark(feed: str, user_id: str, body: MarkBody, manager: ManagerDep, caller: CallerDep) -> Accepted:
    """Mark groups (or all) seen and/or read; reading implies seeing. Goes through the pipeline."""
    caller.require(user_id, "mark the feeds")
    handle = feed_of(manager, feed, user_id)
    if not isinstance(handle, NotificationFeed):
        raise Problem(404, "Not found", f"feed {feed!r} has no seen/read marks", "feed")
    seen = body.seen or body.read
    if body.groups is None:
        handle.mark_all(seen, body.read, displayed=body.displayed)
    else:
        handle.mark_activities(body.groups, seen, body.read, displayed=body.displayed)
    return Accepted(accepted=1)
