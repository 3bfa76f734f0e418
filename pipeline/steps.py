"""The pipeline's steps as plain functions over a manager and its storage.

Faust agents call these (consumers/) and so does inline mode
(pipeline.drivers.InlineDriver): one logic, two drivers. Each step is
idempotent: running it twice on the same input leaves storage as running it
once, which is what lets the pipeline retry and replay freely.

- fanout_activity: the activities-topic step, owned by the actor's partition.
- apply_follow: the follows-topic step, owned by the follower's partition.
- materialize: the feed-ops step, owned by the recipients' partition: the
  only writer of followers' feeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import confluent_kafka
from aiokafka.partitioner import murmur2

from pipeline.activity import Activity, parse_target
from pipeline.activity_state import ActivityState, version_of
from pipeline.aggregated_feeds import AggregatedFeed
from pipeline.aggregation import Delivery
from pipeline.author_modes import AuthorModeEvent, ModeChanges, currently_pulled, pulled_at, with_change
from pipeline.events import (
    ActivityEvent,
    ActivityOp,
    FanoutBatch,
    FanoutPriority,
    FollowEvent,
    FollowOp,
    MarkSpec,
)
from pipeline.exceptions import ValidationError
from pipeline.feeds import BaseFeed, Feed
from pipeline.follow_state import FollowState, Unfollowed
from storage.base import NewEntries

if TYPE_CHECKING:
    from pipeline.manager import Manager

#: Activities per batch when a follow copies history: keeps messages well under 1 MB.
COPY_CHUNK = 500


#: Partitions remembered per partition count: 65,536 ids (about 15 MiB), bounded, so a fanout to
#: a million followers does not grow the worker.
PARTITION_CACHE_SIZE = 1 << 16

_partitions_by_count: dict[int, dict[str, int]] = {}


def _python_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


#: Kafka's default partition of a key: librdkafka's C murmur2 where confluent-kafka exposes it (a
#: tenth of the pure-Python hash's cost, which was a fifth of a worker's time fanning out to
#: followers it had not seen yet), the same function in Python otherwise.
kafka_partition: Callable[[bytes, int], int] = getattr(confluent_kafka, "murmur2", _python_partition)


def partition_for(user_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives key user_id: co-partitioning by user."""
    memo = _partitions_by_count.get(partitions)
    partition = None if memo is None else memo.get(user_id)
    return kafka_partition(user_id.encode(), partitions) if partition is None else partition


def by_partition(user_ids: Iterable[str], partitions: int) -> dict[int, list[str]]:
    """The users grouped by partition_for, each group in the order given.

    Remembered: a fanout hashes every follower of every activity, and the
    same followers come back activity after activity (murmur2 in Python was
    a tenth of a worker's time in the 1,000-follower benchmark). The memo is
    dropped whole when full: refilling it costs what a miss does.
    """
    memo = _partitions_by_count.get(partitions)
    if memo is None or len(memo) > PARTITION_CACHE_SIZE:
        memo = _partitions_by_count[partitions] = {}
    known = memo.get
    groups: dict[int, list[str]] = defaultdict(list)
    for user_id in user_ids:
        partition = known(user_id)
        if partition is None:
            partition = memo[user_id] = kafka_partition(user_id.encode(), partitions)
        groups[partition].append(user_id)
    return groups


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_targets(manager: Manager, activities: Iterable[Activity]) -> dict[str, list[str]]:
    """The activities' `to` fields as feed name -> user ids.

    `to` names only the manager's extra feeds (notification feeds): never a
    user's own feed or the feeds followers get, which only the follow graph
    fills. Anything else is bad input, named in the error.
    """
    targets: dict[str, set[str]] = defaultdict(set)
    allowed = manager.extra_feed_classes
    for activity in activities:
        for entry in activity.to:
            name, user_id = parse_target(entry)
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ValidationError("to", entry, f"names feed {name!r}; `to` may name only: {known}")
            targets[name].add(user_id)
    return {name: sorted(users) for name, users in targets.items()}


def next_state(event: ActivityEvent, stored: ActivityState | None) -> ActivityState | None:
    """The state an event gives its activity, or None if it changes nothing.

    An UPDATE changes only a live activity (a removed one stays removed); a
    REMOVE keeps the body it removes, so its feeds can still be found; an ADD
    of a stored activity keeps its first `added` version.
    """
    version = event.effective_version
    if event.op is ActivityOp.ADD:
        # Published again (after a removal, or twice): it keeps the version it was first added
        # at, which is where it arrived in feeds and which unfollows it came before.
        return ActivityState(event.activity, version, version if stored is None else stored.added)
    if stored is None:
        return (
            ActivityState(event.activity, version, version, True) if event.op is ActivityOp.REMOVE else None
        )
    if event.op is ActivityOp.UPDATE:
        if stored.removed:
            return None
        return ActivityState(_with_targets(event.activity, stored.activity.to), version, stored.added)
    return ActivityState(stored.activity, version, stored.added, True)


