"""The pipeline's topics: names, shapes, and idempotent creation.

activities (key: actor), follows (key: follower), marks (seen/read, key:
the user) and reactions (key: the activity) are the inputs and the history a
rebuild replays, so they are kept forever by default. feed-ops
(one topic per fanout lane, partition chosen by recipient) is internal.
follows and the feed-ops lanes are co-partitioned: the same user hashes to
the same partition number in each, so one worker owns all of a user's
feeds. All topics share the partition count to keep that true.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]

from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.kafka.clients import client_config
from streamfeed.kafka.retry import kafka_retry
from streamfeed.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    co_partitioned: bool
    purpose: str


@dataclass(frozen=True)
class TopicNames:
    activities: str
    follows: str
    marks: str
    reactions: str
    feed_ops_high: str
    feed_ops_low: str
    dead_letters: str

    @property
    def inputs(self) -> list[str]:
        """What producers write and a rebuild replays."""
        return [self.activities, self.follows, self.marks, self.reactions]

    @property
    def consumed(self) -> list[str]:
        """Every topic the workers' group consumes (its lag is over these)."""
        return [*self.inputs, self.feed_ops_high, self.feed_ops_low]

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        """The input topics under topic_prefix; the pipeline's own ones under internal_topic_prefix
        if set (a rebuild reads the live inputs but must never write the live feed-ops)."""
        p = settings.topic_prefix
        own = p if settings.internal_topic_prefix is None else settings.internal_topic_prefix
        return cls(
            f"{p}activities",
            f"{p}follows",
            f"{p}marks",
            f"{p}reactions",
            f"{own}feed-ops-high",
            f"{own}feed-ops-low",
            f"{own}dead-letters",
        )


def topic_specs(settings: Settings) -> list[TopicSpec]:
    names = TopicNames.from_settings(settings)
    n = settings.partitions
    return [
        TopicSpec(names.activities, n, settings.history_retention_ms, False, "activity events, key actor"),
        TopicSpec(names.follows, n, settings.history_retention_ms, True, "follow events, key follower"),
        TopicSpec(names.marks, n, settings.history_retention_ms, True, "seen/read marks, key user"),
        TopicSpec(names.reactions, n, settings.history_retention_ms, False, "reaction events, key activity"),
        TopicSpec(
            names.feed_ops_high,
            n,
            settings.feed_ops_retention_ms,
            True,
            "fanout batches, high lane",
        ),
        TopicSpec(names.feed_ops_low, n, settings.feed_ops_retention_ms, True, "fanout batches, low lane"),
        TopicSpec(names.dead_letters, n, settings.dead_letter_retention_ms, False, "rejected records"),
    ]


def _existing_topics(
    admin: AdminClient, settings: Settings, specs: list[TopicSpec], timeout: float
) -> dict[Any, Any]:
    """Metadata of the specs' topics that exist, asking the controller, not only a broker's cache.

    A topic created a moment ago may not be in a broker's metadata yet; a
    validate-only create asks the controller, and such a topic is waited for.
    """

    existing = admin.list_topics(timeout=timeout).topics
    unlisted = [s for s in specs if s.name not in existing]
    if not unlisted:
        return {s.name: existing[s.name] for s in specs}
    probes = admin.create_topics(
        [NewTopic(s.name, s.partitions, settings.replication_factor) for s in unlisted],
        operation_timeout=timeout,
        validate_only=True,
    )
    late = []
    for name, future in probes.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            late.append(name)
    deadline = time.monotonic() + timeout
    while late and any(name not in existing for name in late) and time.monotonic() < deadline:
        time.sleep(0.2)
        existing = admin.list_topics(timeout=timeout).topics
    return {s.name: existing[s.name] for s in specs if s.name in existing}


class CoPartitioningError(StreamfeedError, RuntimeError):
    """Existing topics whose partition counts would send one user to two workers."""


