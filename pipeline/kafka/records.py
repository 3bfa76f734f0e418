"""Which offsets of a partition hold records: not every offset does.

A transactional producer's commit and abort markers take offsets that no
consumer ever receives, and compaction removes records and keeps the
offsets of the rest. A worker that finds offsets it never received asks
the log itself, with a consumer of its own that joins no group, before it
counts them as holding nothing.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition

from streamfeed.kafka.clients import client_config


def offsets_with_records(
    bootstrap: str, topic: str, partition: int, start: int, end: int, timeout: float = 10.0
) -> list[int]:
    """The offsets in [start, end) that hold a record a consumer receives (read_uncommitted, as
    the workers read). Raises TimeoutError if the log could not be read that far in time."""
    if end <= start:
        return []
    consumer = Consumer(
        client_config(
            bootstrap,
            **{
                # Never subscribes: assign() alone, so the group is never joined or committed to.
                "group.id": f"streamfeed-records-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_uncommitted",
                "auto.offset.reset": "earliest",
                "log_level": 2,
            },
        )
    )
    found: list[int] = []
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(min(1.0, max(0.0, deadline - time.monotonic())))
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return found
                raise RuntimeError(f"reading {topic}[{partition}] from {start}: {error.str()}")
            offset = message.offset()
            if offset is None or offset == OFFSET_END:
                continue
            if offset >= end:
                return found
            if offset >= start:
                found.append(offset)
        raise TimeoutError(f"could not read {topic}[{partition}] from {start} to {end} within {timeout:.0f}s")
    finally:
        consumer.close()
