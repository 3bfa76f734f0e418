"""A consumer group's lag: what was published to the pipeline's topics and not yet committed.

Read from the brokers (high-water marks and the group's committed offsets),
never from a member, so it answers the same whichever member asks, or none.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from streamfeed.kafka.clients import client_config
from streamfeed.kafka.offsets import committed_offsets
from streamfeed.kafka.topics import TopicNames
from streamfeed.settings import Settings


def group_lag(settings: Settings, timeout: float = 10.0) -> int | None:
    """Messages published to the pipeline's input and internal topics but not yet committed.

    None while the group has committed nothing for a partition that has data.
    """
    lags = partition_lags(settings, timeout)
    return None if lags is None else sum(lags.values())


def partition_lags(settings: Settings, timeout: float = 10.0) -> dict[tuple[str, int], int] | None:
    """The group's lag per (topic, partition): high-water mark minus committed offset.

    None while the group has committed nothing for a partition that has data.
    """
    names = TopicNames.from_settings(settings)
    topics = names.consumed
    keys = [(t, p) for t in topics for p in range(settings.partitions)]
    offsets = committed_offsets(settings, settings.app_id, keys, timeout)
    consumer = Consumer(
        {**client_config(settings.kafka_bootstrap), "group.id": f"{settings.app_id}-lag", "log_level": 2}
    )
    try:
        lags = {}
        for topic, partition in keys:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            done = offsets.get((topic, partition), -1)
            if high > 0 and done < 0:
                return None
            lags[(topic, partition)] = max(0, high - max(done, 0))
        return lags
    finally:
        consumer.close()
