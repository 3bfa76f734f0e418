"""`streamfeed rebuild`: a new generation of feeds from the kept topics, beside the live one.

The rebuild is the pipeline itself run a second time: its own consumer
group reads `activities` and `follows` from the start (or from a time),
its own feed-ops and dead-letter topics carry its batches, and its workers
are pinned to the new generation. The live group, the live topics and the
live generation are never written. Convergence makes the result equal to
the live feeds whatever the interleaving, and resuming an interrupted
rebuild is just running it again: the group's committed offsets say where
it was, and applying an event twice changes nothing.

Progress is the rebuild group's committed offsets against the high-water
marks of the input topics captured when the rebuild started, never what one
process happened to see.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamfeed.app.manager import Manager
from streamfeed.app.steps import plan_user_rebuild
from streamfeed.consumers.processes import WorkerProcess
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, FanoutBatch, FollowEvent
from streamfeed.kafka import offsets as group_offsets
from streamfeed.kafka.clients import client_config
from streamfeed.kafka.offsets import commit_offsets
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.retry import kafka_retry
from streamfeed.kafka.topics import TopicNames, create_topics, created_topics
from streamfeed.ops.teardown import remove_topics
from streamfeed.schemas.catalog import ACTIVITY_EVENT, FANOUT_BATCH, FOLLOW_EVENT
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings
from streamfeed.storage.registry import create_generational_backend


def rebuild_settings(live: Settings, generation: str) -> Settings:
    """The rebuild's workers: live inputs, their own group, internal topics and generation."""
    return live.model_copy(
        update={
            "app_id": f"{live.app_id}-rebuild-{generation}",
            "generation": generation,
            "internal_topic_prefix": f"{live.topic_prefix}rebuild-{generation}.",
            # Its storage is new and claimed before its workers start; never a rebuild of a rebuild.
            "auto_rebuild": False,
        }
    )


def default_generation_name(now: datetime | None = None) -> str:
    return f"g{(now or datetime.now()):%Y%m%d%H%M%S}"


Offsets = dict[tuple[str, int], int]


def _partitions(settings: Settings, topics: list[str]) -> list[tuple[str, int]]:
    return [(topic, partition) for topic in topics for partition in range(settings.partitions)]


@kafka_retry
def high_waters(settings: Settings, topics: list[str]) -> Offsets:
    """The next offset of every partition of the topics: what 'caught up' means."""

    consumer = Consumer({**client_config(settings.kafka_bootstrap), "group.id": f"{settings.app_id}-hwm"})
    try:
        return {
            (topic, partition): consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[
                1
            ]
            for topic, partition in _partitions(settings, topics)
        }
    finally:
        consumer.close()


@kafka_retry
def committed_offsets(settings: Settings, topics: list[str]) -> Offsets:
    """The group's committed offsets (the next offset to read); negative where it committed nothing."""

    return group_offsets.committed_offsets(settings, settings.app_id, _partitions(settings, topics))