def _with_targets(activity: Activity, recorded: tuple[str, ...]) -> Activity:
    """The activity still naming every `to` target it was delivered to: where later ops must reach."""
    merged = tuple(dict.fromkeys((*recorded, *activity.to)))
    if merged == activity.to:
        return activity
    return type(activity)(
        activity.actor_id,
        activity.verb,
        activity.object_id,
        activity.target_id,
        activity.time,
        activity.extra_context,
        activity.foreign_id,
        merged,
    )


def fanout_activity(manager: Manager, event: ActivityEvent, partitions: int) -> list[FanoutBatch]:
    """Store the activity's new state and the actor's user feed; plan delivery, a batch per partition."""
    return fanout_many(manager, [event], partitions)[0]


def fanout_many(
    manager: Manager,
    events: Sequence[ActivityEvent],
    partitions: int,
    switches: list[AuthorModeEvent] | None = None,
) -> list[list[FanoutBatch]]:
    """fanout_activity for a run of events, in order, with the run's storage calls batched: one
    read of the activities' states, one write of the new ones, the user-feed writes together,
    one read of the actors' followers and one of their former followers. Returns each event's
    batches.

    The fanout of the actor's partition is the only writer of the actor's
    activity states and user feed. An event older than the stored state (a
    redelivery, a late lane) changes no state; an ADD is delivered again with
    the stored state (its first run may have died between storing and
    sending), an UPDATE or REMOVE delivers nothing. Events of the run see the
    states the earlier ones made, as if applied one by one. A bad event (a
    `to` naming an unknown feed) raises before anything is written.

    Activities of pulled authors (pipeline.author_modes) are not sent to
    followers at all when every follower feed pulls; otherwise they are, and
    the materializer leaves the pulling feeds out. With `switches`, the run
    appends the mode changes the manager's threshold asks for (see
    Manager.author_mode_for), for the caller to publish.
    """
    backend = manager.backend
    ids = sorted({event.activity.id for event in events})
    current = backend.activities.get_states(ids, manager.activity_class) if ids else {}
    planned: list[tuple[ActivityEvent, ActivityState, dict[str, list[str]]] | None] = []
    changed: dict[str, ActivityState] = {}
    for event in events:
        activity = event.activity
        stored = current.get(activity.id)
        state = next_state(event, stored)
        if state is not None and stored is not None and stored.version > state.version:
            # An ADD older than what is stored: a redelivery whose first run may have stored its
            # state and died before its deliveries were sent (or a late lane). Deliver again, with
            # the newest state, so no feed misses the entry; the materializer keeps it idempotent.
            # The newer state's own batches carry an UPDATE or REMOVE wherever this one would go.
            state = stored if event.op is ActivityOp.ADD else None
        if state is None:
            planned.append(None)
            continue
        targets = parse_targets(manager, [activity, *([stored.activity] if stored else [])])
        if state is not stored:
            changed[activity.id] = current[activity.id] = state
        planned.append((event, state, targets))
    live = [p for p in planned if p is not None]
    if not live:
        return [[] for _ in events]
    if changed:
        backend.activities.apply(list(changed.values()))
    _write_user_feeds(manager, [(event.op, state) for event, state, _ in live])
    # Read after the user feeds are written: a switch back to push writes the modes, then reads
    # the user feed (apply_author_mode), so one of the two sees the other (pipeline.author_modes).
    modes = backend.follows.author_modes() if manager.pulling_feed_names() else {}
    skip_followers = not manager.pushed_feed_names()
    to_followers = [
        not (skip_followers and pulled_at(modes.get(event.activity.actor_id, ()), state.activity.sort_key))
        for event, state, _ in live
    ]
    _announce_pulled(
        manager,
        [
            state
            for (event, state, _), sent in zip(live, to_followers, strict=True)
            if not sent and event.op is ActivityOp.ADD and not state.removed
        ],
    )
    actors = sorted(
        {event.activity.actor_id for (event, _, _), sent in zip(live, to_followers, strict=True) if sent}
    )
    pages = _first_follower_pages(manager, actors)
    followers = {actor: page for actor, (page, _) in zip(actors, pages, strict=True)}
    cursors = {actor: cursor for actor, (_, cursor) in zip(actors, pages, strict=True) if cursor is not None}
    if switches is not None and manager.pull_threshold is not None:
        counts = {actor: len(users) for actor, users in followers.items() if actor not in cursors}
        unread = sorted({e.activity.actor_id for e, _, _ in live} - set(counts))
        if unread:  # pulled authors whose followers were not read: counted, up to the threshold
            counts.update(
                zip(unread, backend.follows.follower_counts(unread, manager.pull_threshold), strict=True)
            )
        switches += _threshold_switches(manager, counts, modes)
    # Who unfollowed the actor after this activity was published still gets it, hidden:
    # in event order it reached their feeds before the unfollow hid it.
    asked = sorted(
        {
            (event.activity.actor_id, state.added)
            for (event, state, _), sent in zip(live, to_followers, strict=True)
            if sent
        }
    )
    former = dict(zip(asked, backend.follows.former_followers_many(asked), strict=True))
    sending = iter(to_followers)
    rests: dict[str, FanoutRest] = {}
    plans = []
    for plan in planned:
        if plan is None:
            plans.append([])
            continue
        event, state, targets = plan
        actor = event.activity.actor_id
        if not next(sending):
            plans.append(_target_batches(manager, event, state, targets, partitions))
            continue
        if event.priority is not None:
            lanes = {event.priority: followers[actor]}
        else:
            lanes = manager.follower_lanes_of(actor, followers[actor])
        ended = former[actor, state.added]
        if ended:
            lane = event.priority if event.priority is not None else FanoutPriority.LOW
            lanes = dict(lanes)
            lanes[lane] = sorted({*lanes.get(lane, ()), *ended})
        op = ActivityOp.ADD if event.op is ActivityOp.ADD else ActivityOp.UPDATE
        batches = []
        for priority, recipients in lanes.items():
            lane = FanoutPriority(priority)
            batches += _batches(manager, op, state, recipients, (), lane, partitions, event.published_at)
        plans.append(batches + _target_batches(manager, event, state, targets, partitions))
        if actor in cursors:
            rest = rests.setdefault(actor, FanoutRest(actor, cursors[actor], []))
            rest.deliveries.append((op, state, event.priority, event.published_at))
    if rests:  # after every event's first page: the caller plans and sends the rest page by page
        plans[-1] = [*plans[-1], *rests.values()]
    return plans


