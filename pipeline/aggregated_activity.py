"""AggregatedActivity: a group of activities shown as one ("Julie and 14 others loved your pin").

The aggregator decides the group; this class holds the group's activities,
newest last as they were appended, keeps at most max_aggregated_activities_length
of them and counts the ones it dropped, so "N others" stays right after the
oldest activities are minimized away. Seen and read state live here because a
notification feed marks groups, not single activities.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar

from pipeline.activity import Activity
from pipeline.exceptions import ActivityNotFound, DuplicateActivityException


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(value, None)
    return list(seen)


class AggregatedActivity:
    """The activities of one group; subclass it to change the cap or add behaviour."""

    #: The most activities kept in full; older ones are dropped and counted.
    max_aggregated_activities_length: ClassVar[int] = 15

    def __init__(
        self,
        group: str,
        activities: Iterable[Activity] = (),
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        seen_at: datetime | None = None,
        read_at: datetime | None = None,
        minimized_activities: int = 0,
    ) -> None:
        self.group = group
        self.activities: list[Activity] = []
        self.created_at = created_at
        self.updated_at = updated_at
        self.seen_at = seen_at
        self.read_at = read_at
        self.minimized_activities = minimized_activities
        for activity in activities:
            self.append(activity)

    def copy(self) -> AggregatedActivity:
        """An independent copy; activities are immutable, so they are shared."""
        clone = type(self)(self.group)
        clone.activities = list(self.activities)
        clone.created_at = self.created_at
        clone.updated_at = self.updated_at
        clone.seen_at = self.seen_at
        clone.read_at = self.read_at
        clone.minimized_activities = self.minimized_activities
        return clone

    # -- membership -------------------------------------------------------

    def contains(self, activity: Activity) -> bool:
        activity_id = activity.id
        return any(a.id == activity_id for a in self.activities)

    __contains__ = contains

    def append(self, activity: Activity) -> None:
        """Add an activity; the oldest is dropped (and counted) past the cap."""
        if self.contains(activity):
            raise DuplicateActivityException(f"activity {activity.id} is already in group {self.group!r}")
        self.activities.append(activity)
        self.activities.sort(key=lambda a: a.id)
        if self.created_at is None or activity.time < self.created_at:
            self.created_at = activity.time
        if self.updated_at is None or activity.time > self.updated_at:
            self.updated_at = activity.time
        overflow = len(self.activities) - self.max_aggregated_activities_length
        if overflow > 0:
            del self.activities[:overflow]
            self.minimized_activities += overflow

    def remove(self, activity: Activity) -> None:
        """Take an activity out; updated_at falls back to the newest one left."""
        for index, held in enumerate(self.activities):
            if held.id == activity.id:
                del self.activities[index]
                break
        else:
            raise ActivityNotFound(f"activity {activity.id} is not in group {self.group!r}")
        if self.activities:
            self.updated_at = self.activities[-1].time

    def remove_many(self, activities: Iterable[Activity], missing_ok: bool = False) -> list[Activity]:
        """Remove several activities at once and return the ones removed.

        With missing_ok false, nothing is removed unless all are present; the
        pipeline passes true, because a replayed removal finds them gone.
        """
        activities = list(activities)
        if not missing_ok:
            missing = [a.id for a in activities if not self.contains(a)]
            if missing:
                raise ActivityNotFound(f"activities {missing} are not in group {self.group!r}")
        removed = []
        for activity in activities:
            if self.contains(activity):
                self.remove(activity)
                removed.append(activity)
        return removed

    # -- what a template shows -------------------------------------------

    @property
    def activity_count(self) -> int:
        return len(self.activities) + self.minimized_activities

    @property
    def actor_ids(self) -> list[str]:
        """Distinct actors, most recent first."""
        return _unique(a.actor_id for a in reversed(self.activities))

    @property
    def object_ids(self) -> list[str]:
        return _unique(a.object_id for a in reversed(self.activities))

    @property
    def verbs(self) -> list[type]:
        seen: dict[int, type] = {}
        for activity in reversed(self.activities):
            seen.setdefault(activity.verb.id, activity.verb)
        return list(seen.values())

    @property
    def verb(self) -> type:
        """The verb of the newest activity: a group made by verb has only this one."""
        return self.last_activity.verb

    @property
    def actor_count(self) -> int:
        """Distinct actors held, plus the minimized activities (each counted as one actor)."""
        return len(self.actor_ids) + self.minimized_activities

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
        """Seen after its latest activity arrived: new activity makes a group unseen again."""
        return self.seen_at is not None and self.updated_at is not None and self.seen_at >= self.updated_at

    def is_read(self) -> bool:
        return self.read_at is not None and self.updated_at is not None and self.read_at >= self.updated_at

    def update_seen_at(self, when: datetime | None = None) -> None:
        self.seen_at = when or datetime.now(UTC)

    def update_read_at(self, when: datetime | None = None) -> None:
        self.read_at = when or datetime.now(UTC)

    # -- identity ------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AggregatedActivity):
            return NotImplemented
        return (
            self.group == other.group
            and [a.id for a in self.activities] == [a.id for a in other.activities]
            and self.minimized_activities == other.minimized_activities
            and self.created_at == other.created_at
            and self.updated_at == other.updated_at
            and self.seen_at == other.seen_at
            and self.read_at == other.read_at
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.group!r} {self.activity_count} activities, "
            f"{self.actor_count} actors>"
        )
