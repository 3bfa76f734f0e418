"""Feeds as plain data, to compare two runs of the same world exactly."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streamfeed.app.manager import Manager
from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed


def snapshot(manager: Manager, users: Iterable[str]) -> dict[tuple[str, str], Any]:
    """Every feed of every user: ids for flat feeds, group contents and counts for aggregated ones."""
    result: dict[tuple[str, str], Any] = {}
    for user in users:
        for name in manager.all_feed_classes():
            feed = manager.get_feed(name, user)
            if isinstance(feed, AggregatedFeed):
                groups = [
                    (
                        g.group,
                        [a.id for a in g.activities],
                        g.minimized_activities,
                        g.is_seen(),
                        g.is_read(),
                    )
                    for g in feed[:]
                ]
                counts = (
                    (feed.count_unseen(), feed.count_unread()) if isinstance(feed, NotificationFeed) else None
                )
                result[(name, user)] = (groups, counts)
            else:
                result[(name, user)] = [a.id for a in feed[:]]
    return result


def reaction_snapshot(manager: Manager, activity_ids: Iterable[str]) -> dict[str, Any]:
    """Every listed activity's reactions: counts per kind, and each kind's live reaction ids
    with their data, newest first (read a page of 100 at a time)."""
    result: dict[str, Any] = {}
    ids = sorted(set(activity_ids))
    for activity_id, counts in zip(ids, manager.reaction_counts(ids), strict=True):
        lists: dict[str, list[tuple[str, Any]]] = {}
        for kind in sorted(counts):
            shown, before = [], None
            while page := manager.reactions(activity_id, kind, limit=100, before=before):
                shown += [(state.reaction_id, state.data) for state in page]
                before = page[-1]
            lists[kind] = shown
        result[activity_id] = (counts, lists)
    return result


def differences(expected: dict[Any, Any], actual: dict[Any, Any], limit: int = 10) -> list[str]:
    """Human-readable differences between two snapshots, at most limit of them."""
    found = []
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            found.append(
                f"{key[0]} feed of {key[1]}: expected {expected.get(key)!r}, got {actual.get(key)!r}"
            )
            if len(found) >= limit:
                break
    return found
