"""Aggregated and notification feeds: groups of activities, merged on write.

A write reads the feed's groups, plans the change with the pure functions of
streamfeed.domain.aggregation, and writes the result in one storage call. That is
safe without locks because one process owns each user's feeds (the
materializer partition that the user hashes to, or inline mode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregation import (
    AggregatedView,
    AggregatedWrite,
    Delivery,
    is_spilled,
    notification_counts,
    plan_cover,
    plan_deliver,
    plan_hide_actor,
    plan_mark,
    plan_refresh,
    resolve_covers,
)
from streamfeed.domain.aggregators import BaseAggregator, NotificationAggregator, RecentVerbAggregator
from streamfeed.domain.events import MarkSpec
from streamfeed.domain.targets import targets_by_user
from streamfeed.feeds.flat import BaseFeed, direct_states
from streamfeed.storage.base import Backend, PageRequest


class AggregatedFeed(BaseFeed):
    """Groups ranked by their newest activity; max_length counts groups."""

    name = "aggregated"
    key_format = "aggregated:{user_id}"
    max_length = 100
    aggregator_class: ClassVar[type[BaseAggregator]] = RecentVerbAggregator
    aggregated_activity_class: ClassVar[type[AggregatedActivity]] = AggregatedActivity
    #: Whether writes keep unseen and unread counts (notification feeds do).
    track_counts: ClassVar[bool] = False
    #: Groups max_length pushes out that the feed keeps aside, unread: a late member of one
    #: (a delivery behind newer ones) joins it instead of starting it again, and a takeout (an
    #: unfollow consumed late) lets the newest back in. 0 turns it off.
    trim_slack: ClassVar[int] = 10
    #: Where marks go when the feed came from a manager: published, applied by the user's owner.
    mark_sink: Callable[[str, MarkSpec], None] | None = None

    def get_aggregator(self) -> BaseAggregator:
        return self.aggregator_class(self.aggregated_activity_class)

    def get_page(self, page: PageRequest) -> list[AggregatedActivity]:
        if page.bounds.lower or page.bounds.upper or page.ascending:
            groups = [g for g in self._all() if g.has_live]
            groups = [g for g in groups if page.bounds.admits(g.last_activity.id)]
            if page.ascending:
                groups.reverse()
            end = None if page.limit is None else page.offset + page.limit
            return groups[page.offset : end]
        return self.backend.aggregated.get_page(
            self.key, page.offset, page.limit, self.activity_class, self.aggregated_activity_class
        )

    def _all(self) -> list[AggregatedActivity]:
        """Every group in place, dormant ones too, newest first (not those kept aside)."""
        view = self._full_view()
        return [
            view.groups[name] for rank, name in view.ranks if not is_spilled(rank) and name in view.groups
        ]

    def _full_view(self) -> AggregatedView:
        """The whole feed, the groups kept aside (the trim slack) too."""
        groups = self.backend.aggregated.get_all(
            self.key, self.activity_class, self.aggregated_activity_class
        )
        ranks = self.backend.aggregated.get_ranks(self.key)
        return AggregatedView({g.group: g for g in groups}, ranks, self.backend.aggregated.meta(self.key))

    def _view_for(self, activities: Sequence[Activity], max_length: int | None) -> AggregatedView:
        """The groups these activities belong to, plus those max_length could push out."""
        return self.backend.aggregated.load_view(
            *self._view_request(activities, max_length), self.activity_class, self.aggregated_activity_class
        )

    def _view_request(
        self, activities: Sequence[Activity], max_length: int | None
    ) -> tuple[str, list[str], int | None]:
        aggregator = self.get_aggregator()
        names = sorted({aggregator.get_group(a) for a in activities})
        tail = None if max_length is None else max(0, max_length - len(names))
        return self.key, names, tail

    def _apply(self, change: AggregatedWrite) -> None:
        type(self)._apply_many(self.backend, [(self, change)])

    @classmethod
    def _apply_many(cls, backend: Backend, changes: Sequence[tuple[AggregatedFeed, AggregatedWrite]]) -> None:
        changes = [(feed, change) for feed, change in changes if not change.empty]
        if not changes:
            return
        missing = sorted({i for _, c in changes for group in c.upserts for i in group.missing_bodies()})
        if missing:  # a shown member was removed: show the next newest, from activity storage
            found = backend.activities.get_many(missing, cls.activity_class)
            for feed, change in changes:
                for group in change.upserts:
                    bodies = [found[i] for i in group.missing_bodies() if i in found]
                    group.fill(_Addressing().activities(feed.user_id, bodies))
        backend.aggregated.write_many([(feed.key, change) for feed, change in changes])
        counted = [(f.user_id, f.key, *c.counts) for f, c in changes if c.counts is not None]
        if counted:
            backend.publisher.publish_many(counted)

    # -- the pipeline's writes: every one sets members to the activity's current state -----

    def deliver(self, deliveries: Sequence[Delivery]) -> None:
        """Activities reaching this feed (a fanout, a follow's copy, a `to` target)."""
        type(self).deliver_to_many(self.backend, [(self.user_id, deliveries)])

    @classmethod
    def deliver_to_many(cls, backend: Backend, work: Sequence[tuple[str, Sequence[Delivery]]]) -> None:
        """Deliveries to many users' feeds of this class (one entry per user): every view read
        in one storage call and every change written in one, which Redis pipelines; a fanout's
        cost is then its round trips, not one pair per recipient."""
        addressing = _Addressing()
        feeds = [
            (cls(user_id, backend), addressing.deliveries(user_id, deliveries))
            for user_id, deliveries in work
        ]
        requests = [feed._view_request([d.state.activity for d in ds], cls.max_length) for feed, ds in feeds]
        views = backend.aggregated.load_views(requests, cls.activity_class, cls.aggregated_activity_class)
        cls._apply_many(
            backend,
            [
                (
                    feed,
                    plan_deliver(
                        feed.get_aggregator(), view, ds, cls.max_length, cls.track_counts, cls.trim_slack
                    ),
                )
                for (feed, ds), view in zip(feeds, views, strict=True)
            ],
        )

    def refresh(self, states: Sequence[ActivityState]) -> None:
        """Show the current state (updated or removed) of activities this feed holds."""
        addressing = _Addressing()
        states = [replace(s, activity=addressing.activity(self.user_id, s.activity)) for s in states]
        view = self._view_for([s.activity for s in states], None)
        self._apply(plan_refresh(self.get_aggregator(), view, states, self.track_counts))

    def hide_actor(self, actor_id: str, before: int | None = None) -> None:
        """Hide every activity by actor_id (an unfollow at version `before`): they keep their
        places, unshown, until a new follow's copy shows them again or max_length pushes them
        out. Those that reached the feed at or after the unfollow never belonged: taken out."""
        view = self._full_view()
        self._apply(
            plan_hide_actor(view, actor_id, before, self.track_counts, self.max_length, self.trim_slack)
        )

    # -- Stream Framework's direct API ------------------------------------------------

    def add(self, activity: Activity) -> None:
        self.add_many([activity])

    def add_many(self, activities: Sequence[Activity]) -> None:
        """Add directly, stamped with each activity's own time (the pipeline uses deliver)."""
        states = direct_states(activities)
        self.backend.activities.apply(states)
        self.deliver([Delivery(s, s.added) for s in states])

    def remove(self, activity: Activity | str) -> None:
        self.remove_many([activity])

    def remove_many(self, activities: Iterable[Activity | str]) -> None:
        """Hide activities in this feed only (to remove one everywhere, use the manager)."""
        wanted = {a if isinstance(a, str) else a.id for a in activities}
        view = self._full_view()
        held = [
            ActivityState(a, 0, 0, removed=True)
            for g in view.groups.values()
            for a in g.activities
            if a.id in wanted
        ]
        self._apply(plan_refresh(self.get_aggregator(), view, held, self.track_counts))

    def update_many(self, activities: Sequence[Activity]) -> None:
        """Show new versions (new extra_context) of activities the feed holds."""
        self.refresh([ActivityState(a, a.sort_key, a.sort_key) for a in activities])

    def count(self) -> int:
        return self.backend.aggregated.count(self.key)

    def delete(self) -> None:
        self.backend.aggregated.delete(self.key)

    def trim(self, length: int | None = None) -> None:
        length = self.max_length if length is None else length
        view = self._full_view()
        ranks = [(rank, name) for rank, name in view.ranks if not is_spilled(rank)]
        if length is not None and len(ranks) > length:
            dropped = [name for _, name in ranks[length:]]
            kept = [view.groups[name] for _, name in ranks[:length] if name in view.groups]
            meta = None
            if self.track_counts:
                unseen, unread = notification_counts(kept)
                meta = replace(view.meta, unseen=unseen, unread=unread)
            self._apply(AggregatedWrite((), dropped, meta))


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

    def mark_all(
        self,
        seen: bool = True,
        read: bool | None = None,
        when: datetime | None = None,
        displayed: Iterable[str] | None = None,
    ) -> None:
        """Mark every group seen (and read, if read=True; reading implies seeing): what the feed
        shows now, by member ids, so a group that gets a new member afterwards is unseen again
        and no clock decides. displayed: the activity ids the client showed, when it knows
        (members that arrived after its page stay unseen). when: mark by time instead,
        everything that arrived by then (the marks of older versions).

        From a manager's feed this publishes the mark (the user's
        materializer applies it: one writer per feed); otherwise it applies it.
        """
        self._mark(None, seen, bool(read), when, displayed)

    def mark_activities(
        self,
        groups: Iterable[str | AggregatedActivity],
        seen: bool = True,
        read: bool = False,
        when: datetime | None = None,
        displayed: Iterable[str] | None = None,
    ) -> None:
        """Mark the given groups: a group object covers the members it holds (what the caller
        displayed), a group key the members the feed holds now (or those of `displayed`)."""
        groups = list(groups)
        names = tuple(g if isinstance(g, str) else g.group for g in groups)
        held = tuple((g.group, tuple(g.live_ids)) for g in groups if not isinstance(g, str))
        self._mark(names, seen, read, when, displayed, held)

    def _mark(
        self,
        groups: tuple[str, ...] | None,
        seen: bool,
        read: bool,
        when: datetime | None,
        displayed: Iterable[str] | None = None,
        held: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ) -> None:
        covers = None
        if when is None:
            given = {name for name, _ in held}
            keys = None if groups is None else [g for g in groups if g not in given]
            resolved = resolve_covers(self._all(), keys, displayed) if keys is None or keys else ()
            covers = tuple(sorted((*resolved, *((n, ids) for n, ids in held if ids))))
        spec = MarkSpec(self.name, groups, seen, read, when or datetime.now(UTC), covers)
        if self.mark_sink is not None:
            self.mark_sink(self.user_id, spec)
        else:
            self.apply_mark(spec)

    def apply_mark(self, spec: MarkSpec) -> None:
        """Apply a mark to storage: only the user's materializer (or inline mode) calls this."""
        if not (spec.seen or spec.read):
            return
        if spec.covers is None:  # a mark by time (older producers)
            self._apply(plan_mark(self._full_view(), spec.groups, spec.seen, spec.read, spec.time))
            return
        names = sorted({group for group, _ in spec.covers})
        view = self.backend.aggregated.load_view(
            self.key, names, None, self.activity_class, self.aggregated_activity_class
        )
        self._apply(plan_cover(view, spec.covers, spec.read))


class _Addressing:
    """Each recipient's copy of an activity, its `to` narrowed to the entries naming the
    recipient (Activity.addressed_to): who else was targeted is grouped once per activity, so
    a delivery to n targets costs n, not n squared."""

    def __init__(self) -> None:
        self._by_activity: dict[str, dict[str, tuple[str, ...]]] = {}

    def activity(self, user_id: str, activity: Activity) -> Activity:
        if not activity.to:
            return activity
        by_user = self._by_activity.get(activity.id)
        if by_user is None:
            by_user = self._by_activity[activity.id] = targets_by_user(activity.to)
        return activity.addressed_to(by_user.get(user_id, ()))

    def activities(self, user_id: str, activities: Iterable[Activity]) -> list[Activity]:
        return [self.activity(user_id, a) for a in activities]

    def deliveries(self, user_id: str, deliveries: Iterable[Delivery]) -> list[Delivery]:
        return [
            d
            if not d.state.activity.to
            else replace(d, state=replace(d.state, activity=self.activity(user_id, d.state.activity)))
            for d in deliveries
        ]
