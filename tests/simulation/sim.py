"""Deterministic simulation of the Kafka pipeline, in process, on memory storage.

The real steps (fanout, follows, materialize) run over in-memory topic logs
that behave as Kafka does for a consumer group: each partition is consumed in
order; partitions, topics and the two feed-ops lanes advance independently;
a consumer commits when it likes and, when it crashes, goes back to its last
commit and processes the uncommitted suffix again (what it had already sent
downstream stays sent). A seed picks every choice, so a failing schedule
replays exactly.

The property: after every message is consumed, storage holds exactly the
bytes inline mode stores applying the same events one by one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from streamfeed.app.manager import Manager
from streamfeed.app.steps import (
    apply_author_mode,
    apply_follow,
    expand_rests,
    fanout_many,
    materialize_many,
    partition_for,
    react_and_notify,
)
from streamfeed.demo.snapshot import snapshot
from streamfeed.domain.activity import Activity
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import (
    ActivityEvent,
    ActivityOp,
    FanoutPriority,
    FollowEvent,
    FollowOp,
    MarkSpec,
    mark_batch,
)
from streamfeed.domain.ids import sort_key_for
from streamfeed.domain.reactions import (
    ReactionEvent,
    add_event,
    reaction_identity,
    remove_event,
    update_event,
)
from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed
from streamfeed.feeds.flat import Feed, UserFeed
from streamfeed.storage.memory import MemoryBackend

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
#: How a notification feed groups, to name the groups a mark by ids covers.
NOTIFICATION_GROUPS = NotificationFeed.aggregator_class()


@dataclass(frozen=True)
class Mark:
    user: str
    spec: MarkSpec


Event = ActivityEvent | FollowEvent | Mark | AuthorModeEvent | ReactionEvent


class ShortFeed(Feed):
    max_length = 4


class ShortUserFeed(UserFeed):
    max_length = 50


class SmallAggregated(AggregatedFeed):
    max_length = 3


class SimNotifications(NotificationFeed):
    max_length = 3


class TrimManager(Manager):
    """Short feeds: removals, updates and unfollows must not change what trimming keeps."""

    feed_classes: ClassVar = {"normal": ShortFeed, "aggregated": SmallAggregated}
    user_feed_class = ShortUserFeed
    extra_feed_classes: ClassVar = {"notification": SimNotifications}
    fanout_chunk_size = 2
    follower_page_size = 2  # every fanout of more than two followers goes page by page


class LongFeed(Feed):
    max_length = 1_000


class LongAggregated(AggregatedFeed):
    max_length = 1_000


class ChurnManager(TrimManager):
    """Follows come and go; feeds are long enough that nothing is trimmed."""

    feed_classes: ClassVar = {"normal": LongFeed, "aggregated": LongAggregated}


@dataclass
class World:
    users: list[str]
    events: list[Event]
    manager_class: type[Manager]


def generate(
    seed: int,
    events: int = 40,
    users: int = 5,
    churn: bool | None = None,
    prefix: str = "",
    trim: bool | None = None,
    switches: int = 0,
    reactions: int = 0,
) -> World:
    """Follows, adds (some LOW lane, some future-dated, some notifying), updates, removals,
    re-adds and marks, in publication order; each event one second after the last.

    churn: unfollows too. trim: feeds short enough to trim (4 entries, so with churn an
    unfollow consumed late takes out what pushed older entries into the trim slack).
    switches: that many push/pull switches of random authors at random times
    (before, among and after the activities they cover), anywhere in the
    stream: a hybrid world, whose reads equal those of the same world without them.
    reactions: that many reaction events (adds, likes of comments, an add of one id again with
    other data, updates, removals, versions that tie) on the activities, anywhere in the stream.
    Both come from their own random streams, so a world without them is the world it always was.
    """
    rng = random.Random(seed)
    churn = rng.random() < 0.5 if churn is None else churn
    trim = (not churn or rng.random() < 0.5) if trim is None else trim
    names = [f"{prefix}u{n}" for n in range(users)]
    clock = [START]
    following: set[tuple[str, str]] = set()
    added: list[Activity] = []
    live: set[str] = set()
    out: list[Event] = []

    def tick() -> datetime:
        clock[0] += timedelta(seconds=1)
        return clock[0]

    while len(out) < events:
        roll = rng.random()
        now = tick()
        if roll < 0.25:
            follower, followed = rng.sample(names, 2)
            if (follower, followed) in following and churn:
                following.discard((follower, followed))
                out.append(FollowEvent(FollowOp.UNFOLLOW, follower, followed, now))
            elif (follower, followed) not in following:
                following.add((follower, followed))
                out.append(FollowEvent(FollowOp.FOLLOW, follower, followed, now))
        elif roll < 0.62 or not added:
            actor = rng.choice(names)
            owner = rng.choice(names)
            verb = rng.choice(["add", "love", "comment"])
            when = now + timedelta(minutes=rng.choice([-600, -30, 0, 0, 5]))  # late and future-dated
            to = [f"notification:{owner}"] if owner != actor and rng.random() < 0.6 else []
            activity = Activity(actor, verb, f"pin{rng.randint(0, 6)}", None, when, {"v": 0}, to=to)
            lane = FanoutPriority.LOW if rng.random() < 0.25 else None
            added.append(activity)
            live.add(activity.id)
            out.append(ActivityEvent(ActivityOp.ADD, activity, lane, now))
        elif roll < 0.75:
            old = rng.choice(added)
            updated = old.with_extra_context({"v": len(out)})
            out.append(ActivityEvent(ActivityOp.UPDATE, updated, None, now))
        elif roll < 0.85:
            old = rng.choice(added)
            if old.id in live:
                live.discard(old.id)
                out.append(ActivityEvent(ActivityOp.REMOVE, old, None, now))
            else:  # publish it again: a re-add after a removal
                live.add(old.id)
                out.append(ActivityEvent(ActivityOp.ADD, old, None, now))
        else:
            user = rng.choice(names)
            read = rng.random() < 0.4
            if rng.random() < 0.5 or not added:  # by time: an older producer's mark
                out.append(Mark(user, MarkSpec("notification", None, True, read, now)))
            else:  # by ids: what the user saw, some of it maybe not delivered (yet, or ever)
                seen = rng.sample(added, min(len(added), rng.randint(1, 4)))
                covers: dict[str, list[str]] = {}
                for activity in seen:
                    covers.setdefault(NOTIFICATION_GROUPS.get_group(activity), []).append(activity.id)
                cover = tuple(sorted((g, tuple(sorted(i))) for g, i in covers.items()))
                out.append(Mark(user, MarkSpec("notification", None, True, read, now, cover)))
    for _ in range(switches):
        when = START + timedelta(seconds=rng.randint(-700 * 60, events + 10 * 60))
        switch = AuthorModeEvent(rng.choice(names), rng.random() < 0.6, sort_key_for(when))
        out.insert(rng.randint(0, len(out)), switch)
    if reactions and added:
        _insert_reactions(random.Random(seed ^ 0x5EED), out, names, added, reactions)
    return World(names, out, TrimManager if trim else ChurnManager)


def _insert_reactions(
    rng: random.Random, out: list[Event], names: list[str], added: list[Activity], count: int
) -> None:
    made: list[tuple[str, str]] = []  # (reaction id, activity id)
    for n in range(count):
        # Versions from a small range, so events of one reaction tie now and then.
        published = START + timedelta(seconds=rng.randint(0, 20))
        roll = rng.random()
        event: ReactionEvent
        if made and roll < 0.2:
            rid, activity_id = rng.choice(made)
            event = update_event(rid, activity_id, {"edit": n}, published)
        elif made and roll < 0.35:
            rid, activity_id = rng.choice(made)
            event = remove_event(rid, activity_id, published)
        else:
            if made and roll < 0.45:  # the same id added again with other data (a producer's retry)
                rid, activity_id = rng.choice(made)
            else:
                rid, activity_id = f"r{n}", rng.choice(added).id
            on_activity = [r for r, a in made if a == activity_id and r != rid]
            parent = rng.choice(on_activity) if on_activity and rng.random() < 0.3 else None
            kind = rng.choice(["like", "comment"])
            when = START + timedelta(seconds=rng.randint(0, 5))
            identity = reaction_identity(kind, rng.choice(names), activity_id, parent, when)
            event = add_event(rid, identity, {"n": n}, published)
            made.append((rid, activity_id))
        out.insert(rng.randint(0, len(out)), event)


def without_switches(world: World) -> World:
    """The same world fully pushed: what a hybrid world's reads must equal."""
    events = [e for e in world.events if not isinstance(e, AuthorModeEvent)]
    return World(world.users, events, world.manager_class)


