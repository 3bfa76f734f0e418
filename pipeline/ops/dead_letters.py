"""Dead letters you can act on: read them back, and re-publish them once the cause is fixed.

Every record the pipeline rejected is on the dead-letter topic as an
io.streamfeed.DeadLetter with its original key and bytes and the reason. A
DLQ is only useful if it can be drained the way Kafka users expect: list
what is there, fix the producer or the app, replay the letters to the topic
they came from. Reading never joins a consumer group, so listing changes
nothing and two people can look at once.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from streamfeed.kafka.clients import client_config
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames
from streamfeed.schemas.catalog import DEAD_LETTER
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings


@dataclass(frozen=True)
class DeadLetter:
    """One rejected record, where it came from and why, and where it sits on the dead-letter topic."""

    partition: int
    offset: int
    topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    value: bytes | None
    error_type: str
    error: str
    failed_at: datetime
    #: For a record set aside after failing unexpectedly: where it failed, and how many times.
    stack: str | None = None
    attempts: int | None = None

    @classmethod
    def from_record(cls, partition: int, offset: int, record: dict[str, Any]) -> DeadLetter:
        return cls(
            partition,
            offset,
            record["topic"],
            record["partition"],
            record["offset"],
            record["key"],
            record["value"],
            record["error_type"],
            record["error"],
            record["failed_at"],
            record.get("stack"),
            record.get("attempts"),
        )

    def matches(self, reason: str | None = None, since: datetime | None = None) -> bool:
        """reason: a substring of the error type or message (case-insensitive)."""
        if since is not None and self.failed_at < since:
            return False
        if reason is not None:
            wanted = reason.lower()
            return wanted in self.error_type.lower() or wanted in self.error.lower()
        return True

    def as_json(self) -> dict[str, Any]:
        """The letter for `dead-letters list --json`: the bytes as base64 (they may be anything)."""
        return {
            "failed_at": self.failed_at.isoformat(),
            "topic": self.topic,
            "partition": self.source_partition,
            "offset": self.source_offset,
            "error_type": self.error_type,
            "error": self.error,
            "attempts": self.attempts,
            "stack": self.stack,
            "key_base64": None if self.key is None else base64.b64encode(self.key).decode(),
            "value_base64": None if self.value is None else base64.b64encode(self.value).decode(),
            "dead_letter": {"partition": self.partition, "offset": self.offset},
        }

    def preview(self, width: int = 60) -> str:
        if self.value is None:
            return "(no value)"
        shown = repr(self.value[:width])
        return shown + ("..." if len(self.value) > width else "")


def read_dead_letters(settings: Settings, timeout: float = 10.0) -> Iterator[DeadLetter]:
    """Every dead letter on the topic when the call starts, partition by partition, oldest first."""

    topic = TopicNames.from_settings(settings).dead_letters
    codec = AvroCodec(registry=settings.schema_registry_url)
    consumer = Consumer(
        {
            **client_config(settings.kafka_bootstrap),
            "group.id": f"{settings.app_id}-dead-letters-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return
        ends = {}
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                ends[partition] = high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(ends)])
        remaining = set(ends)
        while remaining:
            message = consumer.poll(timeout)
            if message is None:
                raise TimeoutError(f"no dead letters arrived from {topic} within {timeout}s")
            partition, offset, error = message.partition() or 0, message.offset() or 0, message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(partition)
                    continue
                raise RuntimeError(f"reading {topic}: {error.str()}")
            if offset >= ends.get(partition, 0):
                remaining.discard(partition)
                continue
            record = codec.decode(DEAD_LETTER, message.value() or b"")
            yield DeadLetter.from_record(partition, offset, record)
            if offset + 1 >= ends[partition]:
                remaining.discard(partition)
    finally:
        consumer.close()


def replay_dead_letters(settings: Settings, letters: list[DeadLetter]) -> int:
    """Publish each letter's original key and bytes to its original topic; returns how many.

    A record still bad after the fix simply becomes a new dead letter: the
    pipeline's effects are idempotent, so replaying a letter that was
    already applied changes nothing.
    """

    producer = StreamfeedProducer(settings)
    for letter in letters:
        producer.send_raw(letter.topic, letter.key, letter.value)
    producer.flush()
    return len(letters)