@dataclass
class FanoutRest:
    """Followers of an actor the fanout has not planned yet, from `cursor` on, and what they get.

    An author with more followers than Manager.follower_page_size is fanned
    out a page at a time: the caller plans a page with fanout_rest, sends its
    batches, and only then reads the next, so a worker's memory stays flat
    whatever the follower count. The input offset is committed after the
    last page: a worker that dies mid-way plans every page again
    (deliveries are idempotent).
    """

    actor: str
    cursor: str
    #: (op, state, the event's lane or None, published_at) per activity of the actor in the run.
    deliveries: list[tuple[ActivityOp, ActivityState, FanoutPriority | None, datetime | None]]


def fanout_rest(
    manager: Manager, rest: FanoutRest, partitions: int
) -> tuple[list[FanoutBatch], FanoutRest | None]:
    """The next page of a fanout: its batches, and what is left after it (None: done)."""
    page, cursor = manager.backend.follows.followers_page(rest.actor, rest.cursor, manager.follower_page_size)
    batches = []
    for op, state, priority, published_at in rest.deliveries:
        lanes = {priority: page} if priority is not None else manager.follower_lanes_of(rest.actor, page)
        for lane, recipients in lanes.items():
            batches += _batches(
                manager, op, state, recipients, (), FanoutPriority(lane), partitions, published_at
            )
    return batches, (None if cursor is None else FanoutRest(rest.actor, cursor, rest.deliveries))


def expand_rests(
    manager: Manager, planned: Sequence[FanoutBatch | FanoutRest | AuthorModeEvent], partitions: int
) -> Iterator[FanoutBatch | AuthorModeEvent]:
    """Every batch a plan stands for, a page at a time: for callers that apply batches at once
    (inline mode, the simulation, tests), as a worker sends them."""
    for item in planned:
        rest = item if isinstance(item, FanoutRest) else None
        if rest is None:
            yield item
        while rest is not None:
            batches, rest = fanout_rest(manager, rest, partitions)
            yield from batches


def _target_batches(
    manager: Manager,
    event: ActivityEvent,
    state: ActivityState,
    targets: dict[str, list[str]],
    partitions: int,
) -> list[FanoutBatch]:
    """Deliveries to the `to` targets (notification feeds): always pushed."""
    op = ActivityOp.ADD if event.op is ActivityOp.ADD else ActivityOp.UPDATE
    batches = []
    for feed_name, user_ids in sorted(targets.items()):
        batches += _batches(
            manager, op, state, user_ids, (feed_name,), FanoutPriority.HIGH, partitions, event.published_at
        )
    return batches


