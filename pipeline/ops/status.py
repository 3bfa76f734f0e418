"""What `streamfeed status` prints: a consumer group's members, their partitions, its lag per
topic and the dead letters waiting (what users otherwise reach for
`kafka-consumer-groups --describe` to see)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamfeed.kafka.clients import client_config
from streamfeed.kafka.offsets import committed_offsets
from streamfeed.kafka.topics import TopicNames
from streamfeed.settings import Settings


@dataclass
class Member:
    client_id: str
    host: str
    partitions: list[tuple[str, int]]


@dataclass
class GroupStatus:
    group: str
    state: str
    members: list[Member] = field(default_factory=list)
    #: Lag per topic: records not yet consumed (all of a partition the group never committed on).
    lag_by_topic: dict[str, int] = field(default_factory=dict)
    #: Topics with data on a partition where the group has committed nothing yet.
    uncommitted: set[str] = field(default_factory=set)
    dead_letters: int = 0
    #: Whether the group committed an offset on its input topics: made progress.
    committed_anything: bool = False

    def lines(self) -> list[str]:
        out = [f"group {self.group}: {self.state}, {len(self.members)} members"]
        for member in sorted(self.members, key=lambda m: m.client_id):
            held = ", ".join(f"{topic}[{p}]" for topic, p in sorted(member.partitions)) or "nothing"
            out.append(f"  {member.client_id} on {member.host}: {held}")
        for topic, lag in self.lag_by_topic.items():
            out.append(
                f"lag {topic}: {lag}" + (" (nothing committed yet)" if topic in self.uncommitted else "")
            )
        out.append(f"dead letters: {self.dead_letters}")
        return out

    @property
    def total_lag(self) -> int:
        return sum(self.lag_by_topic.values())

    def as_json(self) -> dict[str, Any]:
        """The report as data (`streamfeed status --json`)."""
        return {
            "group": self.group,
            "state": self.state,
            "members": [
                {
                    "client_id": m.client_id,
                    "host": m.host,
                    "partitions": [list(p) for p in sorted(m.partitions)],
                }
                for m in sorted(self.members, key=lambda m: m.client_id)
            ],
            "lag": dict(self.lag_by_topic),
            "total_lag": self.total_lag,
            "uncommitted_topics": sorted(self.uncommitted),
            "dead_letters": self.dead_letters,
        }


def topic_lag(highs: list[int], committed: list[int]) -> tuple[int, bool]:
    """A topic's lag from each partition's high-water mark and committed offset (negative: none
    committed, as Kafka says -1001), and whether a partition with data has nothing committed
    (then all of it is lag: the group has consumed none of it, as far as Kafka knows)."""
    total, uncommitted = 0, False
    for high, done in zip(highs, committed, strict=True):
        if done < 0:
            uncommitted = uncommitted or high > 0
            total += max(0, high)
            continue
        total += max(0, high - done)
    return total, uncommitted


def group_status(settings: Settings, timeout: float = 10.0) -> GroupStatus:
    """Describe the settings' consumer group (members and assignments), lag and dead letters."""

    names = TopicNames.from_settings(settings)
    with AdminClient({**client_config(settings.kafka_bootstrap), "log_level": 2}) as admin:
        description = admin.describe_consumer_groups([settings.app_id], request_timeout=timeout)
        group = description[settings.app_id].result()
    status = GroupStatus(settings.app_id, str(group.state.name).lower())
    for member in group.members:
        assigned = member.assignment.topic_partitions if member.assignment else []
        held = [(tp.topic, tp.partition) for tp in assigned]
        status.members.append(Member(member.client_id, member.host, held))

    topics = names.consumed
    keys = [(t, p) for t in topics for p in range(settings.partitions)]
    committed = committed_offsets(settings, settings.app_id, keys, timeout)
    status.committed_anything = any(
        offset > 0 for (topic, _), offset in committed.items() if topic in names.inputs
    )
    consumer = Consumer({**client_config(settings.kafka_bootstrap), "group.id": f"{settings.app_id}-status"})
    try:
        for topic in topics:
            highs = [
                consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1]
                for partition in range(settings.partitions)
            ]
            done = [committed.get((topic, partition), -1) for partition in range(settings.partitions)]
            status.lag_by_topic[topic], uncommitted = topic_lag(highs, done)
            if uncommitted:
                status.uncommitted.add(topic)
        for partition in range(settings.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(names.dead_letters, partition), timeout=timeout
            )
            status.dead_letters += high - low
    finally:
        consumer.close()
    return status
