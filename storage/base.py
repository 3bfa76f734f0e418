"""The storage contracts every backend (memory, Redis, Cassandra) fulfils identically.

Feeds talk only to these. A timeline holds activity ids ordered by id, which
is time order with ties broken by the id's digest (streamfeed.domain.ids); an
aggregated timeline holds groups ordered by their newest activity. Every
write is keyed by activity id or group, so applying it twice leaves exactly
the state of applying it once: the pipeline replays and retries freely.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregation import AggregatedView, AggregatedWrite, FeedMeta, is_spilled
from streamfeed.domain.author_modes import ModeChanges
from streamfeed.domain.follow_state import FollowState, Unfollowed, next_follow_state
from streamfeed.storage.reactions import ReactionStorage
from streamfeed.storage.serialization import StoredForms

#: How long a removed activity's state is kept by default (seconds): the feed-ops
#: retention (7 days) plus a day. A delivery later than this could bring it back.
DEFAULT_REMOVED_TTL = 8 * 86_400


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
class WindowQuery:
    """The newest `limit` entries of a timeline whose activity times (sort keys, microseconds)
    are in [since, until): what a hybrid read takes from the follower's own feed and from each
    pulled author's user feed. None: unbounded."""

    key: str
    since: int | None = None
    until: int | None = None
    limit: int | None = None
    #: False: the timeline holds no hidden entries (a user feed), so their set is not read.
    hidden: bool = True

    def id_bounds(self) -> tuple[str | None, str | None]:
        """The bounds as id prefixes: ids order as their times (streamfeed.domain.ids)."""
        return (
            None if self.since is None else f"{self.since:014x}",
            None if self.until is None else f"{self.until:014x}",
        )


#: A timeline entry as a window returns it: (activity id, hidden).
WindowEntry = tuple[str, bool]


@dataclass(frozen=True)
class PageRequest:
    """What a slice of a feed asks storage for."""

    offset: int = 0
    limit: int | None = None
    bounds: Bounds = NO_BOUNDS
    ascending: bool = False


def page_of_ids(ids_ascending: list[str], page: PageRequest) -> list[str]:
    """Apply bounds, direction, offset and limit to a sorted id list."""
    low, high = 0, len(ids_ascending)
    if (lower := page.bounds.lower) is not None:
        value, inclusive = lower
        low = (bisect.bisect_left if inclusive else bisect.bisect_right)(ids_ascending, value)
    if (upper := page.bounds.upper) is not None:
        value, inclusive = upper
        high = (bisect.bisect_right if inclusive else bisect.bisect_left)(ids_ascending, value)
    selected = ids_ascending[low:high] if low < high else []
    if not page.ascending:
        selected = selected[::-1]
    end = None if page.limit is None else page.offset + page.limit
    return selected[page.offset : end]


class ActivityStorage(ABC):
    """Each activity's newest state (live or removed), stored once, by id.

    apply keeps the state with the highest version whatever order states
    arrive in, so a late ADD never brings back an old body or a removed
    activity. Removed states expire after removed_ttl seconds.
    """

    removed_ttl: int = DEFAULT_REMOVED_TTL

    @abstractmethod
    def apply(self, states: Sequence[ActivityState]) -> None:
        """Store each state unless a state of the same or a higher version is stored."""

    @abstractmethod
    def get_states(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, ActivityState]:
        """The stored states found, live or removed, by id; unknown ids are left out."""

    def get_many(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, Activity]:
        """The live activities found, by id; removed and unknown ids are left out."""
        states = self.get_states(activity_ids, activity_class)
        return {i: s.activity for i, s in states.items() if not s.removed}