def run_inline(world: World) -> Manager:
    """The oracle: every event applied at once, in publication order."""
    manager = world.manager_class(MemoryBackend())
    for event in world.events:
        if isinstance(event, ActivityEvent):
            manager.driver.activity(event)
        elif isinstance(event, FollowEvent):
            manager.driver.follow(event)
        elif isinstance(event, AuthorModeEvent):
            manager.driver.author_mode(event)
        elif isinstance(event, ReactionEvent):
            manager.driver.reaction(event)
        else:
            manager.driver.mark(event.user, event.spec)
    return manager


@dataclass
class Log:
    """One partition of one topic, and the consumer group's place in it."""

    name: str
    messages: list[Any] = field(default_factory=list)
    committed: int = 0
    position: int = 0

    @property
    def pending(self) -> bool:
        return self.position < len(self.messages)


@dataclass
class Stats:
    steps: int = 0
    crashes: int = 0
    redelivered: int = 0


def run_pipeline(
    world: World, seed: int, partitions: int | None = None, crash_rate: float = 0.08, backend: Any = None
):
    """The pipeline under one schedule chosen by seed, on memory storage unless given a backend;
    returns (manager, stats)."""
    rng = random.Random(seed)
    partitions = partitions or rng.randint(1, 3)
    manager = world.manager_class(backend or MemoryBackend())
    topics = ["activities", "follows", "marks", "feed-ops-high", "feed-ops-low"]
    if any(isinstance(event, ReactionEvent) for event in world.events):  # else: schedules as before
        topics.append("reactions")
    logs: dict[tuple[str, int], Log] = {
        (topic, p): Log(f"{topic}[{p}]") for topic in topics for p in range(partitions)
    }
    for event in world.events:  # everything is published up front, in order
        if isinstance(event, ActivityEvent):
            logs["activities", partition_for(event.activity.actor_id, partitions)].messages.append(event)
        elif isinstance(event, FollowEvent):
            logs["follows", partition_for(event.follower, partitions)].messages.append(event)
        elif isinstance(event, AuthorModeEvent):  # keyed by the author on the follows topic
            logs["follows", partition_for(event.author, partitions)].messages.append(event)
        elif isinstance(event, ReactionEvent):  # keyed by the activity: one writer per activity
            logs["reactions", partition_for(event.activity_id, partitions)].messages.append(event)
        else:
            batch = mark_batch(event.user, event.spec)
            logs["marks", partition_for(event.user, partitions)].messages.append(batch)

    def send(batches) -> None:
        for batch in batches:
            lane = "feed-ops-low" if batch.priority is FanoutPriority.LOW else "feed-ops-high"
            logs[lane, partition_for(batch.recipients[0], partitions)].messages.append(batch)

    def handle(topic: str, messages: list, output: bool = True) -> None:
        """Consume messages; output=False: the storage writes happen, the sends are lost."""
        emit = send if output else (lambda batches: None)
        if topic == "activities":  # a run at once, as a worker's batch is (big fanouts page by page)
            for batches in fanout_many(manager, messages, partitions):
                emit(list(expand_rests(manager, batches, partitions)))
        elif topic == "follows":
            for event in messages:
                if isinstance(event, AuthorModeEvent):
                    emit(
                        list(expand_rests(manager, apply_author_mode(manager, event, partitions), partitions))
                    )
                else:
                    emit(apply_follow(manager, event))
        elif topic == "marks":  # forwarded as they are to the user's feed-ops partition
            emit(messages)
        elif topic == "reactions":  # folded where they are; reactions naming target feeds send notifications
            emit(react_and_notify(manager, messages, partitions))
        else:
            materialize_many(manager, messages)

    stats = Stats()
    while True:
        busy = [key for key, log in logs.items() if log.pending]
        if not busy:
            break
        stats.steps += 1
        key = rng.choice(busy)
        log = logs[key]
        take = log.messages[log.position : log.position + rng.randint(1, 4)]
        if rng.random() < crash_rate:  # dies part-way: some of the batch applied, nothing committed
            cut = rng.randint(0, len(take))
            handle(key[0], take[:cut])
            if cut < len(take) and rng.random() < 0.5:  # the rest planned and stored, never sent
                handle(key[0], take[cut:], output=False)
            stats.crashes += 1
            stats.redelivered += log.position - log.committed
            log.position = log.committed
            continue
        handle(key[0], take)
        log.position += len(take)
        if rng.random() < 0.5:
            log.committed = log.position
        if rng.random() < crash_rate / 2:  # another consumer restarts from its last commit
            other = logs[rng.choice(list(logs))]
            stats.redelivered += other.position - other.committed
            other.position = other.committed
            stats.crashes += 1
    return manager, stats