def _threshold_switches(
    manager: Manager, counts: dict[str, int], modes: dict[str, ModeChanges]
) -> list[AuthorModeEvent]:
    """Mode changes the manager asks for, given each actor's follower count: taking effect
    SWITCH_LEAD from now, so every reader knows of the switch before it covers an activity."""
    from pipeline.hybrid import SWITCH_LEAD
    from pipeline.ids import sort_key_for

    switches = []
    for actor, count in sorted(counts.items()):
        pulled = currently_pulled(modes.get(actor, ()))
        wanted = manager.author_mode_for(actor, count, pulled)
        if wanted is not None and wanted != pulled:
            switches.append(AuthorModeEvent(actor, wanted, sort_key_for(datetime.now(UTC)) + SWITCH_LEAD))
    return switches


def apply_author_mode(
    manager: Manager, event: AuthorModeEvent, partitions: int
) -> list[FanoutBatch | FanoutRest]:
    """Record an author's switch; a switch back to push also delivers what it uncovers.

    Activities the fanout already took as pulled but that the switch makes
    pushed (their time is at or after the switch) are in the author's user
    feed: they are sent to the followers now, like a fanout (read after the
    modes are written; see pipeline.author_modes). Planned again from
    storage on a redelivery, so a run that died after storing still sends.
    """
    from pipeline.hybrid import forget_author_modes

    backend = manager.backend
    stored = backend.follows.author_modes().get(event.author, ())
    changes = with_change(stored, event.time, event.pulled)
    if changes != stored:
        backend.follows.store_author_modes(event.author, changes)
        forget_author_modes(backend.follows)
    if event.pulled:
        return []
    before = tuple(change for change in changes if change != (event.time, False))
    entries = backend.timelines.entries(manager.user_feed_class.key_for(event.author), manager.activity_class)
    uncovered = [
        s
        for s in entries
        if s.activity.sort_key >= event.time
        and pulled_at(before, s.activity.sort_key)
        and not pulled_at(changes, s.activity.sort_key)
    ]
    if not uncovered:
        return []
    # Former followers (few) at once; followers a page at a time, as a fanout reads them.
    batches: list[FanoutBatch | FanoutRest] = []
    for state in uncovered:
        ended = backend.follows.former_followers(event.author, state.added)
        batches += _batches(manager, ActivityOp.ADD, state, ended, (), FanoutPriority.LOW, partitions, None)
    deliveries = [(ActivityOp.ADD, state, FanoutPriority.LOW, None) for state in uncovered]
    [(page, cursor)] = _first_follower_pages(manager, [event.author])
    for state in uncovered:
        batches += _batches(manager, ActivityOp.ADD, state, page, (), FanoutPriority.LOW, partitions, None)
    if cursor is not None:
        batches.append(FanoutRest(event.author, cursor, deliveries))
    return batches


def _announce_pulled(manager: Manager, states: list[ActivityState]) -> None:
    """Realtime `entries` events for pulled activities that no materializer writes (every follower
    feed pulls them): to the author's followers with a realtime client, who are few whatever the
    follower count. Sent once the user feed holds them, where the merged read finds them."""
    feeds = [manager.feed_classes[name] for name in manager.pulling_feed_names()]
    feeds = [feed_class for feed_class in feeds if feed_class.realtime]
    backend = manager.backend
    listening = backend.publisher.listeners() if states and feeds else []
    if not listening:
        return
    by_actor: dict[str, list[str]] = defaultdict(list)
    for state in states:
        by_actor[state.activity.actor_id].append(state.id)
    entries = []
    for actor, ids in sorted(by_actor.items()):
        for user_id in sorted(backend.follows.follow_versions(listening, actor)):
            entries += [NewEntries(user_id, c.key_for(user_id), c.name, tuple(ids)) for c in feeds]
    backend.publisher.publish_entries(entries)


def _first_follower_pages(manager: Manager, actors: list[str]) -> list[tuple[list[str], str | None]]:
    """Each actor's followers to plan now, and the cursor of the rest (FanoutRest) or None."""
    follows = manager.backend.follows
    if manager.streams_followers():  # a page of each actor's followers
        return follows.followers_pages_many(actors, manager.follower_page_size)
    # The app's own graph (get_user_follower_ids) decides, whole, once per activity.
    return [(users, None) for users in follows.followers_many(actors)]