def start_group_at(settings: Settings, topics: list[str], when: datetime) -> bool:
    """Commit, for a group that has committed nothing yet, the first offsets at or after `when`.

    Returns False (and changes nothing) for a group that already has
    offsets: a resumed rebuild goes on from where it was.
    """

    if any(offset >= 0 for offset in committed_offsets(settings, topics).values()):
        return False
    millis = int(when.timestamp() * 1000)
    consumer = Consumer({**client_config(settings.kafka_bootstrap), "group.id": f"{settings.app_id}-seek"})
    try:
        found = consumer.offsets_for_times(
            [TopicPartition(t, p, millis) for t, p in _partitions(settings, topics)], timeout=10
        )
    finally:
        consumer.close()
    ends = high_waters(settings, topics)
    offsets = {
        (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else ends[(tp.topic, tp.partition)]
        for tp in found
    }
    commit_offsets(settings, settings.app_id, offsets)
    return True


@kafka_retry
def reset_group_offsets(settings: Settings, topics: list[str]) -> None:
    """Commit offset 0 on every partition of the topics for the (idle) group."""

    commit_offsets(settings, settings.app_id, {key: 0 for key in _partitions(settings, topics)})


@dataclass
class Progress:
    """Where a rebuild stands: input events applied of those to apply, and its own feed-ops lag."""

    applied: int
    total: int
    lag_by_topic: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.applied >= self.total and not any(self.lag_by_topic.values())


def measure(settings: Settings, start: Offsets, targets: Offsets) -> Progress:
    """Progress from committed offsets: inputs against the captured targets, feed-ops against now."""
    names = TopicNames.from_settings(settings)
    inputs = names.inputs
    internal = [names.feed_ops_high, names.feed_ops_low]
    committed = committed_offsets(settings, inputs + internal)
    applied = total = 0
    lag: dict[str, int] = {}
    for key, target in targets.items():
        begin = start.get(key, 0)
        done = max(committed.get(key, -1), begin)
        total += max(0, target - begin)
        applied += max(0, min(done, target) - begin)
        lag[key[0]] = lag.get(key[0], 0) + max(0, target - done)
    for key, end in high_waters(settings, internal).items():
        lag[key[0]] = lag.get(key[0], 0) + max(0, end - max(committed.get(key, -1), 0))
    return Progress(applied, total, lag)


@dataclass
class RebuildResult:
    generation: str
    events: int
    seconds: float
    switched: bool


def run_rebuild(
    live: Settings,
    generation: str,
    workers: int = 1,
    from_time: datetime | None = None,
    switch: bool = False,
    log_dir: Path | None = None,
    report: Callable[[Progress], None] | None = None,
    timeout: float | None = None,
    app_path: str | None = None,
) -> RebuildResult:
    """Rebuild every feed into `generation` and return when it has caught up (then switch, if asked)."""

    settings = rebuild_settings(live, generation)
    backend = create_generational_backend(live.storage, live)
    backend.store.create(generation)
    # Its schema, where storage has one, and its identity: the rebuild's workers find a group
    # with committed offsets (a resumed run, or one started at a time) and must not take the
    # new generation for one that lost its data (streamfeed.consumers.storage_guard).
    backend.backend_of(generation).marker.claim(uuid.uuid4().hex)
    created = created_topics(create_topics(settings))
    names = TopicNames.from_settings(settings)
    inputs = names.inputs
    if created:
        # A second run (a catch-up) recreates the internal topics this one removed at its end:
        # the group's old offsets on them would point past the new, empty topics.
        reset_group_offsets(settings, created)
    if from_time is not None:
        start_group_at(settings, inputs, from_time)
    begin = {key: max(0, offset) for key, offset in committed_offsets(settings, inputs).items()}
    log_dir = log_dir or Path.cwd()
    started = time.monotonic()
    processes = [
        WorkerProcess(settings, log_dir / f"rebuild-{generation}-{n}.log", app_path).start()
        for n in range(workers)
    ]
    try:
        targets = high_waters(settings, inputs)
        _wait(settings, begin, targets, processes, report, timeout)
        if switch:
            # Readers follow within a second. Writers never do: a worker writes the generation
            # that was live when it started, so two groups never write one generation at once.
            backend.store.switch(generation)
    finally:
        for process in processes:
            process.stop()
        backend.close()
    applied = measure(settings, begin, targets).applied
    remove_topics(settings, [names.feed_ops_high, names.feed_ops_low, names.dead_letters])
    return RebuildResult(generation, applied, time.monotonic() - started, switch)


def _wait(
    settings: Settings,
    begin: Offsets,
    targets: Offsets,
    processes: list[WorkerProcess],
    report: Callable[[Progress], None] | None,
    timeout: float | None,
) -> None:
    started = time.monotonic()
    while True:
        progress = measure(settings, begin, targets)
        if report is not None:
            report(progress)
        if progress.done:
            return
        if not any(p.running for p in processes):
            raise RuntimeError("every rebuild worker exited:\n" + "\n".join(p.log_tail() for p in processes))
        if timeout is not None and time.monotonic() - started > timeout:
            raise TimeoutError(f"rebuild not caught up after {timeout:.0f}s: {progress}")
        time.sleep(0.5)


def _whole_topic(settings: Settings, topic: str) -> Iterator[tuple[bytes | None, bytes]]:
    """Every record (key, value) of a topic up to its high-water marks when the call starts, each
    partition in order (the order its events were applied in)."""

    ends = {key: end for key, end in high_waters(settings, [topic]).items() if end > 0}
    if not ends:
        return
    consumer = Consumer(
        {
            **client_config(settings.kafka_bootstrap),
            "group.id": f"{settings.app_id}-rebuild-user",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(t, partition, OFFSET_BEGINNING) for t, partition in ends])
        remaining = set(ends)
        while remaining:
            message = consumer.poll(10)
            if message is None:
                raise TimeoutError(f"{topic} stopped answering while being read")
            if message.error() is not None:
                continue
            key = (message.topic() or "", message.partition() or 0)
            if key not in remaining:
                continue
            offset = message.offset() or 0
            if offset + 1 >= ends[key]:
                remaining.discard(key)
            if offset < ends[key]:
                yield message.key(), message.value() or b""
    finally:
        consumer.close()


def activities_concerning(
    settings: Settings, user_id: str, activity_class: type[Activity] | None = None
) -> list[Any]:
    """Every activity in the activities topic by the user or naming the user in `to`.

    The whole topic is read (a `to` may come from any actor's partition);
    records that do not decode were dead letters and concern no feed.
    """

    activity_class = activity_class or Activity
    codec = AvroCodec(registry=settings.schema_registry_url)
    suffix = f":{user_id}"
    found = []
    for _, value in _whole_topic(settings, TopicNames.from_settings(settings).activities):
        try:
            event = ActivityEvent.from_record(codec.decode(ACTIVITY_EVENT, value), activity_class)
        except Exception:  # a dead letter: the pipeline never applied it
            continue
        activity = event.activity
        if activity.actor_id == user_id or any(str(entry).endswith(suffix) for entry in activity.to):
            found.append(activity)
    return found


def follows_concerning(settings: Settings, user_id: str) -> list[Any]:
    """Every follow and unfollow in the follows topic with the user on either side, in the order
    each pair's events were applied."""

    codec = AvroCodec(registry=settings.schema_registry_url)
    found = []
    for _, value in _whole_topic(settings, TopicNames.from_settings(settings).follows):
        try:
            event = FollowEvent.from_record(codec.decode(FOLLOW_EVENT, value))
        except Exception:  # a dead letter
            continue
        if user_id in (event.follower, event.followed):
            found.append(event)
    return found


def marks_of(settings: Settings, user_id: str, activity_class: type[Activity] | None = None) -> list[Any]:
    """The user's seen/read marks from the marks topic, in order, as feed-ops batches."""

    codec = AvroCodec(registry=settings.schema_registry_url)
    found = []
    for key, value in _whole_topic(settings, TopicNames.from_settings(settings).marks):
        if key is None or key.decode() != user_id:
            continue
        try:
            batch = FanoutBatch.from_record(codec.decode(FANOUT_BATCH, value), activity_class or Activity)
        except Exception:  # a dead letter
            continue
        if batch.mark is not None and batch.recipients == [user_id]:
            found.append(batch)
    return found


@dataclass(frozen=True)
class UserRebuild:
    batches: int
    follows: int
    marks: int


def rebuild_user(settings: Settings, manager: Manager, user_id: str, graph: bool = False) -> UserRebuild:
    """Send what rebuilds one user's feeds to the user's feed-ops partition: the live workers
    apply it as the user's one writer, with everything else on that partition; nothing stops.

    Deliveries come from the activities topic (the user's own, and those naming the user in
    `to`) and from the followed users' user feeds, copied at each follow's version as the
    follow did; the user's marks come from the marks topic. With graph, the follow graph is
    restored too: every follow event with the user on either side is sent again through the
    follows topic (applying one twice changes nothing), and each follow copies history in as
    it did the first time.
    """

    activities = activities_concerning(settings, user_id, manager.activity_class)
    follows = follows_concerning(settings, user_id) if graph else []
    marks = marks_of(settings, user_id, manager.activity_class)
    batches = plan_user_rebuild(manager, user_id, activities, copies=not graph)
    producer = StreamfeedProducer(settings)
    for event in follows:
        producer.send_follow_event(event)
    producer.send_batches(user_id, batches + marks)
    producer.flush()
    return UserRebuild(len(batches), len(follows), len(marks))
