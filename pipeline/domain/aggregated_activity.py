"""AggregatedActivity: a group of activities shown as one ("Julie and 14 others loved your pin").

The aggregator decides the group; this class holds its members. Every member
is remembered by id (with its actor, when it reached the feed, whether it was
removed and whether its actor was unfollowed), so a group is a set, not a
history: the same members give the same group whatever order they arrived in,
a member delivered twice is held once, and "N others" counts the live
members, not a counter that drifts. Removed and hidden members stay members:
they keep the group's rank, so what max_length keeps never depends on when a
removal or an unfollow arrived; a group with no live member is kept but not
shown (dormant). Only the newest max_aggregated_activities_length live
members are kept in full (their bodies, for display); older ones are ids only
("minimized").

Seen and read live here because a notification feed marks groups, not single
activities. A mark names what the user saw: the member ids it covers
(seen_ids, read_ids), so a group is seen when every live member was covered,
and a member that arrives later makes it unseen again, whatever any clock
says. Covered ids are a set: marks commute with each other and with
deliveries (a mark that covers a member not delivered yet covers it when it
comes). Marks without ids (published by older producers) are judged by
their time as before: seen_at and read_at cover every member whose arrival
stamp is not after them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import ActivityNotFound, DuplicateActivityException
from streamfeed.domain.ids import sort_key_for, sort_key_of, time_for
from streamfeed.domain.verbs import Verb

#: Covered ids a group keeps beyond its members (see AggregatedActivity._bound_covers).
MAX_PENDING_COVERS = 1_000


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(value, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class Member:
    """One activity of a group: who did it, when it reached the feed, whether it was removed,
    whether its actor was unfollowed (hidden)."""

    actor: str
    stamp: int
    removed: bool = False
    hidden: bool = False

    @property
    def live(self) -> bool:
        """Shown: neither removed nor hidden by an unfollow."""
        return not (self.removed or self.hidden)


class AggregatedActivity:
    """The members of one group; subclass it to change the cap or add behaviour."""

    #: The most live activities kept in full; older ones are held by id only.
    max_aggregated_activities_length: ClassVar[int] = 15

    def __init__(
        self,
        group: str,
        activities: Iterable[Activity] = (),
        seen_at: datetime | None = None,
        read_at: datetime | None = None,
        seen_ids: Iterable[str] = (),
        read_ids: Iterable[str] = (),
    ) -> None:
        self.group = group
        self.members: dict[str, Member] = {}
        #: Bodies of the newest live members, oldest first.
        self.activities: list[Activity] = []
        #: Marks by time (older producers' marks): members arrived by then are covered.
        self.seen_at = seen_at
        self.read_at = read_at
        #: Marks by what the user saw: the member ids covered (members or not yet).
        self.seen_ids: set[str] = set(seen_ids)
        self.read_ids: set[str] = set(read_ids)
        for activity in activities:
            self.append(activity)

    def copy(self) -> AggregatedActivity:
        """An independent copy; activities and members are immutable, so they are shared."""
        clone = type(self)(self.group, seen_at=self.seen_at, read_at=self.read_at)
        clone.members = dict(self.members)
        clone.activities = list(self.activities)
        clone.seen_ids = set(self.seen_ids)
        clone.read_ids = set(self.read_ids)
        return clone

    # -- membership -------------------------------------------------------

    def contains(self, activity: Activity | str) -> bool:
        """Whether the activity is a live member."""
        member = self.members.get(activity if isinstance(activity, str) else activity.id)
        return member is not None and member.live

    __contains__ = contains

    @property
    def live_ids(self) -> list[str]:
        """Ids of live members, oldest first."""
        return sorted(i for i, m in self.members.items() if m.live)

    @property
    def has_live(self) -> bool:
        """Whether the group is shown; one with no live member only holds its place (dormant)."""
        return any(m.live for m in self.members.values())

    def append(self, activity: Activity, stamp: int | None = None) -> None:
        """Add a live member; its arrival stamp defaults to the activity's own time."""
        if activity.id in self.members:
            raise DuplicateActivityException(f"activity {activity.id} is already in group {self.group!r}")
        self.put(activity, activity.sort_key if stamp is None else stamp, removed=False)

    def put(self, activity: Activity, stamp: int, removed: bool, hidden: bool | None = None) -> bool:
        """Set a member to this state (the pipeline's idempotent write); True if anything changed.

        A removed or hidden member stays a member (it keeps its place) but
        has no body shown. A member delivered again by another path keeps
        the larger stamp (the pipeline derives equal ones). hidden None keeps
        what the member had (a new one is shown).
        """
        old = self.members.get(activity.id)
        if hidden is None:
            hidden = old.hidden if old else False
        new = Member(activity.actor_id, max(stamp, old.stamp) if old else stamp, removed, hidden)
        changed = old != new
        self.members[activity.id] = new
        body_index = self._body_index(activity.id)
        if not new.live:
            if body_index is not None:
                del self.activities[body_index]
                changed = True
            return changed
        if body_index is None:
            self.activities.append(activity)
            self.activities.sort(key=lambda a: a.id)
            changed = True
        else:
            changed = changed or _body_differs(self.activities[body_index], activity)
            self.activities[body_index] = activity
        self._trim_bodies()
        return changed

    def replace_body(self, activity: Activity) -> bool:
        """Swap in a new version of a live member's body; True if it was shown."""
        index = self._body_index(activity.id)
        if index is None:
            return False
        changed = _body_differs(self.activities[index], activity)
        self.activities[index] = activity
        return changed

    def _body_index(self, activity_id: str) -> int | None:
        for index, held in enumerate(self.activities):
            if held.id == activity_id:
                return index
        return None

    def _trim_bodies(self) -> None:
        overflow = len(self.activities) - self.max_aggregated_activities_length
        if overflow > 0:
            del self.activities[:overflow]

    def missing_bodies(self) -> list[str]:
        """Live members among the newest that should be shown in full but are held by id only."""
        wanted = self.live_ids[-self.max_aggregated_activities_length :]
        held = {a.id for a in self.activities}
        return [i for i in wanted if i not in held]

    def fill(self, activities: Iterable[Activity]) -> None:
        """Add bodies for live members (from activity storage) and keep only the newest."""
        held = {a.id for a in self.activities}
        for activity in activities:
            if self.contains(activity) and activity.id not in held:
                self.activities.append(activity)
                held.add(activity.id)
        self.activities.sort(key=lambda a: a.id)
        self._trim_bodies()

    def hide_actor(self, actor_id: str, before: int | None = None) -> bool:
        """Hide every member by this actor (an unfollow at version `before`): they keep their
        place. Members that arrived at or after it never belonged and are dropped. True if
        anything changed."""
        changed = False
        for activity_id, member in list(self.members.items()):
            if member.actor != actor_id:
                continue
            if before is not None and member.stamp >= before:
                del self.members[activity_id]
                changed = True
            elif not member.hidden:
                self.members[activity_id] = Member(member.actor, member.stamp, member.removed, True)
                changed = True
        self.activities = [a for a in self.activities if a.actor_id != actor_id]
        return changed

    def remove(self, activity: Activity) -> None:
        """Forget an activity entirely (the Stream Framework API); it must be a member."""
        if activity.id not in self.members:
            raise ActivityNotFound(f"activity {activity.id} is not in group {self.group!r}")
        del self.members[activity.id]
        index = self._body_index(activity.id)
        if index is not None:
            del self.activities[index]

    def remove_many(self, activities: Iterable[Activity], missing_ok: bool = False) -> list[Activity]:
        """Remove several activities at once and return the ones removed.

        With missing_ok false, nothing is removed unless all are present.
        """
        activities = list(activities)
        if not missing_ok:
            missing = [a.id for a in activities if a.id not in self.members]
            if missing:
                raise ActivityNotFound(f"activities {missing} are not in group {self.group!r}")
        removed = []
        for activity in activities:
            if activity.id in self.members:
                self.remove(activity)
                removed.append(activity)
        return removed

    # -- what a template shows -------------------------------------------

    @property
    def activity_count(self) -> int:
        """Live members: held in full or not."""
        return sum(m.live for m in self.members.values())

    @property
    def minimized_activities(self) -> int:
        """Live members held by id only."""
        return self.activity_count - len(self.activities)

    @property
    def created_at(self) -> datetime | None:
        """Time of the oldest live member."""
        ids = self.live_ids
        return time_for(sort_key_of(ids[0])) if ids else None

    @property
    def updated_at(self) -> datetime | None:
        """Time of the newest live member: what a template shows."""
        ids = self.live_ids
        return time_for(sort_key_of(ids[-1])) if ids else None

    @property
    def arrived_at(self) -> datetime | None:
        """When the newest live member reached the feed: what seen and read compare with."""
        stamps = [m.stamp for m in self.members.values() if m.live]
        return time_for(max(stamps)) if stamps else None

    @property
    def actor_ids(self) -> list[str]:
        """Distinct actors, most recent first (of all live members)."""
        return _unique(self.members[i].actor for i in reversed(self.live_ids))

    @property
    def object_ids(self) -> list[str]:
        return _unique(a.object_id for a in reversed(self.activities))

    @property
    def verbs(self) -> list[type[Verb]]:
        seen: dict[int, type] = {}
        for activity in reversed(self.activities):
            seen.setdefault(activity.verb.id, activity.verb)
        return list(seen.values())

    @property
    def verb(self) -> type[Verb]:
        """The verb of the newest activity: a group made by verb has only this one."""
        return self.last_activity.verb

    @property
    def actor_count(self) -> int:
        """Distinct actors among the live members."""
        return len(self.actor_ids)

    @property
    def other_actor_count(self) -> int:
        """The N of "A, B and N others"."""
        return max(self.actor_count - 2, 0)

    @property
    def last_activity(self) -> Activity:
        if not self.activities:
            raise ActivityNotFound(f"group {self.group!r} holds no activities")
        return self.activities[-1]

    @property
    def last_activities(self) -> list[Activity]:
        """Activities newest first."""
        return list(reversed(self.activities))

    # -- seen and read -----------------------------------------------------

    def is_seen(self) -> bool:
        """Every live member was covered by a mark: a new arrival makes a group unseen again."""
        return self._covered(self.seen_ids, self.seen_at)

    def is_read(self) -> bool:
        return self._covered(self.read_ids, self.read_at)

    def _covered(self, ids: set[str], until: datetime | None) -> bool:
        stamp = None if until is None else sort_key_for(until)
        live = [(i, m) for i, m in self.members.items() if m.live]
        return bool(live) and all(i in ids or (stamp is not None and m.stamp <= stamp) for i, m in live)

    def cover(self, ids: Iterable[str], read: bool = False) -> bool:
        """Mark these member ids seen (and read): what a user saw. Ids not delivered yet are
        covered when they arrive. True if anything changed."""
        ids = set(ids)
        before = (len(self.seen_ids), len(self.read_ids))
        self.seen_ids |= ids
        if read:
            self.read_ids |= ids
        self._bound_covers()
        return before != (len(self.seen_ids), len(self.read_ids))

    def cover_live(self, read: bool = False) -> bool:
        """Mark every live member held now seen (and read): Stream Framework's mark of a group."""
        return self.cover(self.live_ids, read)

    def _bound_covers(self) -> None:
        """Covered ids that are not members (a mark ahead of its deliveries, or members an
        unfollow dropped) are kept up to MAX_PENDING_COVERS, the newest ids first: a bound that
        depends on the set of marks alone, never on their order."""
        for covered in (self.seen_ids, self.read_ids):
            outside = [i for i in covered if i not in self.members]
            if len(outside) > MAX_PENDING_COVERS:
                covered.difference_update(sorted(outside)[: len(outside) - MAX_PENDING_COVERS])

    def update_seen_at(self, when: datetime | None = None) -> None:
        """Seen up to when (default: everything held now), by time; marks only move forward."""
        if when is None:
            self.cover_live()
        elif self.seen_at is None or when > self.seen_at:
            self.seen_at = when

    def update_read_at(self, when: datetime | None = None) -> None:
        if when is None:
            self.cover_live(read=True)
        elif self.read_at is None or when > self.read_at:
            self.read_at = when

    # -- identity ------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AggregatedActivity):
            return NotImplemented
        return (
            self.group == other.group
            and self.members == other.members
            and [a.id for a in self.activities] == [a.id for a in other.activities]
            and self.seen_at == other.seen_at
            and self.read_at == other.read_at
            and self.seen_ids == other.seen_ids
            and self.read_ids == other.read_ids
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.group!r} {self.activity_count} activities, "
            f"{self.actor_count} actors>"
        )


def _body_differs(old: Activity, new: Activity) -> bool:
    return old.extra_context != new.extra_context or old.to != new.to