def _write_user_feeds(manager: Manager, ops: list[tuple[ActivityOp, ActivityState]]) -> None:
    """The actors' own feeds, in event order: each run of adds in one storage call."""
    user_feed = manager.user_feed_class
    backend = manager.backend
    adds: list[tuple[list[str], list[ActivityState]]] = []

    def flush() -> None:
        if adds:
            backend.timelines.add_batches(list(adds), user_feed.max_length, False)
            adds.clear()

    for op, state in ops:
        if op is ActivityOp.ADD:
            adds.append(([user_feed.key_for(state.activity.actor_id)], [state]))
        else:
            flush()
            user_feed.refresh_in_many_users([state.activity.actor_id], [state], backend)
    flush()


def _batches(
    manager: Manager,
    op: ActivityOp,
    state: ActivityState,
    recipients: Iterable[str],
    feeds: Sequence[str],
    priority: FanoutPriority,
    partitions: int,
    published_at: datetime | None,
) -> list[FanoutBatch]:
    return [
        FanoutBatch(
            op,
            list(chunk),
            [state.activity],
            tuple(feeds),
            priority,
            published_at,
            version=state.version,
        )
        for _, users in sorted(by_partition(recipients, partitions).items())
        for chunk in chunks(sorted(users), manager.fanout_chunk_size)
    ]


def apply_follow(manager: Manager, event: FollowEvent) -> list[FanoutBatch]:
    """Record the follow or unfollow; plan copying history in, or hiding the actor's activities.

    A copy carries removed activities too: they hold their place in the
    follower's feeds exactly as if the fanout had delivered them, so the
    feeds do not depend on whether the follow or the activity came first.
    The batches are planned even when a newer event of the pair is stored
    (a redelivery): the materializer shows or hides what they carry by the
    pair's current state, so sending them again is harmless and never lost.
    """
    follows = manager.backend.follows
    if event.op is FollowOp.UNFOLLOW:
        follows.unfollow(event.follower, event.followed, event.version)
        return [
            FanoutBatch(
                ActivityOp.REMOVE,
                [event.follower],
                [],
                (),
                FanoutPriority.HIGH,
                None,
                event.followed,
                version=event.version,
            )
        ]
    follows.follow(event.follower, event.followed, event.version)
    limit = manager.follow_activity_limit if event.activity_copy_limit is None else event.activity_copy_limit
    return copy_batches(manager, event.follower, event.followed, event.version, limit)


def copy_batches(
    manager: Manager, follower: str, followed: str, version: int, limit: int
) -> list[FanoutBatch]:
    """The followed user's latest `limit` user-feed entries (removed ones too) for the follower."""
    if limit == 0:
        return []
    entries = manager.backend.timelines.entries(
        manager.user_feed_class.key_for(followed), manager.activity_class
    )
    history = [s.activity for s in reversed(entries[-limit:])]
    return [
        FanoutBatch(
            ActivityOp.ADD, [follower], list(chunk), (), FanoutPriority.HIGH, version=version, history=True
        )
        for chunk in chunks(history, COPY_CHUNK)
    ]


def plan_user_rebuild(
    manager: Manager, user_id: str, activities: Iterable[Activity], copies: bool = True
) -> list[FanoutBatch]:
    """Batches that rebuild one user's feeds through the user's own materializer (single writer).

    activities: every activity by the user or naming the user in `to`, as
    found in the activities topic; their current states are what the
    materializer writes. With copies, follower feeds are copied from the
    followed users' user feeds at each follow's version in the stored graph,
    exactly as the follow did (without: the follow events are sent again and
    copy as they go).
    """
    own: list[Activity] = []
    targeted: dict[str, list[Activity]] = defaultdict(list)
    seen: set[str] = set()
    for activity in activities:
        if activity.id in seen:
            continue
        seen.add(activity.id)
        if activity.actor_id == user_id:
            own.append(activity)
        try:
            named = parse_targets(manager, [activity])
        except ValidationError:  # the fanout refused it (a dead letter): no feed holds it
            continue
        for name, target in named.items():
            if user_id in target:
                targeted[name].append(activity)
    batches = [
        FanoutBatch(ActivityOp.ADD, [user_id], list(chunk), (manager.user_feed_class.name,))
        for chunk in chunks(own, COPY_CHUNK)
    ]
    for name, items in sorted(targeted.items()):
        batches += [
            FanoutBatch(ActivityOp.ADD, [user_id], list(chunk), (name,))
            for chunk in chunks(items, COPY_CHUNK)
        ]
    follows = manager.backend.follows
    for followed in follows.following(user_id) if copies else ():
        version = follows.follow_versions([user_id], followed).get(user_id)
        if version is not None:
            batches += copy_batches(manager, user_id, followed, version, manager.follow_activity_limit)
    return batches


