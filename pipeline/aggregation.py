"""Pure planning of aggregated-feed writes: existing groups + change -> what to store.

These functions read nothing and write nothing, so the Faust materializer
and inline mode run exactly the same merge, and tests need no storage. Each
returns an AggregatedWrite (groups to upsert, groups to delete, counts).

Idempotency: adding an activity a group already holds changes nothing;
removing one it does not hold changes nothing. A full group ignores an
activity older than all it keeps, because that is either a replay of one
it already pushed out (and counted) or too old to show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.activity import Activity
from pipeline.aggregated_activity import AggregatedActivity
from pipeline.aggregators import BaseAggregator


@dataclass(frozen=True)
class AggregatedWrite:
    """What storage must change in one aggregated feed, applied together."""

    upserts: Sequence[AggregatedActivity] = ()
    deletes: Sequence[str] = ()
    counts: tuple[int, int] | None = None  # (unseen, unread), for notification feeds


def _absorb(group: AggregatedActivity, activity: Activity) -> bool:
    """Append activity to group if it belongs there; True if the group changed."""
    if group.contains(activity):
        return False
    full = len(group.activities) >= group.max_aggregated_activities_length
    if full and group.activities and activity.id < group.activities[0].id:
        return False
    group.append(activity)
    return True


def merge_activities(
    aggregator: BaseAggregator,
    existing: Sequence[AggregatedActivity],
    activities: Iterable[Activity],
) -> tuple[list[AggregatedActivity], list[tuple[AggregatedActivity, AggregatedActivity]], list]:
    """(new groups, [(old, changed)], deleted) of adding activities to existing groups."""
    current = {g.group: g for g in existing}
    new: dict[str, AggregatedActivity] = {}
    changed: dict[str, tuple[AggregatedActivity, AggregatedActivity]] = {}
    for activity in sorted(activities, key=lambda a: a.id):
        key = aggregator.get_group(activity)
        if key in new:
            _absorb(new[key], activity)
        elif key in changed:
            _absorb(changed[key][1], activity)
        elif key in current:
            updated = current[key].copy()
            if _absorb(updated, activity):
                changed[key] = (current[key], updated)
        else:
            group = aggregator.aggregated_activity_class(key)
            group.append(activity)
            new[key] = group
    return list(new.values()), list(changed.values()), []


def notification_counts(groups: Iterable[AggregatedActivity]) -> tuple[int, int]:
    """(unseen, unread): groups not seen, groups not read, since their last update."""
    unseen = unread = 0
    for group in groups:
        unseen += not group.is_seen()
        unread += not group.is_read()
    return unseen, unread


def group_rank(group: AggregatedActivity) -> str:
    """A group's place in its feed: its newest activity's id, so groups order like flat feeds."""
    return group.last_activity.id if group.activities else ""


@dataclass(frozen=True)
class AggregatedView:
    """The part of an aggregated feed a write needs, so a write never reads the whole feed.

    ranks covers every group (cheap: names and ranks only); groups holds the
    groups loaded in full: at least every group the write touches and every
    group max_length could push out. counts are the stored (unseen, unread),
    which a write adjusts by the difference it makes instead of recounting.
    """

    groups: Mapping[str, AggregatedActivity]
    ranks: Sequence[tuple[str, str]]
    counts: tuple[int, int] = (0, 0)

    @classmethod
    def of(
        cls, groups: Iterable[AggregatedActivity], counts: tuple[int, int] | None = None
    ) -> AggregatedView:
        """A view of a whole feed given as its groups; counts computed when not given."""
        groups = list(groups)
        ranked = sorted(((group_rank(g), g.group) for g in groups), reverse=True)
        return cls({g.group: g for g in groups}, ranked, counts or notification_counts(groups))

    def tail_start(self, max_length: int | None, touched: int) -> int | None:
        """Index in ranks from which groups may be pushed out by a write touching `touched` groups."""
        if max_length is None:
            return None
        return max(0, max_length - touched)


def _finish(
    view: AggregatedView,
    upserts: dict[str, AggregatedActivity],
    deletes: set[str],
    max_length: int | None,
    with_counts: bool,
) -> AggregatedWrite:
    """Apply the feed's max_length and adjust the counts by what the write changes."""
    existing = dict((name, rank) for rank, name in view.ranks)
    ranks = {name: rank for name, rank in existing.items() if name not in deletes}
    ranks.update((name, group_rank(group)) for name, group in upserts.items())
    if max_length is not None and len(ranks) > max_length:
        ordered = sorted(ranks, key=lambda name: (ranks[name], name), reverse=True)
        for name in ordered[max_length:]:
            upserts.pop(name, None)
            if name in existing:
                deletes.add(name)
    counts = None
    if with_counts:
        unseen, unread = view.counts
        for name in (set(upserts) | deletes) & set(existing):
            old = view.groups[name]
            unseen -= not old.is_seen()
            unread -= not old.is_read()
        for group in upserts.values():
            unseen += not group.is_seen()
            unread += not group.is_read()
        counts = (unseen, unread)
    return AggregatedWrite(list(upserts.values()), sorted(deletes), counts)


def plan_add(
    aggregator: BaseAggregator,
    view: AggregatedView,
    activities: Iterable[Activity],
    max_length: int | None,
    with_counts: bool = False,
) -> AggregatedWrite:
    new, changed, _ = merge_activities(aggregator, list(view.groups.values()), activities)
    upserts = {g.group: g for g in new}
    upserts.update({after.group: after for _, after in changed})
    return _finish(view, upserts, set(), max_length, with_counts)


def plan_remove(
    view: AggregatedView, activity_ids: Iterable[str], with_counts: bool = False
) -> AggregatedWrite:
    """Take activities out of whichever loaded groups hold them; drop groups left empty."""
    wanted = set(activity_ids)
    upserts: dict[str, AggregatedActivity] = {}
    deletes: set[str] = set()
    for group in view.groups.values():
        held = [a for a in group.activities if a.id in wanted]
        if not held:
            continue
        updated = group.copy()
        updated.remove_many(held)
        if updated.activities:
            upserts[group.group] = updated
        else:
            deletes.add(group.group)
    return _finish(view, upserts, deletes, None, with_counts)


def plan_mark(
    view: AggregatedView, groups: Iterable[str] | None, seen: bool, read: bool, when: datetime
) -> AggregatedWrite:
    """Mark the named groups (or all with None) seen and/or read; reading implies seeing."""
    names = None if groups is None else set(groups)
    upserts: dict[str, AggregatedActivity] = {}
    for group in view.groups.values():
        if names is not None and group.group not in names:
            continue
        updated = group.copy()
        if seen or read:
            updated.update_seen_at(when)
        if read:
            updated.update_read_at(when)
        upserts[group.group] = updated
    return _finish(view, upserts, set(), None, True)


def plan_update(
    view: AggregatedView, activities: Iterable[Activity], with_counts: bool = False
) -> AggregatedWrite:
    """Replace held activities by their updated versions (same ids); groups keep their place."""
    by_id = {a.id: a for a in activities}
    upserts: dict[str, AggregatedActivity] = {}
    for group in view.groups.values():
        if any(a.id in by_id for a in group.activities):
            updated = group.copy()
            updated.activities = [by_id.get(a.id, a) for a in updated.activities]
            upserts[group.group] = updated
    return _finish(view, upserts, set(), None, with_counts)
