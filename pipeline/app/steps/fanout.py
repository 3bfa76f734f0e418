"""The activities-topic step: store an activity's state, plan its delivery to followers.

Owned by the actor's partition: the only writer of the actor's activity
states and user feed. Idempotent: a redelivered event plans the same
batches again, which the materializer applies as no-ops.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from streamfeed.app.application import FeedApplication
from streamfeed.app.steps.partitioning import by_partition, chunks
from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.author_modes import (
    AuthorModeEvent,
    ModeChanges,
    currently_pulled,
    pulled_at,
)
from streamfeed.domain.events import (
    ActivityEvent,
    ActivityOp,
    FanoutBatch,
    FanoutPriority,
)
from streamfeed.domain.ids import sort_key_for
from streamfeed.domain.targets import parse_targets
from streamfeed.feeds.hybrid import SWITCH_LEAD
from streamfeed.storage.base import NewEntries


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


def fanout_activity(
    manager: FeedApplication, event: ActivityEvent, partitions: int
) -> list[FanoutBatch | FanoutRest]:
    """Store the activity's new state and the actor's user feed; plan delivery, a batch per partition."""
    return fanout_many(manager, [event], partitions)[0]


def fanout_many(
    manager: FeedApplication,
    events: Sequence[ActivityEvent],
    partitions: int,
    switches: list[AuthorModeEvent] | None = None,
) -> list[list[FanoutBatch | FanoutRest]]:
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

    Activities of pulled authors (streamfeed.domain.author_modes) are not sent to
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
    # the user feed (apply_author_mode), so one of the two sees the other (streamfeed.domain.author_modes).
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
    pages = first_follower_pages(manager, actors)
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
    plans: list[list[FanoutBatch | FanoutRest]] = []
    for plan in planned:
        if plan is None:
            plans.append([])
            continue
        event, state, targets = plan
        actor = event.activity.actor_id
        if not next(sending):
            plans.append([*_target_batches(manager, event, state, targets, partitions)])
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
            batches += plan_batches(manager, op, state, recipients, (), lane, partitions, event.published_at)
        plans.append([*batches, *_target_batches(manager, event, state, targets, partitions)])
        if actor in cursors:
            rest = rests.setdefault(actor, FanoutRest(actor, cursors[actor], []))
            rest.deliveries.append((op, state, event.priority, event.published_at))
    if rests:  # after every event's first page: the caller plans and sends the rest page by page
        plans[-1] = [*plans[-1], *rests.values()]
    return plans


#: What a plan holds besides FanoutRest markers: batches, and for the agents mode switches too.
Planned = TypeVar("Planned")


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
    manager: FeedApplication, rest: FanoutRest, partitions: int
) -> tuple[list[FanoutBatch], FanoutRest | None]:
    """The next page of a fanout: its batches, and what is left after it (None: done)."""
    page, cursor = manager.backend.follows.followers_page(rest.actor, rest.cursor, manager.follower_page_size)
    batches = []
    for op, state, priority, published_at in rest.deliveries:
        lanes = {priority: page} if priority is not None else manager.follower_lanes_of(rest.actor, page)
        for lane, recipients in lanes.items():
            batches += plan_batches(
                manager, op, state, recipients, (), FanoutPriority(lane), partitions, published_at
            )
    return batches, (None if cursor is None else FanoutRest(rest.actor, cursor, rest.deliveries))


def expand_rests(
    manager: FeedApplication, planned: Sequence[Planned | FanoutRest], partitions: int
) -> Iterator[Planned | FanoutBatch]:
    """Every batch a plan stands for, a page at a time: for callers that apply batches at once
    (inline mode, the simulation, tests), as a worker sends them."""
    for item in planned:
        if not isinstance(item, FanoutRest):
            yield item
            continue
        rest: FanoutRest | None = item
        while rest is not None:
            batches, rest = fanout_rest(manager, rest, partitions)
            yield from batches


def _target_batches(
    manager: FeedApplication,
    event: ActivityEvent,
    state: ActivityState,
    targets: dict[str, list[str]],
    partitions: int,
) -> list[FanoutBatch]:
    """Deliveries to the `to` targets (notification feeds): always pushed."""
    op = ActivityOp.ADD if event.op is ActivityOp.ADD else ActivityOp.UPDATE
    batches = []
    for feed_name, user_ids in sorted(targets.items()):
        batches += plan_batches(
            manager, op, state, user_ids, (feed_name,), FanoutPriority.HIGH, partitions, event.published_at
        )
    return batches


def _threshold_switches(
    manager: FeedApplication, counts: dict[str, int], modes: dict[str, ModeChanges]
) -> list[AuthorModeEvent]:
    """Mode changes the manager asks for, given each actor's follower count: taking effect
    SWITCH_LEAD from now, so every reader knows of the switch before it covers an activity."""
    switches = []
    for actor, count in sorted(counts.items()):
        pulled = currently_pulled(modes.get(actor, ()))
        wanted = manager.author_mode_for(actor, count, pulled)
        if wanted is not None and wanted != pulled:
            switches.append(AuthorModeEvent(actor, wanted, sort_key_for(datetime.now(UTC)) + SWITCH_LEAD))
    return switches


def _announce_pulled(manager: FeedApplication, states: list[ActivityState]) -> None:
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


def first_follower_pages(manager: FeedApplication, actors: list[str]) -> list[tuple[list[str], str | None]]:
    """Each actor's followers to plan now, and the cursor of the rest (FanoutRest) or None."""
    follows = manager.backend.follows
    if manager.streams_followers():  # a page of each actor's followers
        return follows.followers_pages_many(actors, manager.follower_page_size)
    # The app's own graph (get_user_follower_ids) decides, whole, once per activity.
    return [(users, None) for users in follows.followers_many(actors)]


def _write_user_feeds(manager: FeedApplication, ops: list[tuple[ActivityOp, ActivityState]]) -> None:
    """The actors' own feeds, in event order: each run of adds in one storage call."""
    user_feed = manager.user_feed_class
    backend = manager.backend
    adds: list[tuple[list[str], list[ActivityState]]] = []

    def flush() -> None:
        if adds:
            backend.timelines.add_batches(list(adds), user_feed.max_length, False, user_feed.trim_slack)
            adds.clear()

    for op, state in ops:
        if op is ActivityOp.ADD:
            adds.append(([user_feed.key_for(state.activity.actor_id)], [state]))
        else:
            flush()
            user_feed.refresh_in_many_users([state.activity.actor_id], [state], backend)
    flush()


def plan_batches(
    manager: FeedApplication,
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