def mark_batch(user_id: str, spec: MarkSpec) -> FanoutBatch:
    """A user's seen/read marks as a feed-ops message for the user's own partition."""
    return FanoutBatch(
        ActivityOp.UPDATE,
        [user_id],
        [],
        (spec.feed,),
        FanoutPriority.HIGH,
        mark=spec,
        version=version_of(spec.time),
    )


def materialize(manager: Manager, batch: FanoutBatch) -> None:
    """Write one batch into every recipient's feeds."""
    materialize_many(manager, [batch])


def materialize_many(manager: Manager, batches: Sequence[FanoutBatch]) -> None:
    """Materialize a run of batches from one feed-ops partition: the only writer of its users' feeds.

    Every write sets an entry to the activity's *current* state, read once
    for the whole run from activity storage, so deliveries, updates and
    removals commute, whatever lane or topic they came by. Deliveries to a
    user's follower feeds count only while the user follows the actor in the
    pipeline's own graph (an unfollow wins over late deliveries); they are
    stamped max(activity added, follow made), the moment the activity
    reached the feed whichever path brought it. Flat-feed adds of the run
    go to storage together; aggregated feeds are read-merge-write per user.
    """
    backend = manager.backend
    ids = sorted({a.id for b in batches for a in b.activities})
    states = backend.activities.get_states(ids, manager.activity_class) if ids else {}
    relations = _follow_states(manager, batches)
    pulling = set(manager.pulling_feed_names())
    modes = backend.follows.author_modes() if pulling and relations else {}
    flat: dict[tuple[type[Feed], bool], list[tuple[list[str], list[ActivityState]]]] = defaultdict(list)
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Delivery]]]] = defaultdict(list)

    # New entries to tell realtime listeners of: (feed class, users, activity ids), turned into
    # events only for the users listening (usually few of a fanout's recipients).
    fresh: list[tuple[type[BaseFeed], list[str], tuple[str, ...]]] = []

    def flush() -> None:
        for (feed_class, hidden), items in flat.items():
            keys = [(feed_class.keys_for(users), sts) for users, sts in _coalesced(items)]
            backend.timelines.add_batches(keys, feed_class.max_length, hidden)
        flat.clear()
        if per_user:
            for feed_class, work in _aggregated_rounds(per_user):
                feed_class.deliver_to_many(backend, work)
            per_user.clear()
        if fresh:  # after the writes: a listener told of an entry finds it when it reads
            listening = backend.publisher.listening(list(set().union(*(users for _, users, _ in fresh))))
            if listening:
                backend.publisher.publish_entries(
                    [
                        NewEntries(u, feed_class.key_for(u), feed_class.name, shown)
                        for feed_class, users, shown in fresh
                        for u in sorted(listening.intersection(users))
                    ]
                )
            fresh.clear()

    def pulls_into(feed_class: type[Feed], batch: FanoutBatch) -> bool:
        """Whether the batch's pulled activities skip this feed (merged in at read instead): a
        follower delivery, not a follow's copy of history, to a feed class that pulls."""
        return bool(modes) and not batch.feeds and not batch.history and feed_class.name in pulling

    def queue_flat(feed_class: type[Feed], users: list[str], adds: list[ActivityState], hidden: bool) -> None:
        flat[feed_class, hidden].append((users, adds))
        if feed_class.realtime and not hidden:
            fresh.append((feed_class, users, tuple(state.id for state in adds)))

    for batch in batches:
        if batch.mark is not None or batch.remove_actor is not None or batch.op is not ActivityOp.ADD:
            flush()
            _write_other(manager, batch, states)
            continue
        batch_states = [states[a.id] for a in batch.activities if a.id in states]
        if not batch_states:
            continue
        if len(batch_states) == 1 and not batch.feeds:  # a fanout's batch: one activity, followers
            state = batch_states[0]
            followers = relations.get(state.activity.actor_id, {})
            shown, hidden = _followers_entitled(batch.recipients, state, followers)
            entitled = None
            for feed_class in manager.feeds_named(batch.feeds):
                if issubclass(feed_class, AggregatedFeed):
                    entitled = entitled or _stamped(shown, hidden, state, followers)
                    _deliver_aggregated(feed_class, entitled, per_user, fresh)
                elif issubclass(feed_class, Feed):
                    if pulls_into(feed_class, batch) and _pulled(modes, state):
                        if shown and feed_class.realtime:  # merged in at read: not written, but new
                            fresh.append((feed_class, shown, (state.id,)))
                        continue
                    for users, is_hidden in ((shown, False), (hidden, True)):
                        if users:
                            queue_flat(feed_class, users, [state], is_hidden)
                else:
                    raise TypeError(f"{feed_class.__name__} is neither a flat nor an aggregated feed")
            continue
        entitled = list(_recipients(batch, batch_states, relations))
        for feed_class in manager.feeds_named(batch.feeds):
            if issubclass(feed_class, AggregatedFeed):
                _deliver_aggregated(feed_class, entitled, per_user, fresh)
            elif issubclass(feed_class, Feed):
                same: dict[tuple[tuple[str, ...], bool], list[str]] = defaultdict(list)
                receiving = entitled
                if pulls_into(feed_class, batch):
                    # Pulled authors' activities are merged in at read: not written here.
                    receiving = [
                        (user_id, kept)
                        for user_id, deliveries in entitled
                        if (kept := [d for d in deliveries if not _pulled(modes, d.state)])
                    ]
                for user_id, deliveries in receiving:
                    for is_hidden in (False, True):
                        ids_key = tuple(d.state.id for d in deliveries if d.hidden is is_hidden)
                        if ids_key:
                            same[ids_key, is_hidden].append(user_id)
                for (ids_key, is_hidden), users in same.items():
                    queue_flat(feed_class, users, [states[i] for i in ids_key], is_hidden)
            else:
                raise TypeError(f"{feed_class.__name__} is neither a flat nor an aggregated feed")
    flush()


