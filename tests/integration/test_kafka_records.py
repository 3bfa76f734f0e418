"""offsets_with_records: the offsets a consumer receives, read from the log itself.

A worker whose commit is held at an offset it never received asks this
before counting the offset as holding no record (streamfeed.consumers.transport):
a transaction's commit marker takes an offset no consumer receives.
"""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from streamfeed.kafka.records import offsets_with_records

pytestmark = pytest.mark.integration


def test_transaction_markers_hold_no_record_and_every_record_is_found(
    kafka_bootstrap, kafka_admin, unique_name
):
    topic = f"{unique_name}.records"
    kafka_admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    try:
        plain = Producer({"bootstrap.servers": kafka_bootstrap})
        for n in range(3):
            plain.produce(topic, value=b"plain %d" % n, partition=0)
        plain.flush(30)
        transactional = Producer(
            {"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{unique_name}-tx"}
        )
        transactional.init_transactions(30)
        transactional.begin_transaction()
        transactional.produce(topic, value=b"in a transaction", partition=0)
        transactional.commit_transaction(30)  # the commit marker takes offset 4, written after it returns
        wait_for_end_offset(kafka_bootstrap, topic, 5)
        plain.produce(topic, value=b"after", partition=0)
        plain.flush(30)

        assert offsets_with_records(kafka_bootstrap, topic, 0, 0, 10) == [0, 1, 2, 3, 5]
        assert offsets_with_records(kafka_bootstrap, topic, 0, 4, 5) == []  # the marker alone
        assert offsets_with_records(kafka_bootstrap, topic, 0, 2, 4) == [2, 3]
        assert offsets_with_records(kafka_bootstrap, topic, 0, 6, 9) == []  # past the end
    finally:
        kafka_admin.delete_topics([topic])


def wait_for_end_offset(bootstrap: str, topic: str, end: int, timeout: float = 30.0) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "streamfeed-test-watermarks"})
    try:
        deadline = time.monotonic() + timeout
        while consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1] < end:
            assert time.monotonic() < deadline, f"{topic} never reached offset {end}"
            time.sleep(0.05)
    finally:
        consumer.close()
