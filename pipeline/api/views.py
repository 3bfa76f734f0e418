"""Feeds as JSON: activities in the shape producers publish them (plus their id), groups with
their counts and seen/read state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.reactions import ReactionState, ReactionSummary
from streamfeed.feeds.aggregated import AggregatedFeed
from streamfeed.feeds.flat import BaseFeed, Feed


def activity_json(activity: Activity, reader: str) -> dict[str, Any]:
    """The activity as `reader`'s feed shows it: its author sees every `to` target, anyone else
    only the ones naming them (a recipient never learns who else was notified)."""
    to = (
        activity.to
        if reader == activity.actor_id
        else [t for t in activity.to if t.partition(":")[2] == reader]
    )
    return {
        "id": activity.id,
        "actor": activity.actor_id,
        "verb": activity.verb.infinitive,
        "object": activity.object_id,
        "target": activity.target_id,
        "time": activity.time.isoformat(),
        "extra_context": dict(activity.extra_context),
        "foreign_id": activity.foreign_id,
        "to": list(to),
    }


def group_json(group: AggregatedActivity, reader: str) -> dict[str, Any]:
    return {
        "group": group.group,
        "activity_count": group.activity_count,
        "actor_count": group.actor_count,
        "actor_ids": group.actor_ids,
        "verb": group.verb.infinitive,
        "created_at": _iso(group.created_at),
        "updated_at": _iso(group.updated_at),
        "is_seen": group.is_seen(),
        "is_read": group.is_read(),
        "activities": [activity_json(a, reader) for a in group.last_activities],
    }


def reaction_json(state: ReactionState) -> dict[str, Any]:
    """A live reaction as the API shows it (ReactionOut)."""
    identity = state.identity
    assert identity is not None  # only live states are shown
    return {
        "id": state.reaction_id,
        "kind": identity.kind,
        "user_id": identity.user_id,
        "activity_id": identity.activity_id,
        "parent_id": identity.parent_id,
        "time": identity.time.isoformat(),
        "data": dict(state.data),
    }


def summary_json(summary: ReactionSummary) -> dict[str, Any]:
    return {
        "counts": dict(summary.counts),
        "own": [reaction_json(s) for s in summary.own],
        "recent": {kind: [reaction_json(s) for s in states] for kind, states in summary.recent.items()},
    }


#: Reads the reaction summaries of a page's activities, in one go.
Summaries = Callable[[Sequence[str]], list[ReactionSummary]]


def with_reactions(results: list[dict[str, Any]], summaries: Summaries) -> None:
    """Give every activity of a page (a flat feed's, or each group's members) its `reactions`,
    read for the whole page at once."""
    shown = [activity for item in results for activity in item.get("activities", [item])]
    for activity, summary in zip(shown, summaries([a["id"] for a in shown]), strict=True):
        activity["reactions"] = summary_json(summary)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def feed_page(
    handle: BaseFeed,
    feed: str,
    user_id: str,
    limit: int,
    id_lt: str | None = None,
    id_gt: str | None = None,
    summaries: Summaries | None = None,
) -> dict[str, Any]:
    """A page of a feed, newest first, in the API's Page shape: `next` is the id_lt of the next
    page (None on the last). The HTTP API and `streamfeed feed show --json` both answer this.
    With summaries, each activity carries its reactions."""
    query = handle.filter(**{k: v for k, v in (("activity_id__lt", id_lt), ("activity_id__gt", id_gt)) if v})
    items = query[: limit + 1]
    more, items = len(items) > limit, items[:limit]
    if isinstance(handle, AggregatedFeed):
        results = [group_json(g, user_id) for g in items]
        last = items[-1].last_activity.id if items else None
    else:
        results = [activity_json(a, user_id) for a in items]
        last = items[-1].id if items else None
    if summaries is not None:
        with_reactions(results, summaries)
    return {"feed": feed, "user_id": user_id, "results": results, "next": last if more else None}


def ranked_feed_page(
    handle: Feed,
    feed: str,
    user_id: str,
    limit: int,
    ranking: str,
    cursor: str | None = None,
    summaries: Summaries | None = None,
) -> dict[str, Any]:
    """A page of a flat feed in a ranking's order, in the Page shape: `next` is the cursor of the
    next page (None on the last), each activity with its `score`."""
    page = handle.ranked(ranking, limit, cursor, reader=user_id)
    results = []
    for activity, score in zip(page.activities, page.scores, strict=True):
        shown = activity_json(activity, user_id)
        shown["score"] = score
        results.append(shown)
    if summaries is not None:
        with_reactions(results, summaries)
    following = None if page.next is None else page.next.encode()
    return {"feed": feed, "user_id": user_id, "results": results, "next": following, "ranking": ranking}