def _coalesced(
    items: list[tuple[list[str], list[ActivityState]]],
) -> list[tuple[tuple[str, ...], list[ActivityState]]]:
    """Adds to the same users merged into one: (users, states) per distinct user list.

    An author's activities in one run reach the same followers in the same
    pages, so a burst (or a backlog caught up after a stop) becomes one
    write per feed with every activity instead of one per activity. Adding
    current states commutes, and trimming to max_length once after adding
    them all keeps what trimming after each add would keep.
    """
    merged: dict[tuple[str, ...], dict[str, ActivityState]] = {}
    for users, states in items:
        into = merged.setdefault(tuple(users), {})
        for state in states:
            into[state.id] = state
    return [(users, list(states.values())) for users, states in merged.items()]


def _deliver_aggregated(
    feed_class: type[AggregatedFeed],
    entitled: list[tuple[str, list[Delivery]]],
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Delivery]]]],
    fresh: list[tuple[type[BaseFeed], list[str], tuple[str, ...]]],
) -> None:
    """Queue each user's deliveries to an aggregated feed (read-merge-written per user at flush)."""
    for user_id, deliveries in entitled:
        per_user[user_id].append((feed_class, deliveries))
        if feed_class.realtime:
            shown = tuple(d.state.id for d in deliveries if not d.hidden)
            if shown:
                fresh.append((feed_class, [user_id], shown))


def _followers_entitled(
    recipients: list[str], state: ActivityState, relations: dict[str, FollowState]
) -> tuple[list[str], list[str]]:
    """_recipients for one activity, without a Delivery per user: (shown, hidden) recipients.

    The fanout's batches carry one activity to up to a thousand followers,
    and flat feeds need only who is shown and who holds it hidden.
    """
    if not relations:
        return [], []
    shown = [user_id for user_id in recipients if type(relations.get(user_id)) is int]
    if len(shown) == len(recipients):
        return shown, []
    added = state.added
    hidden = [
        user_id
        for user_id in recipients
        if type(relation := relations.get(user_id)) is Unfollowed and added < relation.version
    ]
    return shown, hidden


def _stamped(
    shown: list[str], hidden: list[str], state: ActivityState, relations: dict[str, FollowState]
) -> list[tuple[str, list[Delivery]]]:
    """The Delivery of each entitled recipient, stamped as _recipients stamps them."""
    added = state.added
    stamped = [(user_id, [Delivery(state, max(added, relations[user_id]))]) for user_id in shown]
    for user_id in hidden:
        relation = relations[user_id]
        stamped.append((user_id, [Delivery(state, max(added, relation.since), hidden=True)]))
    return stamped


def _pulled(modes: dict[str, ModeChanges], state: ActivityState) -> bool:
    changes = modes.get(state.activity.actor_id)
    return changes is not None and pulled_at(changes, state.activity.sort_key)


