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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.activity import Activity
from pipeline.aggregated_activity import AggregatedActivity
from pipeline.aggregators import BaseAggregator, newest_first


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


def _finish(
    existing: Sequence[AggregatedActivity],
    upserts: dict[str, AggregatedActivity],
    deletes: set[str],
    max_length: int | None,
    with_counts: bool,
) -> AggregatedWrite:
    """Apply the feed's max_length and compute counts over the resulting feed."""
    result = {g.group: g for g in existing if g.group not in deletes}
    result.update(upserts)
    ranked = newest_first(result.values())
    if max_length is not None and len(ranked) > max_length:
        for dropped in ranked[max_length:]:
            upserts.pop(dropped.group, None)
            if any(g.group == dropped.group for g in existing):
                deletes.add(dropped.group)
        ranked = ranked[:max_length]
    counts = notification_counts(ranked) if with_counts else None
    return AggregatedWrite(list(upserts.values()), sorted(deletes), counts)


def plan_add(
    aggregator: BaseAggregator,
    existing: Sequence[AggregatedActivity],
    activities: Iterable[Activity],
    max_length: int | None,
    with_counts: bool = False,
) -> AggregatedWrite:
    new, changed, _ = merge_activities(aggregator, existing, activities)
    upserts = {g.group: g for g in new}
    upserts.update({after.group: after for _, after in changed})
    return _finish(existing, upserts, set(), max_length, with_counts)


def plan_remove(
    existing: Sequence[AggregatedActivity],
    activity_ids: Iterable[str],
    with_counts: bool = False,
) -> AggregatedWrite:
    """Take activities out of whichever groups hold them; drop groups left empty."""
    wanted = set(activity_ids)
    upserts: dict[str, AggregatedActivity] = {}
    deletes: set[str] = set()
    for group in existing:
        held = [a for a in group.activities if a.id in wanted]
        if not held:
            continue
        updated = group.copy()
        updated.remove_many(held)
        if updated.activities:
            upserts[group.group] = updated
        else:
            deletes.add(group.group)
    return _finish(existing, upserts, deletes, None, with_counts)


def plan_mark(
    existing: Sequence[AggregatedActivity],
    groups: Iterable[str] | None,
    seen: bool,
    read: bool,
    when: datetime,
) -> AggregatedWrite:
    """Mark the named groups (or all with None) seen and/or read; reading implies seeing."""
    names = None if groups is None else set(groups)
    upserts: dict[str, AggregatedActivity] = {}
    for group in existing:
        if names is not None and group.group not in names:
            continue
        updated = group.copy()
        if seen or read:
            updated.update_seen_at(when)
        if read:
            updated.update_read_at(when)
        upserts[group.group] = updated
    return _finish(existing, upserts, set(), None, True)


def plan_update(
    existing: Sequence[AggregatedActivity],
    activities: Iterable[Activity],
    with_counts: bool = False,
) -> AggregatedWrite:
    """Replace held activities by their updated versions (same ids); groups keep their place."""
    by_id = {a.id: a for a in activities}
    upserts: dict[str, AggregatedActivity] = {}
    for group in existing:
        if any(a.id in by_id for a in group.activities):
            updated = group.copy()
            updated.activities = [by_id.get(a.id, a) for a in updated.activities]
            upserts[group.group] = updated
    return _finish(existing, upserts, set(), None, with_counts)
