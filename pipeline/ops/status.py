"""What `streamfeed status` prints: a consumer group's members, their partitions, its lag per
topic and the dead letters waiting (what users otherwise reach for
`kafka-consumer-groups --describe` to see)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    #: Lag per topic; None where the group has committed nothing for a partition with data.
    lag_by_topic: dict[str, int | None] = field(default_factory=dict)
    dead_letters: int = 0
    #: Whether the group committed an offset on its input topics: made progress.
    committed_anything: bool = False

    def lines(self) -> list[str]:
        out = [f"group {self.group}: {self.state}, {len(self.members)} members"]
        for member in sorted(self.members, key=lambda m: m.client_id):
            held = ", ".join(f"{topic}[{p}]" for topic, p in sorted(member.partitions)) or "nothing"
            out.append(f"  {member.client_id} on {member.host}: {held}")
        for topic, lag in self.lag_by_topic.items():
            out.append(f"lag {topic}: {'nothing committed yet' if lag is None else lag}")
        out.append(f"dead letters: {self.dead_letters}")
        return out


def topic_lag(highs: list[int], committed: list[int]) -> int | None:
    """A topic's lag from each partition's high-water mark and committed offset (negative: none
    committed, as Kafka says -1001): None while a partition with data has nothing committed; an
    empty partition with nothing committed lags by 0."""
    total = 0
    for high, done in zip(highs, committed, strict=True):
        if done < 0:
            if high > 0:
                return None
            continue
        total += max(0, high - done)
    return total


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
            status.lag_by_topic[topic] = topic_lag(highs, done)
        for partition in range(settings.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(names.dead_letters, partition), timeout=timeout
            )
            status.dead_letters += high - low
    finally:
        consumer.close()
    return status
