"""In-process storage: the reference behaviour, for unit tests and inline mode.

It stores the same bytes as Redis and Cassandra (streamfeed.storage.serialization), so
the contract suite compares like with like and corrupt data fails the same way.
A lock makes it safe for the threads of one process; nothing is shared
between processes.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregation import AggregatedWrite, FeedMeta, is_spilled
from streamfeed.domain.author_modes import ModeChanges
from streamfeed.domain.follow_state import FollowState, Unfollowed
from streamfeed.storage.base import (
    REALTIME_KEEP,
    ActivityStorage,
    AggregatedStorage,
    Backend,
    CountsPublisher,
    FailureLedger,
    FollowStorage,
    NewEntries,
    PageRequest,
    ReactionCountsChanged,
    StorageMarker,
    TimelineStorage,
    WindowEntry,
    WindowQuery,
    counts_message,
    page_of_ids,
)
from streamfeed.storage.reactions import MemoryReactionStorage
from streamfeed.storage.serialization import StoredForms


class MemoryActivityStorage(ActivityStorage):
    """States as stored bytes by id; removed states expire like Redis keys with a TTL."""

    def __init__(self, forms: StoredForms, lock: threading.RLock, clock: Callable[[], float]) -> None:
        self.forms = forms
        self.lock = lock
        self.clock = clock
        self.data: dict[str, tuple[int, bytes]] = {}
        self.expiry: dict[str, float] = {}

    def apply(self, states: Sequence[ActivityState]) -> None:
        encoded = [(s.id, s.version, s.removed, self.forms.state_bytes(s)) for s in states]
        with self.lock:
            self._expire()
            for activity_id, version, removed, raw in encoded:
                old = self.data.get(activity_id)
                if old is not None and old[0] >= version:
                    continue
                self.data[activity_id] = (version, raw)
                if removed:
                    self.expiry[activity_id] = self.clock() + self.removed_ttl
                else:
                    self.expiry.pop(activity_id, None)

    def _expire(self) -> None:
        if self.expiry:
            now = self.clock()
            for activity_id in [i for i, at in self.expiry.items() if at <= now]:
                del self.expiry[activity_id]
                del self.data[activity_id]

    def get_states(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, ActivityState]:
        with self.lock:
            self._expire()
            found = [(i, self.data[i][1]) for i in activity_ids if i in self.data]
        return {i: self.forms.state(raw, activity_class, f"activity {i}") for i, raw in found}


class MemoryTimelineStorage(TimelineStorage):
    def __init__(self, activities: MemoryActivityStorage, lock: threading.RLock) -> None:
        self.activities = activities
        self.lock = lock
        self.timelines: dict[str, list[str]] = defaultdict(list)
        self.hidden: dict[str, set[str]] = defaultdict(set)
        #: Entries trimmed off each timeline, newest kept, id -> hidden: what a takeout refills from.
        self.spills: dict[str, dict[str, bool]] = {}

    def add_batches(
        self,
        batches: Sequence[tuple[Sequence[str], Sequence[ActivityState]]],
        max_length: int | None,
        hidden: bool = False,
        slack: int = 0,
    ) -> None:
        with self.lock:
            for keys, states in batches:
                ids = [s.id for s in states]
                for key in keys:
                    spill = self.spills.get(key)
                    if spill:
                        for activity_id in ids:
                            spill.pop(activity_id, None)
                    timeline = self.timelines[key]
                    for activity_id in ids:
                        index = bisect.bisect_left(timeline, activity_id)
                        if index == len(timeline) or timeline[index] != activity_id:
                            timeline.insert(index, activity_id)
                    if hidden:
                        self.hidden[key].update(ids)
                    elif key in self.hidden:
                        self.hidden[key].difference_update(ids)
                    if max_length is not None:
                        self._trim(key, max_length, slack)

    def _trim(self, key: str, max_length: int, slack: int) -> None:
        timeline = self.timelines.get(key)
        if timeline and len(timeline) > max_length:
            dropped = timeline[: len(timeline) - max_length]
            del timeline[: len(timeline) - max_length]
            hidden = self.hidden.get(key, set())
            if slack > 0:
                spill = self.spills.setdefault(key, {})
                spill.update((i, i in hidden) for i in dropped)
                for activity_id in sorted(spill)[: max(0, len(spill) - slack)]:
                    del spill[activity_id]
            if hidden:
                hidden.difference_update(dropped)

    def hide(self, key: str, activity_ids: Sequence[str]) -> None:
        with self.lock:
            held = set(self.timelines.get(key, ()))
            wanted = [i for i in activity_ids if i in held]
            if wanted:
                self.hidden[key].update(wanted)
            spill = self.spills.get(key, {})
            for activity_id in activity_ids:
                if activity_id in spill:
                    spill[activity_id] = True

    def hidden_ids(self, key: str) -> list[str]:
        with self.lock:
            return sorted(self.hidden.get(key, ()))

    def windows(self, queries: Sequence[WindowQuery]) -> list[list[WindowEntry]]:
        found = []
        with self.lock:
            for query in queries:
                timeline = self.timelines.get(query.key, [])
                lower, upper = query.id_bounds()
                low = 0 if lower is None else bisect.bisect_left(timeline, lower)
                high = len(timeline) if upper is None else bisect.bisect_left(timeline, upper)
                ids = timeline[low:high][::-1][: query.limit]
                hidden = self.hidden.get(query.key, ())
                found.append([(i, i in hidden) for i in ids])
        return found

    def remove_from_many(self, keys: Sequence[str], activity_ids: Sequence[str]) -> None:
        with self.lock:
            for key in keys:
                timeline = self.timelines.get(key)
                if not timeline:
                    continue
                spill = self.spills.get(key, {})
                for activity_id in activity_ids:
                    spill.pop(activity_id, None)
                taken = 0
                for activity_id in activity_ids:
                    index = bisect.bisect_left(timeline, activity_id)
                    if index < len(timeline) and timeline[index] == activity_id:
                        del timeline[index]
                        taken += 1
                if self.hidden.get(key):
                    self.hidden[key].difference_update(activity_ids)
                for activity_id in sorted(spill, reverse=True)[:taken]:
                    bisect.insort(timeline, activity_id)
                    if spill.pop(activity_id):
                        self.hidden[key].add(activity_id)

    def _live(self, key: str, activity_class: type[Activity]) -> tuple[list[str], dict[str, Activity]]:
        with self.lock:
            hidden = self.hidden.get(key, set())
            timeline = [i for i in self.timelines.get(key, ()) if i not in hidden]
        found = self.activities.get_many(timeline, activity_class)
        return [i for i in timeline if i in found], found

    def get_page(
        self, key: str, page: PageRequest, activity_class: type[Activity] = Activity
    ) -> list[Activity]:
        ids, found = self._live(key, activity_class)
        return [found[i] for i in page_of_ids(ids, page)]

    def entries(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        with self.lock:
            timeline = list(self.timelines.get(key, ()))
        states = self.activities.get_states(timeline, activity_class)
        return [states[i] for i in timeline if i in states]

    def spilled(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        with self.lock:
            spill = sorted(self.spills.get(key, ()))
        states = self.activities.get_states(spill, activity_class)
        return [states[i] for i in spill if i in states]

    def count(self, key: str) -> int:
        return len(self._live(key, Activity)[0])

    def delete(self, key: str) -> None:
        with self.lock:
            self.timelines.pop(key, None)
            self.hidden.pop(key, None)
            self.spills.pop(key, None)

    def trim(self, key: str, max_length: int, slack: int = 0) -> None:
        with self.lock:
            self._trim(key, max_length, slack)


class MemoryAggregatedStorage(AggregatedStorage):
    def __init__(self, forms: StoredForms, lock: threading.RLock) -> None:
        self.forms = forms
        self.lock = lock
        self.groups: dict[str, dict[str, tuple[str, bytes]]] = defaultdict(dict)
        #: Groups with no live member, by feed: stored and ranked, not shown.
        self.dormant: dict[str, set[str]] = defaultdict(set)
        self.metas: dict[str, FeedMeta] = {}

    def _ordered(self, key: str, shown_only: bool = False) -> list[tuple[str, str, bytes]]:
        with self.lock:
            dormant = self.dormant.get(key, set()) if shown_only else set()
            items = [
                (rank, group, raw)
                for group, (rank, raw) in self.groups.get(key, {}).items()
                if group not in dormant
            ]
        items.sort(reverse=True)
        return items

    def get_all(
        self,
        key: str,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        return [
            self.forms.aggregated(raw, activity_class, aggregated_class, f"{key} group {group!r}")
            for _, group, raw in self._ordered(key)
        ]

    def get_page(
        self,
        key: str,
        offset: int,
        limit: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        items = self._ordered(key, shown_only=True)
        end = None if limit is None else offset + limit
        return [
            self.forms.aggregated(raw, activity_class, aggregated_class, f"{key} group {group!r}")
            for _, group, raw in items[offset:end]
        ]

    def get_ranks(self, key: str) -> list[tuple[str, str]]:
        return [(rank, group) for rank, group, _ in self._ordered(key)]

    def get_groups(
        self,
        key: str,
        names: Sequence[str],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> dict[str, AggregatedActivity]:
        with self.lock:
            stored = self.groups.get(key, {})
            found = {name: stored[name][1] for name in names if name in stored}
        return {
            name: self.forms.aggregated(raw, activity_class, aggregated_class, f"{key} group {name!r}")
            for name, raw in found.items()
        }

    def write(self, key: str, change: AggregatedWrite) -> None:
        rows = change.stored()
        encoded = {g.group: (rank, self.forms.aggregated_bytes(g)) for g, rank, _ in rows}
        shown = {g.group: live for g, _, live in rows}
        with self.lock:
            groups, dormant = self.groups[key], self.dormant[key]
            for group in change.deletes:
                groups.pop(group, None)
                dormant.discard(group)
            groups.update(encoded)
            for group, live in shown.items():
                if live:
                    dormant.discard(group)
                else:
                    dormant.add(group)
            if change.meta == FeedMeta():  # nothing to remember: store nothing, as for a new feed
                self.metas.pop(key, None)
            elif change.meta is not None:
                self.metas[key] = change.meta

    def count(self, key: str) -> int:
        with self.lock:
            return len(self.groups.get(key, ())) - len(self.dormant.get(key, ()))

    def meta(self, key: str) -> FeedMeta:
        with self.lock:
            return self.metas.get(key, FeedMeta())

    def delete(self, key: str) -> None:
        with self.lock:
            self.groups.pop(key, None)
            self.dormant.pop(key, None)
            self.metas.pop(key, None)


class MemoryCountsPublisher(CountsPublisher):
    """Calls subscribers in process; the memory stand-in for Redis pub/sub."""

    def __init__(self) -> None:
        self.subscribers: list[Callable[[dict[Any, Any]], None]] = []
        self.logs: dict[str, list[tuple[int, dict[Any, Any]]]] = defaultdict(list)
        self.sequence = 0
        self.changed = threading.Condition()
        self.listeners_until: dict[str, float] = {}
        #: The newest event dropped from each user's log: a client behind it missed events.
        self.trimmed: dict[str, int] = {}
        #: Streams waiting on the event loop, by user: woken from whichever thread publishes.
        self.waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = defaultdict(
            list
        )

    def subscribe(self, callback: Callable[[dict[Any, Any]], None]) -> None:
        self.subscribers.append(callback)

    def publish(self, user_id: str, feed_key: str, unseen: int, unread: int) -> None:
        message = counts_message(user_id, feed_key, unseen, unread)
        self._keep([(user_id, {"type": "counts", **message})])
        for callback in list(self.subscribers):
            callback(message)

    def listen(self, user_id: str, seconds: float) -> None:
        with self.changed:
            self.listeners_until[user_id] = time.monotonic() + seconds

    def listening(self, user_ids: Sequence[str]) -> set[str]:
        now = time.monotonic()
        with self.changed:
            return {u for u in user_ids if self.listeners_until.get(u, 0) > now}

    def listeners(self) -> list[str]:
        now = time.monotonic()
        with self.changed:
            return sorted(u for u, until in self.listeners_until.items() if until > now)

    def publish_entries(self, entries: Sequence[NewEntries | ReactionCountsChanged]) -> None:
        if entries:
            self._keep([(entry.user_id, entry.message()) for entry in entries])

    def _keep(self, events: list[tuple[str, dict[Any, Any]]]) -> None:
        with self.changed:
            for user_id, message in events:
                self.sequence += 1
                log = self.logs[user_id]
                log.append((self.sequence, message))
                if len(log) > REALTIME_KEEP:
                    self.trimmed[user_id] = log[-REALTIME_KEEP - 1][0]
                    del log[:-REALTIME_KEEP]
                for loop, waiter in self.waiters.pop(user_id, ()):
                    if not loop.is_closed():  # a stream's loop that ended meanwhile has no one to wake
                        loop.call_soon_threadsafe(_wake, waiter)
            self.changed.notify_all()

    def read(self, user_id: str, after: str | None, timeout: float) -> list[tuple[str, dict[Any, Any]]]:
        with self.changed:
            since = self.sequence if after is None else int(after) if after.isdigit() else 0
            self.changed.wait_for(lambda: any(n > since for n, _ in self.logs.get(user_id, ())), timeout)
            return [(str(n), m) for n, m in self.logs.get(user_id, ()) if n > since]

    async def resume(self, user_id: str, after: str | None) -> tuple[str, bool]:
        with self.changed:
            if after is None:
                return str(self.sequence), False
            if int(after) > self.sequence:  # not an id this log gave: start from now
                return str(self.sequence), True
            return after, int(after) < self.trimmed.get(user_id, 0)

    async def read_async(self, user_id: str, after: str, timeout: float) -> list[tuple[str, dict[Any, Any]]]:
        since = int(after)
        loop = asyncio.get_running_loop()
        with self.changed:
            found = [(str(n), m) for n, m in self.logs.get(user_id, ()) if n > since]
            if found:
                return found
            waiter: asyncio.Future[None] = loop.create_future()
            self.waiters[user_id].append((loop, waiter))
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:  # woken, timed out or cancelled (the client left): no longer waiting
            with self.changed:
                waiting = self.waiters.get(user_id, [])
                if (loop, waiter) in waiting:
                    waiting.remove((loop, waiter))
                if not waiting:
                    self.waiters.pop(user_id, None)
        with self.changed:
            return [(str(n), m) for n, m in self.logs.get(user_id, ()) if n > since]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class MemoryFollowStorage(FollowStorage):
    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.followers_of: dict[str, dict[str, int]] = defaultdict(dict)
        self.unfollowed_of: dict[str, dict[str, Unfollowed]] = defaultdict(dict)
        self.followed_by: dict[str, set[str]] = defaultdict(set)
        self.modes: dict[str, ModeChanges] = {}

    def state(self, follower: str, followed: str) -> FollowState:
        with self.lock:
            version = self.followers_of.get(followed, {}).get(follower)
            if version is not None:
                return version
            return self.unfollowed_of.get(followed, {}).get(follower)

    def _store(self, follower: str, followed: str, old: FollowState, new: FollowState) -> None:
        with self.lock:
            if isinstance(new, int):
                self.followers_of[followed][follower] = new
                self.unfollowed_of[followed].pop(follower, None)
                self.followed_by[follower].add(followed)
            elif isinstance(new, Unfollowed):
                self.unfollowed_of[followed][follower] = new
                self.followers_of[followed].pop(follower, None)
                self.followed_by[follower].discard(followed)

    def followers(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted(self.followers_of.get(user_id, ()))

    def following(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted(self.followed_by.get(user_id, ()))

    def followers_page(self, user_id: str, cursor: str | None, count: int) -> tuple[list[str], str | None]:
        with self.lock:  # sorted, after the cursor (the last follower of the page before)
            followers = sorted(f for f in self.followers_of.get(user_id, ()) if cursor is None or f > cursor)
        page = followers[:count]
        return page, (page[-1] if len(followers) > count else None)

    def follow_versions(self, followers: Sequence[str], followed: str) -> dict[str, int]:
        with self.lock:
            known = self.followers_of.get(followed, {})
            return {f: known[f] for f in followers if f in known}

    def unfollows(self, followers: Sequence[str], followed: str) -> dict[str, Unfollowed]:
        with self.lock:
            known = self.unfollowed_of.get(followed, {})
            return {f: known[f] for f in followers if f in known}

    def former_followers(self, user_id: str, after: int) -> list[str]:
        with self.lock:
            return sorted(f for f, u in self.unfollowed_of.get(user_id, {}).items() if u.version > after)

    def follower_counts(self, user_ids: Sequence[str], at_most: int) -> list[int]:
        with self.lock:
            return [min(len(self.followers_of.get(user_id, ())), at_most) for user_id in user_ids]

    def author_modes(self) -> dict[str, ModeChanges]:
        with self.lock:
            return dict(self.modes)

    def store_author_modes(self, author: str, changes: ModeChanges) -> None:
        with self.lock:
            self.modes[author] = changes


class MemoryFailureLedger(FailureLedger):
    """Failure counts of the process: inline mode has no restart to survive."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def failed(self, record: str) -> int:
        with self._lock:
            self.counts[record] = self.counts.get(record, 0) + 1
            return self.counts[record]

    def forget(self, record: str) -> None:
        with self._lock:
            self.counts.pop(record, None)


