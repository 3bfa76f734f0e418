"""Pure planning of aggregated-feed writes: existing groups + change -> what to store.

These functions read nothing and write nothing, so the Faust materializer
and inline mode run exactly the same merge, and tests need no storage. Each
returns an AggregatedWrite (groups to upsert, groups to delete, feed meta).

Every change is a function of sets, so the result does not depend on the
order changes arrive in: a delivery sets one member of a group to the
activity's current state (live or removed, shown or hidden) with a
deterministic arrival stamp; a removal or an unfollow only flags members;
marks only move forward. A group with no live member keeps its place
(dormant: stored and counted by max_length, not shown or counted), exactly
as a flat feed keeps the slot of a removed activity, so which groups
max_length keeps is a function of what was delivered, not of when removals
and unfollows arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregators import BaseAggregator


@dataclass(frozen=True)
class FeedMeta:
    """What an aggregated feed stores besides its groups: counts, and the feed-wide marks.

    seen_all and read_all are the latest mark_all by time (older producers'
    marks); a group created later (a late delivery) starts from them. pending
    holds marks by ids of groups the feed does not hold yet (a mark applied
    before its groups were materialized, as a replay may do): the group starts
    from them when it appears. Sorted by group, ids sorted: the same marks
    give the same bytes in any order.
    """

    unseen: int = 0
    unread: int = 0
    seen_all: datetime | None = None
    read_all: datetime | None = None
    pending: tuple[PendingCover, ...] = ()

    @property
    def counts(self) -> tuple[int, int]:
        return self.unseen, self.unread

    def pending_of(self, group: str) -> PendingCover | None:
        for cover in self.pending:
            if cover.group == group:
                return cover
        return None


@dataclass(frozen=True)
class PendingCover:
    """A mark by ids of a group the feed does not hold yet: seen ids and read ids, sorted."""

    group: str
    seen: tuple[str, ...]
    read: tuple[str, ...] = ()


#: Ids a feed keeps in pending marks; beyond, the oldest ids go first (a bound that depends
#: on the set of marks, never on their order). Marks ahead of their groups are rare: a replay.
MAX_PENDING_IDS = 2_000


def with_pending(
    pending: Sequence[PendingCover], changes: Mapping[str, tuple[set[str], set[str]]]
) -> tuple[PendingCover, ...]:
    """pending with each group's (seen, read) ids merged in (empty sets: the group's removed)."""
    by_group = {c.group: (set(c.seen), set(c.read)) for c in pending}
    for group, (seen, read) in changes.items():
        if not seen and not read:
            by_group.pop(group, None)
            continue
        held = by_group.setdefault(group, (set(), set()))
        held[0].update(seen)
        held[1].update(read)
    every = sorted((i, g) for g, (seen, _) in by_group.items() for i in seen)
    for _, group in every[: max(0, len(every) - MAX_PENDING_IDS)]:
        by_group.pop(group, None)  # a whole group's pending mark at a time: the oldest first
    return tuple(
        PendingCover(g, tuple(sorted(seen)), tuple(sorted(read)))
        for g, (seen, read) in sorted(by_group.items())
    )


@dataclass(frozen=True)
class AggregatedWrite:
    """What storage must change in one aggregated feed, applied together."""

    upserts: Sequence[AggregatedActivity] = ()
    deletes: Sequence[str] = ()
    meta: FeedMeta | None = None  # for notification feeds: counts and marks
    #: Groups max_length pushed out, kept aside (the feed's trim slack): stored under their
    #: rank marked with SPILLED, dormant, so that a late member or a takeout brings them back.
    spills: Sequence[AggregatedActivity] = ()

    @property
    def counts(self) -> tuple[int, int] | None:
        return None if self.meta is None else self.meta.counts

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.deletes and not self.spills and self.meta is None

    def stored(self) -> list[tuple[AggregatedActivity, str, bool]]:
        """Every group to write with the rank to store it under and whether it is shown: what
        each backend's write does with upserts and spills."""
        rows = [(g, group_rank(g), g.has_live) for g in self.upserts]
        return rows + [(g, SPILLED + group_rank(g), False) for g in self.spills]


