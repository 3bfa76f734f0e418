"""`streamfeed topics create`: idempotent, and it refuses topics that break co-partitioning."""

import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

from streamfeed.kafka.topics import CoPartitioningError, TopicNames, create_topics
from streamfeed.settings import get_settings

pytestmark = pytest.mark.integration


def test_create_twice_then_refuse_a_mismatch(kafka_bootstrap, kafka_admin, unique_name):
    settings = get_settings().model_copy(update={"topic_prefix": f"{unique_name}.", "partitions": 3})
    names = TopicNames.from_settings(settings)
    admin = kafka_admin
    try:
        first = create_topics(settings)
        assert sorted(first) == sorted(
            f"created {n}"
            for n in (
                names.activities,
                names.follows,
                names.marks,
                names.reactions,
                names.feed_ops_high,
                names.feed_ops_low,
                names.dead_letters,
            )
        )
        second = create_topics(settings)
        assert all(line.startswith("exists") and "(3 partitions)" in line for line in second)
        metadata = admin.list_topics(timeout=10).topics
        assert len(metadata[names.feed_ops_low].partitions) == 3
        for kept in names.inputs:  # kept for replay, reactions among them
            (future,) = admin.describe_configs([ConfigResource("topic", kept)]).values()
            assert future.result()["retention.ms"].value == "-1", kept

        other = settings.model_copy(update={"topic_prefix": f"{unique_name}x.", "partitions": 3})
        other_names = TopicNames.from_settings(other)
        admin.create_topics([NewTopic(other_names.follows, 5, 1)])[other_names.follows].result(10)
        with pytest.raises(CoPartitioningError, match=f"{other_names.follows} has 5 partitions, expected 3"):
            create_topics(other)
        assert other_names.activities not in admin.list_topics(timeout=10).topics  # nothing created
    finally:
        existing = admin.list_topics(timeout=10).topics
        doomed = [t for t in existing if t.startswith(unique_name)]
        if doomed:
            for future in admin.delete_topics(doomed).values():
                future.result(10)
