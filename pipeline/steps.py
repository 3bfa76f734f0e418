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
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from aiokafka.partitioner import murmur2

from pipeline.activity import Activity
from pipeline.aggregated_feeds import AggregatedFeed
from pipeline.events import (
    ActivityEvent,
    ActivityOp,
    FanoutBatch,
    FanoutPriority,
    FollowEvent,
    FollowOp,
)
from pipeline.exceptions import ValidationError
from pipeline.feeds import BaseFeed, Feed

if TYPE_CHECKING:
    from pipeline.manager import Manager

#: Activities per batch when a follow copies history: keeps messages well under 1 MB.
COPY_CHUNK = 500


def partition_for(user_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives key user_id: co-partitioning by user."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % partitions


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_targets(manager: Manager, activity: Activity) -> dict[str, list[str]]:
    """The activity's `to` field as feed name -> user ids; unknown feeds are bad input."""
    targets: dict[str, list[str]] = defaultdict(list)
    known = manager.all_feed_classes()
    for entry in activity.to:
        name, _, user_id = entry.partition(":")
        if name not in known or not user_id:
            raise ValidationError(
                "to", entry, f"must be FEED:USER_ID with FEED one of {', '.join(sorted(known))}"
            )
        targets[name].append(user_id)
    return targets


def fanout_activity(manager: Manager, event: ActivityEvent, partitions: int) -> list[FanoutBatch]:
    """Store the activity in the actor's user feed; plan its delivery, a batch per partition."""
    activity = event.activity
    targets = parse_targets(manager, activity)
    backend = manager.backend
    user_feed = manager.get_user_feed(activity.actor_id)
    if event.op is ActivityOp.ADD:
        backend.activities.set_removed([activity.id], False)  # a re-add after a removal
        user_feed.add(activity)
    elif event.op is ActivityOp.REMOVE:
        backend.activities.set_removed([activity.id], True)
        user_feed.remove(activity)
    else:
        type(user_feed).update_in_many_users([activity.actor_id], [activity], backend)

    if event.priority is not None:
        lanes = {event.priority: manager.all_follower_ids(activity.actor_id)}
    else:
        lanes = manager.get_user_follower_ids(activity.actor_id)
    batches = []
    for priority, followers in lanes.items():
        batches += _batches(manager, event, followers, (), FanoutPriority(priority), partitions)
    for feed_name, user_ids in sorted(targets.items()):
        batches += _batches(manager, event, user_ids, (feed_name,), FanoutPriority.HIGH, partitions)
    if event.op is ActivityOp.REMOVE:
        backend.activities.remove_many([activity.id])
    return batches


def _batches(
    manager: Manager,
    event: ActivityEvent,
    recipients: Iterable[str],
    feeds: Sequence[str],
    priority: FanoutPriority,
    partitions: int,
) -> list[FanoutBatch]:
    by_partition: dict[int, list[str]] = defaultdict(list)
    for user_id in recipients:
        by_partition[partition_for(user_id, partitions)].append(user_id)
    return [
        FanoutBatch(event.op, list(chunk), [event.activity], tuple(feeds), priority, event.published_at)
        for _, users in sorted(by_partition.items())
        for chunk in chunks(sorted(users), manager.fanout_chunk_size)
    ]


def apply_follow(manager: Manager, event: FollowEvent) -> list[FanoutBatch]:
    """Record the follow or unfollow; plan copying history in, or taking the actor's activities out."""
    follows = manager.backend.follows
    if event.op is FollowOp.UNFOLLOW:
        follows.unfollow(event.follower, event.followed)
        return [
            FanoutBatch(
                ActivityOp.REMOVE, [event.follower], [], (), FanoutPriority.HIGH, None, event.followed
            )
        ]
    follows.follow(event.follower, event.followed)
    limit = manager.follow_activity_limit if event.activity_copy_limit is None else event.activity_copy_limit
    if limit == 0:
        return []
    history = manager.get_user_feed(event.followed)[:limit]
    return [
        FanoutBatch(ActivityOp.ADD, [event.follower], list(chunk), (), FanoutPriority.HIGH)
        for chunk in chunks(history, COPY_CHUNK)
    ]


def deliverable(manager: Manager, batches: Sequence[FanoutBatch]) -> list[FanoutBatch]:
    """ADD batches as they may still be delivered: no removed activities, only current followers.

    A delivery can reach a feed after a removal or an unfollow that happened
    later (they travel on other topics); both lookups here are for the whole
    run of batches, so the removal or unfollow wins whatever the order.
    """
    adds = [b for b in batches if b.op is ActivityOp.ADD]
    if not adds:
        return list(batches)
    backend = manager.backend
    removed = backend.activities.removed_among(sorted({a.id for b in adds for a in b.activities}))
    followers: dict[str, set[str]] = {}
    if manager.delivers_to_followers_only():
        wanted: dict[str, set[str]] = defaultdict(set)
        for batch in adds:
            actors = {a.actor_id for a in batch.activities}
            if not batch.feeds and len(actors) == 1:
                wanted[actors.pop()].update(batch.recipients)
        for actor, recipients in wanted.items():
            followers[actor] = backend.follows.following_among(sorted(recipients), actor)
    result = []
    for batch in batches:
        if batch.op is not ActivityOp.ADD:
            result.append(batch)
            continue
        activities = [a for a in batch.activities if a.id not in removed]
        recipients = list(batch.recipients)
        actors = {a.actor_id for a in activities}
        if not batch.feeds and len(actors) == 1 and (actor := actors.pop()) in followers:
            recipients = [u for u in recipients if u in followers[actor]]
        if activities and recipients:
            result.append(
                FanoutBatch(batch.op, recipients, activities, batch.feeds, batch.priority, batch.published_at)
            )
    return result


def materialize(manager: Manager, batch: FanoutBatch) -> None:
    """Write one batch into every recipient's feeds: flat feeds as one batch, groups per user."""
    for checked in deliverable(manager, [batch]):
        _write(manager, checked)


def _write(manager: Manager, batch: FanoutBatch) -> None:
    backend = manager.backend
    activities = list(batch.activities)
    ids = [a.id for a in activities]
    for feed_class in manager.feeds_named(batch.feeds):
        if batch.remove_actor is not None:
            for user_id in batch.recipients:
                feed_class(user_id, backend).remove_by_actor(batch.remove_actor)
        if issubclass(feed_class, AggregatedFeed):
            for user_id in batch.recipients:
                feed = feed_class(user_id, backend)
                if batch.op is ActivityOp.ADD:
                    feed.add_many(activities)
                elif batch.op is ActivityOp.REMOVE:
                    feed.remove_many(ids)
                else:
                    feed.update_many(activities)
        elif issubclass(feed_class, Feed):
            if batch.op is ActivityOp.ADD:
                feed_class.add_to_many_users(batch.recipients, activities, backend)
            elif batch.op is ActivityOp.REMOVE:
                feed_class.remove_from_many_users(batch.recipients, ids, backend)
            else:
                feed_class.update_in_many_users(batch.recipients, activities, backend)
        else:
            raise TypeError(f"{feed_class.__name__} is neither a flat nor an aggregated feed")


def feed_classes_by_name(classes: Iterable[type[BaseFeed]]) -> dict[str, type[BaseFeed]]:
    return {cls.name: cls for cls in classes}


def materialize_many(manager: Manager, batches: Sequence[FanoutBatch]) -> None:
    """Materialize batches in order, sending runs of ADDs to storage together.

    Adds commute for flat feeds (a feed keeps the newest max_length of
    everything added), so a run of ADD batches is one storage round trip for
    their flat feeds. Aggregated feeds are read-merge-write per user: within
    a run each user's adds are applied in order, different users in
    parallel. Any other batch first finishes the run, keeping order where it
    matters.
    """
    backend = manager.backend
    batches = deliverable(manager, batches)
    flat: dict[type[Feed], list[tuple[list[str], list[Activity]]]] = defaultdict(list)
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Activity]]]] = defaultdict(list)

    def flush() -> None:
        for feed_class, items in flat.items():
            keys_and_activities = [([feed_class.key_for(u) for u in users], acts) for users, acts in items]
            backend.timelines.add_batches(keys_and_activities, feed_class.max_length)
        flat.clear()
        if per_user:
            work = list(per_user.items())
            per_user.clear()
            list(_pool().map(lambda item: _add_aggregated(backend, *item), work))

    for batch in batches:
        if batch.op is not ActivityOp.ADD or batch.remove_actor is not None:
            flush()
            _write(manager, batch)
            continue
        for feed_class in manager.feeds_named(batch.feeds):
            if issubclass(feed_class, AggregatedFeed):
                for user_id in batch.recipients:
                    per_user[user_id].append((feed_class, list(batch.activities)))
            elif issubclass(feed_class, Feed):
                flat[feed_class].append((list(batch.recipients), list(batch.activities)))
            else:
                raise TypeError(f"{feed_class.__name__} is neither a flat nor an aggregated feed")
    flush()


def _add_aggregated(backend, user_id: str, work: list[tuple[type[AggregatedFeed], list[Activity]]]) -> None:
    for feed_class, activities in work:
        feed_class(user_id, backend).add_many(activities)


_executor = None


def _pool():
    """Threads for per-user aggregated writes: storage calls wait on the network, not the CPU."""
    global _executor
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="materialize")
    return _executor