@dataclass(frozen=True, slots=True)
class Delivery:
    """An activity's current state reaching a feed, stamped with when it reached it.

    hidden: its actor was unfollowed after it was published; it takes its
    place in the feed as it would have before the unfollow, but is not shown.
    """

    state: ActivityState
    stamp: int
    hidden: bool = False


def _unseen_unread(group: AggregatedActivity) -> tuple[int, int]:
    """What a group adds to the counts: a dormant group is not shown, so it adds nothing."""
    if not group.has_live:
        return 0, 0
    return int(not group.is_seen()), int(not group.is_read())


def notification_counts(groups: Iterable[AggregatedActivity]) -> tuple[int, int]:
    """(unseen, unread): groups not seen, groups not read, since their newest arrival."""
    unseen = unread = 0
    for group in groups:
        group_unseen, group_unread = _unseen_unread(group)
        unseen += group_unseen
        unread += group_unread
    return unseen, unread


#: Marks the stored rank of a group kept aside: sorts below every id, so spilled groups rank
#: last, and stored dormant, so no read shows or counts them.
SPILLED = "-"


def is_spilled(rank: str) -> bool:
    return rank.startswith(SPILLED)


def group_rank(group: AggregatedActivity) -> str:
    """A group's place in its feed: its newest member's id, so groups order like flat feeds.

    Removed and hidden members count: a group keeps its place when they go.
    """
    return max(group.members) if group.members else ""


@dataclass(frozen=True)
class AggregatedView:
    """The part of an aggregated feed a write needs, so a write never reads the whole feed.

    ranks covers every group (cheap: names and ranks only); groups holds the
    groups loaded in full: at least every group the write touches and every
    group max_length could push out. meta holds the stored counts, which a
    write adjusts by the difference it makes instead of recounting.
    """

    groups: Mapping[str, AggregatedActivity]
    ranks: Sequence[tuple[str, str]]
    meta: FeedMeta = FeedMeta()

    @classmethod
    def of(cls, groups: Iterable[AggregatedActivity], meta: FeedMeta | None = None) -> AggregatedView:
        """A view of a whole feed given as its groups; counts computed when not given."""
        groups = list(groups)
        ranked = sorted(((group_rank(g), g.group) for g in groups), reverse=True)
        if meta is None:
            meta = FeedMeta(*notification_counts(groups))
        return cls({g.group: g for g in groups}, ranked, meta)

    @property
    def counts(self) -> tuple[int, int]:
        return self.meta.counts

    @property
    def spilled(self) -> dict[str, str]:
        """Groups kept aside (the trim slack): name -> their own rank."""
        return {name: rank[len(SPILLED) :] for rank, name in self.ranks if is_spilled(rank)}

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
    meta: FeedMeta | None = None,
    consumed: set[str] | None = None,
    slack: int = 0,
) -> AggregatedWrite:
    """Drop groups left with no member, apply max_length (over every group, dormant ones
    too), keep the newest `slack` groups it pushes out aside, adjust the counts.

    With max_length (a delivery or a takeout), a spilled group the write touched competes for
    a place again, and a feed left with room (a takeout emptied groups) takes back the spill's
    newest it has in view; without (updates, removals, marks), spilled groups stay aside.
    consumed: new groups that started from a pending mark; the mark leaves the meta if the
    group is kept, in place or aside (a group pushed past the slack at once leaves it
    pending, as if it had never come)."""
    existing = {name: rank for rank, name in view.ranks}
    spilled = view.spilled
    for name, group in list(upserts.items()):
        if not group.members:
            del upserts[name]
            if name in existing:
                deletes.add(name)
    spills: dict[str, AggregatedActivity] = {}
    if max_length is None:
        spills = {name: upserts.pop(name) for name in list(upserts) if name in spilled}
    ranks = {name: rank for name, rank in existing.items() if name not in deletes and name not in spilled}
    ranks.update((name, group_rank(group)) for name, group in upserts.items())
    if max_length is not None:
        # Spilled groups in view compete for places too: a takeout that lowered or emptied
        # groups lets the spill's newest back in. (Spilled groups rank below every group in
        # place until a takeout, which reads the whole feed, so a delivery needs only those
        # it touches.)
        for name, rank in spilled.items():
            if name in view.groups and name not in deletes and name not in upserts:
                ranks[name] = rank
        ordered = sorted(ranks, key=lambda name: (ranks[name], name), reverse=True)
        for name in ordered[:max_length]:
            if name in spilled and name not in upserts:
                upserts[name] = view.groups[name]
        for name in ordered[max_length:]:
            if name in spilled and name not in upserts:
                continue  # stays aside as stored
            pushed = upserts.pop(name, None) or view.groups.get(name)
            if pushed is not None:
                spills[name] = pushed
            elif name in existing:  # not in view (a caller without the tail): out, as before
                deletes.add(name)
        aside = {name: rank for name, rank in spilled.items() if name not in deletes and name not in upserts}
        aside.update((name, group_rank(group)) for name, group in spills.items())
        for name in sorted(aside, key=lambda name: (aside[name], name), reverse=True)[slack:]:
            spills.pop(name, None)
            if name in existing:
                deletes.add(name)
    if not with_counts:
        return AggregatedWrite(list(upserts.values()), sorted(deletes), None, list(spills.values()))
    base = meta or view.meta
    kept = {name for name in consumed or () if name in upserts or name in spills}
    if kept:
        base = replace(base, pending=with_pending(base.pending, {name: (set(), set()) for name in kept}))
    unseen, unread = base.unseen, base.unread
    for name in (set(upserts) | deletes | set(spills)) & set(existing):
        if name in spilled:  # counted nowhere while aside
            continue
        old_unseen, old_unread = _unseen_unread(view.groups[name])
        unseen -= old_unseen
        unread -= old_unread
    for group in upserts.values():
        new_unseen, new_unread = _unseen_unread(group)
        unseen += new_unseen
        unread += new_unread
    new_meta = replace(base, unseen=unseen, unread=unread)
    if not upserts and not deletes and not spills and new_meta == view.meta:
        return AggregatedWrite((), (), None)
    return AggregatedWrite(list(upserts.values()), sorted(deletes), new_meta, list(spills.values()))


