"""Aggregated and notification feeds: groups of activities, merged on write.

A write reads the feed's groups, plans the change with the pure functions of
pipeline.aggregation, and writes the result in one storage call. That is
safe without locks because one process owns each user's feeds (the
materializer partition that the user hashes to, or inline mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from pipeline.activity import Activity
from pipeline.aggregated_activity import AggregatedActivity
from pipeline.aggregation import (
    AggregatedView,
    AggregatedWrite,
    notification_counts,
    plan_add,
    plan_mark,
    plan_remove,
    plan_update,
)
from pipeline.aggregators import BaseAggregator, NotificationAggregator, RecentVerbAggregator
from pipeline.feeds import BaseFeed
from storage.base import PageRequest


class AggregatedFeed(BaseFeed):
    """Groups ranked by their newest activity; max_length counts groups."""

    name = "aggregated"
    key_format = "aggregated:{user_id}"
    max_length = 100
    aggregator_class: ClassVar[type[BaseAggregator]] = RecentVerbAggregator
    aggregated_activity_class: ClassVar[type[AggregatedActivity]] = AggregatedActivity
    #: Whether writes keep unseen and unread counts (notification feeds do).
    track_counts: ClassVar[bool] = False

    def get_aggregator(self) -> BaseAggregator:
        return self.aggregator_class(self.aggregated_activity_class)

    def get_page(self, page: PageRequest) -> list[AggregatedActivity]:
        if page.bounds.lower or page.bounds.upper or page.ascending:
            groups = self._all()
            groups = [g for g in groups if page.bounds.admits(g.last_activity.id)]
            if page.ascending:
                groups.reverse()
            end = None if page.limit is None else page.offset + page.limit
            return groups[page.offset : end]
        return self.backend.aggregated.get_page(
            self.key, page.offset, page.limit, self.activity_class, self.aggregated_activity_class
        )

    def _all(self) -> list[AggregatedActivity]:
        return self.backend.aggregated.get_all(self.key, self.activity_class, self.aggregated_activity_class)

    def _full_view(self) -> AggregatedView:
        return AggregatedView.of(self._all(), self.backend.aggregated.counts(self.key))

    def _view_for(self, activities: Sequence[Activity], max_length: int | None) -> AggregatedView:
        """The groups these activities belong to, plus those max_length could push out."""
        aggregator = self.get_aggregator()
        names = sorted({aggregator.get_group(a) for a in activities})
        tail = None if max_length is None else max(0, max_length - len(names))
        return self.backend.aggregated.load_view(
            self.key, names, tail, self.activity_class, self.aggregated_activity_class
        )

    def _apply(self, change: AggregatedWrite) -> None:
        if not change.upserts and not change.deletes and change.counts is None:
            return
        self.backend.aggregated.write(self.key, change)
        if change.counts is not None:
            self.backend.publisher.publish(self.user_id, self.key, *change.counts)

    def add(self, activity: Activity) -> None:
        self.add_many([activity])

    def add_many(self, activities: Sequence[Activity]) -> None:
        activities = list(activities)
        view = self._view_for(activities, self.max_length)
        self._apply(plan_add(self.get_aggregator(), view, activities, self.max_length, self.track_counts))

    def remove(self, activity: Activity | str) -> None:
        self.remove_many([activity])

    def remove_many(self, activities: Iterable[Activity | str]) -> None:
        """Remove by activity (reads only its group) or by id (reads the whole feed)."""
        activities = list(activities)
        ids = [a if isinstance(a, str) else a.id for a in activities]
        if all(isinstance(a, Activity) for a in activities):
            view = self._view_for(activities, None)
        else:
            view = self._full_view()
        self._apply(plan_remove(view, ids, self.track_counts))

    def remove_by_actor(self, actor_id: str) -> None:
        """Take out every activity by actor_id (an unfollow), dropping groups left empty."""
        view = self._full_view()
        ids = [a.id for g in view.groups.values() for a in g.activities if a.actor_id == actor_id]
        if ids:
            self._apply(plan_remove(view, ids, self.track_counts))

    def update_many(self, activities: Sequence[Activity]) -> None:
        """Swap in new versions (new extra_context) of activities the feed holds."""
        activities = list(activities)
        self._apply(plan_update(self._view_for(activities, None), activities, self.track_counts))

    def count(self) -> int:
        return self.backend.aggregated.count(self.key)

    def delete(self) -> None:
        self.backend.aggregated.delete(self.key)

    def trim(self, length: int | None = None) -> None:
        length = self.max_length if length is None else length
        groups = self._all()
        if length is not None and len(groups) > length:
            dropped = [g.group for g in groups[length:]]
            counts = notification_counts(groups[:length]) if self.track_counts else None
            self._apply(AggregatedWrite((), dropped, counts))


class NotificationFeed(AggregatedFeed):
    """An aggregated feed with seen and read state and denormalized counts."""

    name = "notification"
    key_format = "notification:{user_id}"
    aggregator_class = NotificationAggregator
    track_counts = True

    def count_unseen(self) -> int:
        """Groups not seen since their last update: one storage lookup."""
        return self.backend.aggregated.counts(self.key)[0]

    def count_unread(self) -> int:
        return self.backend.aggregated.counts(self.key)[1]

    def mark_all(self, seen: bool = True, read: bool | None = None, when: datetime | None = None) -> None:
        """Mark every group seen (and read, if read=True; reading implies seeing)."""
        self._mark(None, seen, bool(read), when)

    def mark_activities(
        self,
        groups: Iterable[str | AggregatedActivity],
        seen: bool = True,
        read: bool = False,
        when: datetime | None = None,
    ) -> None:
        """Mark the given groups (by group key or object)."""
        names = [g if isinstance(g, str) else g.group for g in groups]
        self._mark(names, seen, read, when)

    def _mark(self, groups: list[str] | None, seen: bool, read: bool, when: datetime | None) -> None:
        change = plan_mark(self._full_view(), groups, seen, read, when or datetime.now(UTC))
        self._apply(change)
