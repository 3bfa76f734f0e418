"""The local stack is the real thing: each server answers through the library streamfeed uses."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

pytestmark = pytest.mark.integration

PARTITIONS = 4


def test_kafka_keyed_records_land_on_consistent_partitions(kafka_bootstrap, kafka_admin, unique_name):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.partitioner import murmur2
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    topic = f"stack-{unique_name}"
    admin = kafka_admin
    futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    futures[topic].result(timeout=30)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == PARTITIONS

    # murmur2 is the Java client's partitioner: producers in any language must agree on it.
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    keys = [f"user-{i}".encode() for i in range(40)]
    sent = [(key, f"{key.decode()}-{n}".encode()) for n in range(3) for key in keys]
    for key, value in sent:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    async def consume_all() -> list:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"group-{unique_name}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        records = []
        try:
            async with asyncio.timeout(60):
                while len(records) < len(sent):
                    batch = await consumer.getmany(timeout_ms=1000)
                    for partition_records in batch.values():
                        records.extend(partition_records)
        finally:
            await consumer.stop()
        return records

    records = asyncio.run(consume_all())
    assert sorted((r.key, r.value) for r in records) == sorted(sent)
    partitions_by_key = defaultdict(set)
    for record in records:
        partitions_by_key[record.key].add(record.partition)
    for key, partitions in partitions_by_key.items():
        assert partitions == {(murmur2(key) & 0x7FFFFFFF) % PARTITIONS}, key
    assert len({p for ps in partitions_by_key.values() for p in ps}) == PARTITIONS
    admin.delete_topics([topic])


def test_cassandra_prepared_writes_read_back_in_clustering_order(cassandra_session, unique_name):
    session = cassandra_session
    version = session.execute("SELECT release_version FROM system.local").one().release_version
    assert version.startswith("5."), version
    session.execute(
        f"CREATE KEYSPACE {unique_name} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    try:
        session.execute(
            f"CREATE TABLE {unique_name}.timeline (feed text, id bigint, body text, "
            "PRIMARY KEY (feed, id)) WITH CLUSTERING ORDER BY (id DESC)"
        )
        insert = session.prepare(f"INSERT INTO {unique_name}.timeline (feed, id, body) VALUES (?, ?, ?)")
        for i in (5, 1, 9, 3):
            session.execute(insert, ("f1", i, f"body-{i}"))
        select = session.prepare(f"SELECT id, body FROM {unique_name}.timeline WHERE feed = ?")
        rows = list(session.execute(select, ("f1",)))
        assert [(r.id, r.body) for r in rows] == [
            (9, "body-9"),
            (5, "body-5"),
            (3, "body-3"),
            (1, "body-1"),
        ]
    finally:
        session.execute(f"DROP KEYSPACE {unique_name}")


def test_redis_sorted_set_round_trip(redis_client, unique_name):
    key = f"stack:{unique_name}"
    try:
        assert redis_client.zadd(key, {"a": 3.0, "b": 1.0, "c": 2.0}) == 3
        assert redis_client.zrevrange(key, 0, -1, withscores=True) == [
            (b"a", 3.0),
            (b"c", 2.0),
            (b"b", 1.0),
        ]
    finally:
        redis_client.delete(key)