def stored(manager: Manager) -> dict:
    """Every stored byte of a memory backend, as comparable data."""
    backend = manager.backend
    assert isinstance(backend, MemoryBackend)
    return backend.dump()


def visible(manager: Manager, users: list[str]) -> dict:
    """What readers see: the snapshot the e2e tests compare, plus every member and body and count()."""
    out: dict = {}
    for key, summary in snapshot(manager, users).items():
        feed = manager.get_feed(*key)
        if isinstance(feed, AggregatedFeed):
            details = [(g.live_ids, [(a.id, a.extra_context) for a in g.activities]) for g in feed[:]]
        else:
            details = [(a.id, a.extra_context) for a in feed[:]]
        out[key] = (summary, details, feed.count())
    return out


def first_difference(expected: dict, actual: dict) -> str | None:
    for key in sorted(set(expected) | set(actual), key=str):
        if expected.get(key) != actual.get(key):
            return f"{key}:\n  inline:   {expected.get(key)!r}\n  pipeline: {actual.get(key)!r}"
    return None


def reaction_view(manager: Manager, world: World) -> dict:
    """What readers see of the world's reactions: for every activity and every reaction that
    has reactions on it, the counts, each user's own and the newest three of each kind."""
    targets = sorted(
        {
            (event.activity_id, on)
            for event in world.events
            if isinstance(event, ReactionEvent)
            for on in (event.activity_id, event.reaction_id)
        }
    )
    store = manager.backend.reactions
    return {user: store.summaries(targets, user, 3) for user in world.users}


def reactions_reversed(world: World) -> World:
    """The same world with its reactions published in the opposite order (after everything
    else: they touch nothing else): what an order-free fold must not notice."""
    others = [e for e in world.events if not isinstance(e, ReactionEvent)]
    reactions = [e for e in world.events if isinstance(e, ReactionEvent)]
    return World(world.users, others + reactions[::-1], world.manager_class)