class MemoryStorageMarker(StorageMarker):
    def __init__(self) -> None:
        self.identity: str | None = None
        self._lease: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def read(self) -> str | None:
        return self.identity

    def claim(self, identity: str) -> str:
        with self._lock:
            if self.identity is None:
                self.identity = identity
            return self.identity

    def lease(self, holder: str, seconds: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._lease is None or self._lease[0] == holder or self._lease[1] <= now:
                self._lease = (holder, now + seconds)
                return True
            return False


class MemoryBackend(Backend):
    name = "memory"
    activities: MemoryActivityStorage
    timelines: MemoryTimelineStorage
    aggregated: MemoryAggregatedStorage
    follows: MemoryFollowStorage
    reactions: MemoryReactionStorage
    publisher: MemoryCountsPublisher

    def __init__(self, forms: StoredForms | None = None, clock: Callable[[], float] = time.time) -> None:
        forms = forms or StoredForms()
        self.forms = forms
        lock = threading.RLock()
        self.activities = MemoryActivityStorage(forms, lock, clock)
        self.timelines = MemoryTimelineStorage(self.activities, lock)
        self.aggregated = MemoryAggregatedStorage(forms, lock)
        self.follows = MemoryFollowStorage(lock)
        self.reactions = MemoryReactionStorage(lock)
        self.publisher = MemoryCountsPublisher()
        self.failures = MemoryFailureLedger()
        self.marker = MemoryStorageMarker()

    def dump(self) -> dict[Any, Any]:
        """Everything stored, as plain data: two backends with equal dumps hold the same bytes."""
        with self.lock_all():
            dumped = {
                "activities": {i: raw for i, (_, raw) in sorted(self.activities.data.items())},
                "timelines": {k: list(v) for k, v in sorted(self.timelines.timelines.items()) if v},
                "hidden": {k: sorted(v) for k, v in sorted(self.timelines.hidden.items()) if v},
                # Groups kept aside (the trim slack) depend on the order of events by design and
                # are never read: what is compared is what max_length keeps.
                "groups": {
                    k: dict(sorted(kept.items()))
                    for k, v in sorted(self.aggregated.groups.items())
                    if (kept := {g: row for g, row in v.items() if not is_spilled(row[0])})
                },
                "dormant": {
                    k: sorted(g for g in v if not is_spilled(self.aggregated.groups[k][g][0]))
                    for k, v in sorted(self.aggregated.dormant.items())
                    if any(not is_spilled(self.aggregated.groups[k][g][0]) for g in v)
                },
                "metas": dict(sorted(self.aggregated.metas.items())),
                "follows": {
                    k: dict(sorted(v.items())) for k, v in sorted(self.follows.followers_of.items()) if v
                },
                "unfollows": {
                    k: dict(sorted(v.items())) for k, v in sorted(self.follows.unfollowed_of.items()) if v
                },
            }
            if self.follows.modes:  # only apps that pull authors have any
                dumped["author_modes"] = dict(sorted(self.follows.modes.items()))
            reactions = self.reactions
            if reactions.stored:  # only apps with reactions have any
                dumped["reactions"] = {
                    "states": dict(sorted(reactions.stored.items())),
                    "by_kind": {k: list(v) for k, v in sorted(reactions.by_kind.items()) if v},
                    "by_user": {k: list(v) for k, v in sorted(reactions.by_user.items()) if v},
                }
            return dumped

    def lock_all(self) -> threading.RLock:
        lock: threading.RLock = self.activities.lock
        return lock