def _working_copy(
    view: AggregatedView, upserts: dict[str, AggregatedActivity], name: str
) -> AggregatedActivity | None:
    if name in upserts:
        return upserts[name]
    if name in view.groups:
        upserts[name] = view.groups[name].copy()
        return upserts[name]
    return None


def plan_deliver(
    aggregator: BaseAggregator,
    view: AggregatedView,
    deliveries: Iterable[Delivery],
    max_length: int | None,
    with_counts: bool = False,
    slack: int = 0,
) -> AggregatedWrite:
    """Set each delivered activity's member to its current state; new groups start from the marks.

    A delivery of a removed or hidden activity still creates its group
    (dormant): applied in event order it would have arrived live first.
    """
    upserts: dict[str, AggregatedActivity] = {}
    created: set[str] = set()
    for delivery in sorted(deliveries, key=lambda d: d.state.id):
        activity = delivery.state.activity
        name = aggregator.get_group(activity)
        group = _working_copy(view, upserts, name)
        if group is None:
            group = aggregator.aggregated_activity_class(
                name, seen_at=view.meta.seen_all, read_at=view.meta.read_all
            )
            if (pending := view.meta.pending_of(name)) is not None:
                group.cover(pending.seen)
                group.cover(pending.read, read=True)
                created.add(name)
            upserts[name] = group
        group.put(activity, delivery.stamp, delivery.state.removed, delivery.hidden)
    _keep_changed(view, upserts)
    return _finish(view, upserts, set(), max_length, with_counts, consumed=created, slack=slack)


def plan_refresh(
    aggregator: BaseAggregator,
    view: AggregatedView,
    states: Iterable[ActivityState],
    with_counts: bool = False,
) -> AggregatedWrite:
    """Set members the feed holds to their current state: removed, or live with the newest body.

    What a REMOVE or UPDATE does; it never adds a member, so it reaches only
    the feeds that hold the activity, and commutes with deliveries.
    """
    upserts: dict[str, AggregatedActivity] = {}
    for state in states:
        name = aggregator.get_group(state.activity)
        held = upserts.get(name) or view.groups.get(name)
        if held is None or state.id not in held.members:
            continue
        group = _working_copy(view, upserts, name)
        assert group is not None  # held above: the view or this run has the group
        member = group.members[state.id]
        group.put(state.activity, member.stamp, state.removed, member.hidden)
    _keep_changed(view, upserts)
    return _finish(view, upserts, set(), None, with_counts)