def create_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; refuse if existing co-partitioned ones disagree. Returns a report."""

    with AdminClient({**client_config(settings.kafka_bootstrap)}) as admin:
        return _create_missing(admin, settings, timeout)


def created_topics(report: list[str]) -> list[str]:
    """The topics a `create_topics` report says it created (the others existed)."""
    return [line.removeprefix("created ") for line in report if line.startswith("created ")]


def _create_missing(admin: AdminClient, settings: Settings, timeout: float) -> list[str]:

    specs = topic_specs(settings)
    existing = _existing_topics(admin, settings, specs, timeout)
    wrong = [
        f"{s.name} has {len(existing[s.name].partitions)} partitions, expected {s.partitions}"
        for s in specs
        if s.name in existing and s.co_partitioned and len(existing[s.name].partitions) != s.partitions
    ]
    if wrong:
        raise CoPartitioningError(
            "co-partitioned topics must all have STREAMFEED_PARTITIONS partitions: " + "; ".join(wrong)
        )
    report = []
    missing = [s for s in specs if s.name not in existing]
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(
                    s.name,
                    num_partitions=s.partitions,
                    replication_factor=settings.replication_factor,
                    config={
                        "retention.ms": str(s.retention_ms),
                        "max.message.bytes": str(settings.message_max_bytes),
                    },
                )
                for s in missing
            ],
            operation_timeout=timeout,
        )
        for name, future in futures.items():
            future.result(timeout=timeout)
            report.append(f"created {name}")
    for spec in specs:
        if spec.name in existing:
            report.append(f"exists {spec.name} ({len(existing[spec.name].partitions)} partitions)")
    return report


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it, beside what the pipeline wants (`spec`)."""

    spec: TopicSpec
    exists: bool
    partitions: int | None = None
    replication_factor: int | None = None
    retention_ms: int | None = None
    max_message_bytes: int | None = None
    #: Records the topic holds now: high minus low watermark, over its partitions.
    records: int | None = None

    def problems(self, settings: Settings) -> list[str]:
        """What differs from what the pipeline wants, worst first; empty when all agree."""
        if not self.exists:
            return ["missing: run `streamfeed topics create`"]
        found = []
        if self.partitions != self.spec.partitions:
            effect = (
                "one user's events would reach two workers"
                if self.spec.co_partitioned
                else "fewer workers can share it"
            )
            found.append(f"{self.partitions} partitions, expected {self.spec.partitions} ({effect})")
        if self.retention_ms != self.spec.retention_ms:
            found.append(f"retention.ms {self.retention_ms}, expected {self.spec.retention_ms}")
        if self.max_message_bytes is not None and self.max_message_bytes < settings.message_max_bytes:
            found.append(
                f"max.message.bytes {self.max_message_bytes}, below the producers' "
                f"{settings.message_max_bytes} (STREAMFEED_MESSAGE_MAX_BYTES)"
            )
        return found


def describe_topics(settings: Settings, timeout: float = 10.0) -> list[TopicState]:
    """Each of the pipeline's topics as the cluster has it: partitions, replicas, the two configs
    `topics create` sets, and how many records it holds (what a rebuild would replay)."""

    specs = topic_specs(settings)
    with AdminClient({**client_config(settings.kafka_bootstrap)}) as admin:
        listed = admin.list_topics(timeout=timeout).topics
        present = [s for s in specs if s.name in listed]
        resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in present]
        configs = {}
        described = admin.describe_configs(resources, request_timeout=timeout) if resources else {}
        for resource, future in described.items():
            entries = future.result(timeout=timeout)
            configs[resource.name] = {name: entry.value for name, entry in entries.items()}
    consumer = Consumer(
        {**client_config(settings.kafka_bootstrap), "group.id": f"{settings.app_id}-describe", "log_level": 2}
    )
    try:
        states = []
        for spec in specs:
            if spec.name not in listed:
                states.append(TopicState(spec, exists=False))
                continue
            partitions = listed[spec.name].partitions
            records = sum(_held(consumer, spec.name, number, timeout) for number in partitions)
            config = configs.get(spec.name, {})
            states.append(
                TopicState(
                    spec,
                    exists=True,
                    partitions=len(partitions),
                    replication_factor=min((len(p.replicas) for p in partitions.values()), default=0),
                    retention_ms=_int_or_none(config.get("retention.ms")),
                    max_message_bytes=_int_or_none(config.get("max.message.bytes")),
                    records=records,
                )
            )
        return states
    finally:
        consumer.close()


@kafka_retry
def _held(consumer: Consumer, topic: str, partition: int, timeout: float) -> int:
    """Records a partition holds (a topic created a moment ago may have no leader yet: retried)."""
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
    return max(0, high - low)


def _int_or_none(value: str | None) -> int | None:
    return None if value is None else int(value)
