"""The storage contracts every backend (memory, Redis, Cassandra) fulfils identically.

Feeds talk only to these. A timeline holds activity ids ordered by id, which
is time order with ties broken by the id's digest (pipeline.ids); an
aggregated timeline holds groups ordered by their newest activity. Every
write is keyed by activity id or group, so applying it twice leaves exactly
the state of applying it once: the pipeline replays and retries freely.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.activity import Activity
from pipeline.aggregated_activity import AggregatedActivity
from pipeline.aggregation import AggregatedView, AggregatedWrite


@dataclass(frozen=True)
class Bounds:
    """Id-cursor bounds of a page: activity_id__gt/__gte/__lt/__lte, all optional."""

    gt: str | None = None
    gte: str | None = None
    lt: str | None = None
    lte: str | None = None

    def admits(self, activity_id: str) -> bool:
        return not (
            (self.gt is not None and activity_id <= self.gt)
            or (self.gte is not None and activity_id < self.gte)
            or (self.lt is not None and activity_id >= self.lt)
            or (self.lte is not None and activity_id > self.lte)
        )

    @property
    def lower(self) -> tuple[str, bool] | None:
        """The tighter lower bound as (id, inclusive)."""
        if self.gt is not None and (self.gte is None or self.gt >= self.gte):
            return self.gt, False
        if self.gte is not None:
            return self.gte, True
        return None

    @property
    def upper(self) -> tuple[str, bool] | None:
        """The tighter upper bound as (id, inclusive)."""
        if self.lt is not None and (self.lte is None or self.lt <= self.lte):
            return self.lt, False
        if self.lte is not None:
            return self.lte, True
        return None


NO_BOUNDS = Bounds()


@dataclass(frozen=True)
class PageRequest:
    """What a slice of a feed asks storage for."""

    offset: int = 0
    limit: int | None = None
    bounds: Bounds = NO_BOUNDS
    ascending: bool = False


class ActivityStorage(ABC):
    """Activities stored once, by id, for timelines that hold ids only."""

    @abstractmethod
    def add_many(self, activities: Sequence[Activity]) -> None: ...

    @abstractmethod
    def get_many(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, Activity]:
        """The activities found, by id; missing ids are left out."""

    @abstractmethod
    def remove_many(self, activity_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def set_removed(self, activity_ids: Sequence[str], removed: bool) -> None:
        """Record (or clear) that activities were removed by their producer.

        A removal and a delivery of the same activity can reach a feed in
        either order (a follow's history copy races a removal); the
        materializer drops deliveries of removed activities, so the removal
        wins whichever arrives first.
        """

    @abstractmethod
    def removed_among(self, activity_ids: Sequence[str]) -> set[str]:
        """Which of these activities are recorded as removed: one lookup."""


class TimelineStorage(ABC):
    """Flat timelines: ordered activity ids per feed key, each trimmed to a max length."""

    activities: ActivityStorage

    @abstractmethod
    def add_batches(
        self, batches: Sequence[tuple[Sequence[str], Sequence[Activity]]], max_length: int | None
    ) -> None:
        """Each batch's activities into each of its timelines, then trim them: one round trip
        for all where the backend allows."""

    def add_to_many(
        self, keys: Sequence[str], activities: Sequence[Activity], max_length: int | None
    ) -> None:
        """Add activities to every timeline in keys, then trim each: one batch for all."""
        self.add_batches([(keys, activities)], max_length)

    def add_many(self, key: str, activities: Sequence[Activity], max_length: int | None) -> None:
        self.add_to_many([key], activities, max_length)

    @abstractmethod
    def remove_from_many(self, keys: Sequence[str], activity_ids: Sequence[str]) -> None: ...

    def update_in_many(self, keys: Sequence[str], activities: Sequence[Activity]) -> None:
        """Store new versions of activities (same ids) for the timelines that hold them.

        Normalized storage holds each activity once, so rewriting it there
        updates every feed; denormalized storage overrides this.
        """
        self.activities.add_many(activities)

    def remove_many(self, key: str, activity_ids: Sequence[str]) -> None:
        self.remove_from_many([key], activity_ids)

    @abstractmethod
    def get_page(
        self, key: str, page: PageRequest, activity_class: type[Activity] = Activity
    ) -> list[Activity]:
        """Hydrated activities of the page, newest first unless page.ascending."""

    @abstractmethod
    def get_ids(self, key: str, page: PageRequest) -> list[str]:
        """Activity ids of the page, without hydration."""

    @abstractmethod
    def count(self, key: str) -> int: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def trim(self, key: str, max_length: int) -> None:
        """Keep only the max_length newest activities."""


class AggregatedStorage(ABC):
    """Aggregated timelines: groups per feed key, ordered by their newest activity."""

    @abstractmethod
    def get_all(
        self,
        key: str,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        """Every group of the feed, newest first: what a merge reads."""

    @abstractmethod
    def get_page(
        self,
        key: str,
        offset: int,
        limit: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]: ...

    @abstractmethod
    def get_ranks(self, key: str) -> list[tuple[str, str]]:
        """(rank, group) of every group, newest first: names only, nothing decoded."""

    @abstractmethod
    def get_groups(
        self,
        key: str,
        names: Sequence[str],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> dict[str, AggregatedActivity]:
        """The named groups that exist."""

    def load_view(
        self,
        key: str,
        names: Sequence[str],
        tail_start: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> AggregatedView:
        """What a write touching `names` needs: those groups, the ones from rank tail_start
        on (which max_length may push out), every rank, and the counts."""
        ranks = self.get_ranks(key)
        wanted = set(names)
        if tail_start is not None:
            wanted.update(name for _, name in ranks[tail_start:])
        groups = self.get_groups(key, sorted(wanted), activity_class, aggregated_class)
        return AggregatedView(groups, ranks, self.counts(key))

    @abstractmethod
    def write(self, key: str, change: AggregatedWrite) -> None:
        """Apply upserts, deletes and counts together."""

    @abstractmethod
    def count(self, key: str) -> int: ...

    @abstractmethod
    def counts(self, key: str) -> tuple[int, int]:
        """(unseen, unread) as last written: one lookup."""

    @abstractmethod
    def delete(self, key: str) -> None: ...


class FollowStorage(ABC):
    """The follow graph the pipeline keeps from follow events, both directions.

    Fanout reads an actor's followers; follow and unfollow write both sides.
    Following twice is following once, so replays are harmless.
    """

    @abstractmethod
    def follow(self, follower: str, followed: str) -> None: ...

    @abstractmethod
    def unfollow(self, follower: str, followed: str) -> None: ...

    @abstractmethod
    def followers(self, user_id: str) -> list[str]:
        """Who follows user_id, sorted."""

    @abstractmethod
    def following_among(self, followers: Sequence[str], followed: str) -> set[str]:
        """Which of followers follow followed now: one lookup for a whole batch."""

    @abstractmethod
    def following(self, user_id: str) -> list[str]:
        """Whom user_id follows, sorted."""


class CountsPublisher(ABC):
    """Where notification count changes go for realtime clients."""

    @abstractmethod
    def publish(self, user_id: str, feed_key: str, unseen: int, unread: int) -> None: ...


class Backend:
    """One storage backend's three storages and its publisher, sharing connections."""

    name: str = "backend"
    activities: ActivityStorage
    timelines: TimelineStorage
    aggregated: AggregatedStorage
    follows: FollowStorage
    publisher: CountsPublisher

    def close(self) -> None:
        """Release connections; the memory backend has none."""