def _recipients(
    batch: FanoutBatch, states: list[ActivityState], relations: dict[str, dict[str, FollowState]]
) -> Iterator[tuple[str, list[Delivery]]]:
    """Each recipient still entitled to the batch, with its deliveries stamped.

    Following the actor: shown, stamped max(added, follow). Unfollowed after
    the activity was published: hidden, stamped as the ended follow would
    have. Otherwise (never followed, or unfollowed before): not delivered.
    """
    for user_id in batch.recipients:
        deliveries = []
        for state in states:
            if batch.feeds:  # a `to` target: no follow needed
                deliveries.append(Delivery(state, state.added))
                continue
            relation = relations.get(state.activity.actor_id, {}).get(user_id)
            if isinstance(relation, int):
                deliveries.append(Delivery(state, max(state.added, relation)))
            elif isinstance(relation, Unfollowed) and state.added < relation.version:
                deliveries.append(Delivery(state, max(state.added, relation.since), hidden=True))
        if deliveries:
            yield user_id, deliveries


def _follow_states(manager: Manager, batches: Sequence[FanoutBatch]) -> dict[str, dict[str, FollowState]]:
    """actor -> follower -> the pair's state, for every follower delivery of the run: two storage
    calls for the whole run (follows, then unfollows of the rest), whatever the actors."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for batch in batches:
        if batch.op is ActivityOp.ADD and not batch.feeds and batch.mark is None:
            for activity in batch.activities:
                wanted[activity.actor_id].update(batch.recipients)
    follows = manager.backend.follows
    actors = list(wanted)
    versions = follows.follow_versions_many([(list(wanted[a]), a) for a in actors])
    found: dict[str, dict[str, FollowState]] = dict(zip(actors, versions, strict=True))  # fresh dicts
    rests = [(list(wanted[a].difference(found[a])), a) for a in actors]
    for actor, ended in zip(actors, follows.unfollows_many(rests), strict=True):
        found[actor].update(ended)
    return found


def _write_other(manager: Manager, batch: FanoutBatch, states: dict[str, ActivityState]) -> None:
    """Marks, unfollows, updates and removals: in order, after the adds before them."""
    backend = manager.backend
    if batch.mark is not None:
        for user_id in batch.recipients:
            feed = manager.feeds_named([batch.mark.feed])[0](user_id, backend)
            if not isinstance(feed, AggregatedFeed) or not hasattr(feed, "apply_mark"):
                raise ValidationError("mark", batch.mark.feed, "names a feed without seen/read marks")
            feed.apply_mark(batch.mark)
        return
    feed_classes = manager.feeds_named(batch.feeds)
    if batch.remove_actor is not None:
        # Followed again since: that follow's copy (behind this batch on the same
        # partition) brings the actor's activities back, so taking them out now
        # would only lose those delivered in between.
        # Unfollowed again since (a redelivery, or a lagging feed-ops lane): hide by the newest
        # unfollow, or entries delivered under the follow in between would be taken out.
        again = backend.follows.follow_versions(batch.recipients, batch.remove_actor)
        ended = backend.follows.unfollows(batch.recipients, batch.remove_actor)
        for feed_class in feed_classes:
            for user_id in batch.recipients:
                if again.get(user_id, -1) <= batch.version:
                    latest = ended.get(user_id)
                    before = max(batch.version, latest.version) if latest else batch.version
                    feed_class(user_id, backend).hide_actor(batch.remove_actor, before)
        return
    current = [states[a.id] for a in batch.activities if a.id in states]
    if not current:
        return
    for feed_class in feed_classes:
        if issubclass(feed_class, AggregatedFeed):
            for user_id in batch.recipients:
                feed_class(user_id, backend).refresh(current)
        elif issubclass(feed_class, Feed):
            feed_class.refresh_in_many_users(batch.recipients, current, backend)


def _aggregated_rounds(
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Delivery]]]],
) -> list[tuple[type[AggregatedFeed], list[tuple[str, list[Delivery]]]]]:
    """Aggregated deliveries regrouped for batched writes: one call per feed class and round,
    where round k holds every user's k-th delivery to that class, so each user's deliveries
    still apply in the order they came."""
    rounds: dict[tuple[int, type[AggregatedFeed]], list[tuple[str, list[Delivery]]]] = defaultdict(list)
    for user_id, work in per_user.items():
        seen: dict[type[AggregatedFeed], int] = defaultdict(int)
        for feed_class, deliveries in work:
            rounds[seen[feed_class], feed_class].append((user_id, deliveries))
            seen[feed_class] += 1
    return [(feed_class, items) for (_, feed_class), items in sorted(rounds.items(), key=lambda r: r[0][0])]


def feed_classes_by_name(classes: Iterable[type[BaseFeed]]) -> dict[str, type[BaseFeed]]:
    return {cls.name: cls for cls in classes}