class TimelineStorage(ABC):
    """Flat timelines: ordered activity ids per feed key, each trimmed to a max length.

    A timeline holds an entry for every activity delivered to it, live or
    removed, shown or hidden: a removed activity, or one whose actor the
    owner unfollowed (hidden), keeps its place until newer ones push it out,
    so which entries max_length keeps never depends on when a removal or an
    unfollow arrived. Reads (pages, counts) show live, unhidden entries only.

    Trimming keeps the newest `slack` entries it cut in the timeline's spill,
    never read, and an entry taken out (an unfollow's takeout of what was
    delivered while it was on its way) is replaced by the spill's newest: an
    unfollow consumed after deliveries it should have stopped leaves the feed
    as if it had come first, as long as they pushed out at most `slack`
    entries.
    """

    activities: ActivityStorage

    @abstractmethod
    def add_batches(
        self,
        batches: Sequence[tuple[Sequence[str], Sequence[ActivityState]]],
        max_length: int | None,
        hidden: bool = False,
        slack: int = 0,
    ) -> None:
        """Each batch's activities into each of its timelines, then trim them, keeping the newest
        `slack` entries cut in the spill: one round trip for all where the backend allows. The
        entries become hidden, or shown, as `hidden` says (and leave the spill if there)."""

    def add_to_many(
        self,
        keys: Sequence[str],
        states: Sequence[ActivityState],
        max_length: int | None,
        slack: int = 0,
    ) -> None:
        """Add activities to every timeline in keys, then trim each: one batch for all."""
        self.add_batches([(keys, states)], max_length, slack=slack)

    def add_many(
        self, key: str, states: Sequence[ActivityState], max_length: int | None, slack: int = 0
    ) -> None:
        self.add_to_many([key], states, max_length, slack)

    def refresh(self, keys: Sequence[str], states: Sequence[ActivityState]) -> None:
        """Show the newest state of activities in the timelines that hold them.

        Normalized storage reads every activity from activity storage, so
        there is nothing to do; denormalized storage (Cassandra) rewrites
        its rows.
        """
        return None

    @abstractmethod
    def hide(self, key: str, activity_ids: Sequence[str]) -> None:
        """Hide entries the timeline or its spill holds (an unfollow); others are ignored."""

    @abstractmethod
    def remove_from_many(self, keys: Sequence[str], activity_ids: Sequence[str]) -> None:
        """Take entries out for good (Stream Framework's remove), live or removed, from the
        timelines and their spills; each entry a timeline loses is refilled from its spill's
        newest."""

    def remove_many(self, key: str, activity_ids: Sequence[str]) -> None:
        self.remove_from_many([key], activity_ids)

    @abstractmethod
    def get_page(
        self, key: str, page: PageRequest, activity_class: type[Activity] = Activity
    ) -> list[Activity]:
        """Live activities of the page, newest first unless page.ascending."""

    def get_ids(self, key: str, page: PageRequest) -> list[str]:
        """Ids of the page's live activities."""
        return [a.id for a in self.get_page(key, page)]

    @abstractmethod
    def entries(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        """Every entry with its state, removed and hidden ones included, oldest first: what an
        unfollow reads."""

    @abstractmethod
    def spilled(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        """The spill's entries with their states, oldest first: what an unfollow reads too, so
        that a refill never brings back what it took out or should hide."""

    @abstractmethod
    def hidden_ids(self, key: str) -> list[str]:
        """Ids of the hidden entries, sorted."""

    @abstractmethod
    def windows(self, queries: Sequence[WindowQuery]) -> list[list[WindowEntry]]:
        """Each query's entries, newest first, removed ones included (their states say so):
        one round trip for all where the backend allows."""

    def pulled_window(
        self,
        follows: FollowStorage,
        follower: str,
        own: WindowQuery,
        authors: Sequence[tuple[str, Sequence[WindowQuery]]],
        cut: int | None,
    ) -> tuple[list[tuple[str, bool, str | None]], dict[str, FollowState]]:
        """A hybrid read's window in one go: the follower's state with each author, then the
        merged window of its own timeline and the related authors' queries, cut at `cut` unless
        an author was unfollowed (then whole: the caller decides which of its entries hold
        places). Entries come as (id, hidden, author or None for the own timeline). Redis does
        it all in one script call."""
        states = follows.follow_states(follower, [author for author, _ in authors])
        queries, origin = [own], [cast(str | None, None)]
        for author, wanted in authors:
            if author in states:
                queries += wanted
                origin += [author] * len(wanted)
        ending = any(isinstance(state, Unfollowed) for state in states.values())
        merged = self.merged_window(queries, None if ending else cut)
        return [(i, hidden, origin[index]) for i, hidden, index in merged], states

    def merged_window(self, queries: Sequence[WindowQuery], cut: int | None) -> list[tuple[str, bool, int]]:
        """The union of the queries' windows, newest first, at most `cut` entries: each id once,
        from the first query that holds it, as (id, hidden, index of that query). What a hybrid
        read merges; Redis does it in one script call."""
        merged: dict[str, tuple[bool, int]] = {}
        for index, entries in enumerate(self.windows(queries)):
            for activity_id, hidden in entries:
                merged.setdefault(activity_id, (hidden, index))
        newest = sorted(merged, reverse=True)[:cut]
        return [(i, *merged[i]) for i in newest]

    @abstractmethod
    def count(self, key: str) -> int:
        """Live, unhidden activities in the timeline."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def trim(self, key: str, max_length: int, slack: int = 0) -> None:
        """Keep only the max_length newest entries (and the next `slack` in the spill)."""


class AggregatedStorage(ABC):
    """Aggregated timelines: groups per feed key, ordered by their newest activity.

    A group with no live member (dormant) is stored and ranked, so max_length
    counts it, but pages and count() leave it out.
    """

    @abstractmethod
    def get_all(
        self,
        key: str,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        """Every group of the feed, dormant ones too, newest first: what a write reads."""

    @abstractmethod
    def get_page(
        self,
        key: str,
        offset: int,
        limit: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        """Shown groups (at least one live member), newest first, after offset, at most limit."""

    @abstractmethod
    def get_ranks(self, key: str) -> list[tuple[str, str]]:
        """(rank, group) of every group, dormant ones too, newest first: nothing decoded."""

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
        if tail_start is not None:  # groups kept aside rank last and are never pushed out
            wanted.update(name for rank, name in ranks[tail_start:] if not is_spilled(rank))
        groups = self.get_groups(key, sorted(wanted), activity_class, aggregated_class)
        return AggregatedView(groups, ranks, self.meta(key))

    def load_views(
        self,
        requests: Sequence[tuple[str, Sequence[str], int | None]],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedView]:
        """load_view for many feeds (key, names, tail_start): a fanout's recipients at once. Redis
        answers them all in one round trip."""
        return [self.load_view(k, n, t, activity_class, aggregated_class) for k, n, t in requests]

    @abstractmethod
    def write(self, key: str, change: AggregatedWrite) -> None:
        """Apply upserts, deletes and meta together."""

    def write_many(self, changes: Sequence[tuple[str, AggregatedWrite]]) -> None:
        """write for many feeds; Redis sends them all in one round trip."""
        for key, change in changes:
            self.write(key, change)

    @abstractmethod
    def count(self, key: str) -> int:
        """Shown groups."""

    @abstractmethod
    def meta(self, key: str) -> FeedMeta:
        """Counts and feed-wide marks as last written: one lookup."""

    def counts(self, key: str) -> tuple[int, int]:
        """(unseen, unread) as last written: one lookup."""
        return self.meta(key).counts

    @abstractmethod
    def delete(self, key: str) -> None: ...


class FollowStorage(ABC):
    """The follow graph the pipeline keeps from follow events, both directions.

    Each follow remembers its version (the follow event's time): it stamps
    the activities the follow brings into the follower's feeds. An unfollow
    is remembered too (with the follow it ended): activities published
    before it still take their (hidden) places in the follower's feeds
    however late they are delivered, as they would have in event order. The
    newest event of a pair wins, so replays and redeliveries are harmless.
    """

    def follow(self, follower: str, followed: str, version: int = 0) -> None:
        state = self.state(follower, followed)
        self._store(follower, followed, state, next_follow_state(state, True, version))

    def unfollow(self, follower: str, followed: str, version: int | None = None) -> None:
        """End the follow; without a version, whatever follow is stored."""
        state = self.state(follower, followed)
        if version is None:
            version = state if isinstance(state, int) else 0
        self._store(follower, followed, state, next_follow_state(state, False, version))

    @abstractmethod
    def state(self, follower: str, followed: str) -> FollowState:
        """The pair's stored state."""

    @abstractmethod
    def _store(self, follower: str, followed: str, old: FollowState, new: FollowState) -> None:
        """Write the pair's new state to every key or table that holds it, even when it equals
        the old one: an event applied again then repairs an index that was lost (the user's
        `following` set, say), which `rebuild --user --graph` relies on. Events are rarely
        applied twice, so the rewrite costs little."""

    @abstractmethod
    def followers(self, user_id: str) -> list[str]:
        """Who follows user_id, sorted."""

    @abstractmethod
    def follow_versions(self, followers: Sequence[str], followed: str) -> dict[str, int]:
        """Which of followers follow followed now, with each follow's version: one lookup."""

    def follow_versions_many(self, queries: Sequence[tuple[Sequence[str], str]]) -> list[dict[str, int]]:
        """follow_versions for many (followers, followed) at once: a run of deliveries from many
        actors; Redis answers them in one round trip."""
        return [self.follow_versions(followers, followed) for followers, followed in queries]

    def unfollows_many(self, queries: Sequence[tuple[Sequence[str], str]]) -> list[dict[str, Unfollowed]]:
        """unfollows for many (followers, followed) at once."""
        return [self.unfollows(followers, followed) for followers, followed in queries]

    def following_among(self, followers: Sequence[str], followed: str) -> set[str]:
        """Which of followers follow followed now."""
        return set(self.follow_versions(followers, followed))

    @abstractmethod
    def unfollows(self, followers: Sequence[str], followed: str) -> dict[str, Unfollowed]:
        """Which of followers unfollowed followed (and follow no more), with when: one lookup."""

    def followers_many(self, user_ids: Sequence[str]) -> list[list[str]]:
        """followers for each user (the actors of a fanout run); Redis answers in one round trip."""
        return [self.followers(user_id) for user_id in user_ids]

    def followers_page(self, user_id: str, cursor: str | None, count: int) -> tuple[list[str], str | None]:
        """About `count` followers of user_id from `cursor` on (None: the start), and the cursor of
        the rest (None: no more): how the fanout streams an author's followers in pages, so its
        memory stays flat whatever their number. Every follower there for the whole walk is
        returned at least once; a page may repeat one (deliveries are idempotent)."""
        followers = self.followers(user_id)
        start = 0 if cursor is None else bisect.bisect_right(followers, cursor)
        page = followers[start : start + count]
        return page, (page[-1] if start + count < len(followers) else None)

    def followers_pages_many(self, user_ids: Sequence[str], count: int) -> list[tuple[list[str], str | None]]:
        """The first page of followers of each user (a fanout run's actors): one round trip on Redis."""
        return [self.followers_page(user_id, None, count) for user_id in user_ids]

    def former_followers_many(self, asked: Sequence[tuple[str, int]]) -> list[list[str]]:
        """former_followers for each (user, after)."""
        return [self.former_followers(user_id, after) for user_id, after in asked]

    @abstractmethod
    def former_followers(self, user_id: str, after: int) -> list[str]:
        """Who unfollowed user_id with an unfollow newer than version `after`, sorted: whose
        feeds an activity published at `after` still reaches, hidden."""

    @abstractmethod
    def following(self, user_id: str) -> list[str]:
        """Whom user_id follows, sorted."""

    def follower_counts(self, user_ids: Sequence[str], at_most: int) -> list[int]:
        """How many follow each user, counted up to at_most: what a threshold compares, for an
        author whose followers the fanout did not read (pulled)."""
        return [min(len(self.followers(user_id)), at_most) for user_id in user_ids]

    def followers_after(self, user_id: str, after: str | None, limit: int) -> list[str]:
        """Up to `limit` followers of user_id in user id order, after `after` (None: from the
        first): the listing an app shows, paged by id so a page never repeats or skips a
        follower that stays while it pages."""
        return _after(self.followers(user_id), after, limit)

    def following_after(self, user_id: str, after: str | None, limit: int) -> list[str]:
        """Up to `limit` users user_id follows, in user id order, after `after`."""
        return _after(self.following(user_id), after, limit)

    def graph_counts(self, user_ids: Sequence[str]) -> list[tuple[int, int]]:
        """(followers, following) of each user: exact counts, one round trip where possible."""
        return [(len(self.followers(user_id)), len(self.following(user_id))) for user_id in user_ids]

    def follow_states(self, follower: str, followed: Sequence[str]) -> dict[str, FollowState]:
        """The follower's pair state with each of followed, leaving out pairs never followed:
        what a hybrid read asks of its pulled authors, in one round trip where possible."""
        states = {user: self.state(follower, user) for user in followed}
        return {user: state for user, state in states.items() if state is not None}

    @abstractmethod
    def author_modes(self) -> dict[str, ModeChanges]:
        """Every author that was ever switched to pull, with its mode changes
        (streamfeed.domain.author_modes). Few authors: a read asks for all of them at once."""

    @abstractmethod
    def store_author_modes(self, author: str, changes: ModeChanges) -> None:
        """Replace the author's mode changes (the author's partition is their one writer)."""


def _after(users: list[str], after: str | None, limit: int) -> list[str]:
    """The sorted users' slice of `limit` after `after`."""
    start = 0 if after is None else bisect.bisect_right(users, after)
    return users[start : start + limit]


class CountsPublisher(ABC):
    """Where realtime clients learn what changed: notification count changes and new feed entries.

    Each user's events are also kept in a short log (the newest
    REALTIME_KEEP), so a client that reconnects with the id of the last event
    it saw gets what it missed, in order, without gaps. Every kept event has
    a "type": "counts", "entries" or "reactions".
    """

    @abstractmethod
    def publish(self, user_id: str, feed_key: str, unseen: int, unread: int) -> None: ...

    def publish_many(self, changes: Sequence[tuple[str, str, int, int]]) -> None:
        """Count changes (user, feed key, unseen, unread) of many feeds: a materializer run's.
        Redis sends them in one round trip."""
        for change in changes:
            self.publish(*change)

    def publish_entries(self, entries: Sequence[NewEntries | ReactionCountsChanged]) -> None:
        """New entries shown in users' feeds, one event per (user, feed), or reaction counts
        changed: batched, since a fanout produces one per recipient. A publisher with no log
        drops them."""
        return None

    def listen(self, user_id: str, seconds: float) -> None:
        """A realtime client of this user is connected: tell of new entries for `seconds` more
        (the HTTP API renews it while the stream is open, and the grace covers a reconnect)."""
        return None

    def listening(self, user_ids: Sequence[str]) -> set[str]:
        """Which of these users have a realtime client: entries are kept only for them, since
        telling every recipient of a fanout would cost a write per recipient."""
        return set()

    def listeners(self) -> list[str]:
        """Every user with a realtime client now: few next to a big author's followers, so the
        fanout asks which of them follow an author whose activities no materializer writes."""
        return []

    def read(self, user_id: str, after: str | None, timeout: float) -> list[tuple[str, dict[Any, Any]]]:
        """The user's events after id `after` (None: only new ones), waiting up to timeout for one."""

        time.sleep(timeout)  # no log kept by this publisher
        return []

    # -- the realtime streams' side: a stream costs a socket or a future, never a thread --------

    def valid_event_id(self, event_id: str) -> bool:
        """Whether a client's Last-Event-ID has the form this publisher's event ids have."""
        return _EVENT_SEQUENCE.fullmatch(event_id) is not None and int(event_id) < 2**64

    async def resume(self, user_id: str, after: str | None) -> tuple[str, bool]:
        """Where a stream starts reading: (the id to read after, whether events the client has
        not seen may be gone). None means from now on; an id ahead of the log (not one this log
        gave) or older than what it keeps is such a gap, and the client re-reads the feed."""
        return after or "0", False

    async def read_async(self, user_id: str, after: str, timeout: float) -> list[tuple[str, dict[Any, Any]]]:
        """read for the event loop: waits for an event without holding a thread."""
        await asyncio.sleep(timeout)  # no log kept by this publisher
        return []

    async def listen_async(self, user_id: str, seconds: float) -> None:
        """listen for the event loop."""
        self.listen(user_id, seconds)

    async def listen_many_async(self, user_ids: Sequence[str], seconds: float) -> None:
        """listen for every user with a stream open on this process: renewed all at once, not
        stream by stream (Redis takes one command for them all)."""
        for user_id in user_ids:
            await self.listen_async(user_id, seconds)

    async def close_async(self) -> None:
        """Release what the event loop's side holds (connections), at the API's shutdown."""
        return None


@dataclass(frozen=True, slots=True)
class NewEntries:
    """Activities that just became visible in one user's feed."""

    user_id: str
    feed: str  # the feed's key, as count events name it
    name: str  # the feed class's name ("normal", "aggregated", ...)
    activity_ids: tuple[str, ...]

    def message(self) -> dict[Any, Any]:
        return {
            "type": "entries",
            "user_id": self.user_id,
            "feed": self.feed,
            "name": self.name,
            "activity_ids": list(self.activity_ids),
        }


@dataclass(frozen=True)
class ReactionCountsChanged:
    """An activity in one user's feeds whose reaction counts changed: the counts now."""

    user_id: str
    activity_id: str
    counts: Mapping[str, int]

    def message(self) -> dict[Any, Any]:
        return {
            "type": "reactions",
            "user_id": self.user_id,
            "activity_id": self.activity_id,
            "counts": dict(self.counts),
        }


def counts_message(user_id: str, feed_key: str, unseen: int, unread: int) -> dict[Any, Any]:
    """A count change as it is PUBLISHed (the format Stream Framework users know)."""
    return {"user_id": user_id, "feed": feed_key, "unseen": unseen, "unread": unread}


#: Events kept per user for realtime clients that reconnect (Redis trims approximately,
#: so up to about twice as many may stay).
REALTIME_KEEP = 100
_EVENT_SEQUENCE = re.compile(r"[0-9]{1,20}")


class FailureLedger(ABC):
    """How often each record failed unexpectedly, kept where a restarted worker sees it.

    A record whose processing raises every time (a bug in an app's feed
    class, a value nobody planned for) is retried a bounded number of times,
    then dead-lettered; counting in storage, not in the process, bounds the
    retries across restarts too. Records are named "topic:partition:offset";
    counts expire after FAILURE_TTL, a week: a record is retried or
    dead-lettered long before.
    """

    @abstractmethod
    def failed(self, record: str) -> int:
        """Count one more failure of the record; returns how many it has now."""

    @abstractmethod
    def forget(self, record: str) -> None:
        """The record succeeded or was dead-lettered: its count goes."""


class StorageMarker(ABC):
    """Which storage this is: an identity written into it when a worker group first uses it.

    A Redis that restarted without persistence, a failover to an empty
    replica or a dropped keyspace looks like a storage with no feeds yet;
    a worker writing on would rebuild a few feeds from new events while
    every feed silently lost its history. The marker tells the two apart:
    gone (or changed) while the group has made progress means the data is.
    """

    @abstractmethod
    def read(self) -> str | None:
        """The storage's identity, None if it has none."""

    @abstractmethod
    def claim(self, identity: str) -> str:
        """Write the identity unless the storage has one; returns the one it holds (two workers
        stamping a new storage at once agree on the first)."""

    @abstractmethod
    def lease(self, holder: str, seconds: float) -> bool:
        """Take the rebuild lease for `holder`, or renew it if holder has it; False while another
        holder's lease lasts. Of the workers that find the storage lost, the one holding it
        rebuilds (STREAMFEED_AUTO_REBUILD); a holder that dies lets it lapse after `seconds`."""


#: Seconds a record's failure count is kept.
FAILURE_TTL = 7 * 24 * 3600


class Backend:
    """One storage backend's three storages and its publisher, sharing connections."""

    name: str = "backend"
    activities: ActivityStorage
    timelines: TimelineStorage
    aggregated: AggregatedStorage
    follows: FollowStorage
    #: Reactions: memory and Redis keep them; Cassandra does not yet (streamfeed.storage.reactions).
    reactions: ReactionStorage
    publisher: CountsPublisher
    failures: FailureLedger
    marker: StorageMarker
    #: How every storage of this backend encodes and decodes what it holds.
    forms: StoredForms

    def ranking_window(
        self, key: str, limit: int, top: str | None, kinds: Sequence[str]
    ) -> tuple[list[str], list[dict[str, int]]]:
        """A ranked read's candidates: the ids of the newest `limit` live entries of the timeline
        (at or below `top`), newest first, and each one's reaction counts of the kinds named.
        Servers override it with one round trip."""
        ids = self.timelines.get_ids(
            key, PageRequest(0, limit, NO_BOUNDS if top is None else Bounds(lte=top))
        )
        counts = self.reactions.kind_counts([(i, i) for i in ids], kinds) if kinds else [{} for _ in ids]
        return ids, counts

    def make_durable(self) -> None:
        """Return once the writes this process made so far survive the loss of the server that
        took them, as far as the deployment asks (a worker calls it before it commits offsets).
        Nothing to do here: the memory backend keeps nothing, Cassandra's consistency level
        already waits for its replicas."""
        return None

    def remember_decoded(self, size: int) -> None:
        """Share decoded activities among reads (StoredForms.remember_decoded): for a process
        that only renders what it reads, like the HTTP API."""
        self.forms.remember_decoded(size)

    def close(self) -> None:
        """Release connections; the memory backend has none."""
