"""A consumer group's committed offsets, read and set through a consumer, never the admin API.

librdkafka 2.16's admin ListConsumerGroupOffsets segfaults when the broker
answers with a coordinator error (a broker starting or restarting): its
OffsetFetch error path calls into a consumer-group handle that an admin
client does not have (rdk:main in rd_kafka_cgrp_op <- rd_kafka_handle_OffsetFetch
<- rd_kafka_ListConsumerGroupOffsetsResponse_parse; caught under gdb here).
A consumer configured with the group's id, which never subscribes and so
never joins the group, reads and commits the same offsets through its own
handle, and retries coordinator errors as consumers do.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition

from streamfeed.kafka.clients import client_config
from streamfeed.kafka.retry import kafka_retry
from streamfeed.settings import Settings

Offsets = dict[tuple[str, int], int]


def _consumer(settings: Settings, group: str) -> Consumer:

    return Consumer(
        {
            **client_config(settings.kafka_bootstrap),
            "group.id": group,
            "enable.auto.commit": False,
            "log_level": 2,  # outages are the caller's to report
        }
    )


@kafka_retry
def committed_offsets(
    settings: Settings, group: str, partitions: Iterable[tuple[str, int]], timeout: float = 10.0
) -> Offsets:
    """The group's committed offset (the next to read) per partition; negative where it has none."""

    consumer = _consumer(settings, group)
    try:
        found = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=timeout)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in found}


@kafka_retry
def commit_offsets(settings: Settings, group: str, offsets: Offsets) -> None:
    """Set the group's committed offsets (the group must have no active members)."""

    consumer = _consumer(settings, group)
    try:
        consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()