def plan_hide_actor(
    view: AggregatedView,
    actor_id: str,
    before: int | None = None,
    with_counts: bool = False,
    max_length: int | None = None,
    slack: int = 0,
) -> AggregatedWrite:
    """Hide every member by actor_id (an unfollow at version `before`), keeping their places;
    members that arrived at or after it are dropped, and a group left empty makes room for the
    trim slack's newest. Needs the whole feed in view, spilled groups too."""
    upserts: dict[str, AggregatedActivity] = {}
    for name, group in view.groups.items():
        if any(m.actor == actor_id and not m.hidden for m in group.members.values()):
            updated = group.copy()
            updated.hide_actor(actor_id, before)
            upserts[name] = updated
    return _finish(view, upserts, set(), max_length, with_counts, slack=slack)


def plan_cover(
    view: AggregatedView, covers: Iterable[tuple[str, Sequence[str]]], read: bool
) -> AggregatedWrite:
    """Mark what the user saw: each group's covered member ids seen (and read). A group the
    feed does not hold yet keeps the mark pending until it appears; covered ids not delivered
    yet are covered when they arrive. Set unions: any order of marks and deliveries gives the
    same groups."""
    upserts: dict[str, AggregatedActivity] = {}
    pending: dict[str, tuple[set[str], set[str]]] = {}
    for name, ids in covers:
        group = _working_copy(view, upserts, name)
        if group is None:
            seen_ids, read_ids = pending.setdefault(name, (set(), set()))
            seen_ids.update(ids)
            if read:
                read_ids.update(ids)
            continue
        group.cover(ids, read)
    _keep_changed(view, upserts)
    meta = view.meta
    if pending:
        meta = replace(meta, pending=with_pending(meta.pending, pending))
    return _finish(view, upserts, set(), None, True, meta)


def resolve_covers(
    groups: Iterable[AggregatedActivity],
    names: Iterable[str] | None,
    displayed: Iterable[str] | None = None,
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What a mark covers, read from the groups the user's feed shows now: the live members of
    the named groups (every group with None); only the activity ids the client displayed when
    it says which (a member that arrived after its page stays unseen; ids are compared as a
    set, never ordered by time). Recorded into the mark, so applying it (now, later, or in a
    replay) marks exactly this."""
    wanted = None if names is None else set(names)
    shown = None if displayed is None else set(displayed)
    covers = []
    for group in groups:
        if wanted is not None and group.group not in wanted:
            continue
        ids = tuple(i for i in group.live_ids if shown is None or i in shown)
        if ids:
            covers.append((group.group, ids))
    return tuple(sorted(covers))


def plan_mark(
    view: AggregatedView, groups: Iterable[str] | None, seen: bool, read: bool, when: datetime
) -> AggregatedWrite:
    """Mark the named groups (or all, with None) seen and/or read by time; reading implies
    seeing: the marks of older producers, which name no ids (see plan_cover).

    Marking all also moves the feed's own marks, which groups created later
    (late deliveries) start from. Marks only move forward.
    """
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
    _keep_changed(view, upserts)
    meta = view.meta
    if names is None:
        seen_all = _later(meta.seen_all, when) if (seen or read) else meta.seen_all
        read_all = _later(meta.read_all, when) if read else meta.read_all
        meta = replace(meta, seen_all=seen_all, read_all=read_all)
    return _finish(view, upserts, set(), None, True, meta)


def _later(current: datetime | None, when: datetime) -> datetime:
    return when if current is None or when > current else current


def _keep_changed(view: AggregatedView, upserts: dict[str, AggregatedActivity]) -> None:
    """Drop upserts equal to what is stored, so an idempotent replay writes nothing."""
    for name in [n for n, g in upserts.items() if view.groups.get(n) == g and _same_bodies(view, n, g)]:
        del upserts[name]


def _same_bodies(view: AggregatedView, name: str, group: AggregatedActivity) -> bool:
    old = view.groups[name]
    return all(
        a.extra_context == b.extra_context for a, b in zip(old.activities, group.activities, strict=True)
    )
