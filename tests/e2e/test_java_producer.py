"""A producer outside Python: Java, with Kafka's and Avro's own libraries and our .avsc files only.

It is built with Maven and fed the events of a generated world in Avro's JSON
encoding; it publishes them with single-object encoding and Kafka's default
partitioner, a worker consumes them, and every feed must equal inline mode fed
the same events. This proves the contract in schemas/README.md, not our codec.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fastavro import json_writer

from streamfeed.app.steps import partition_for
from streamfeed.consumers.processes import wait_until_drained
from streamfeed.demo.world import generate_world
from streamfeed.domain.events import ActivityEvent
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.schemas.catalog import ACTIVITY_EVENT, FOLLOW_EVENT, SCHEMA_DIR, default_catalog
from tests.e2e.test_pipeline_e2e import assert_same_feeds

pytestmark = pytest.mark.integration

PROJECT = SCHEMA_DIR / "examples" / "java"


@pytest.fixture(scope="module")
def java_producer() -> list[str]:
    """The command that runs the built producer: mvn package once, then plain java."""
    mvn, java = shutil.which("mvn"), shutil.which("java")
    assert mvn and java, "Maven and a JDK are needed to build the Java producer (install them)"
    build = subprocess.run(
        [mvn, "-q", "-B", "package"], cwd=PROJECT, capture_output=True, text=True, timeout=600
    )
    assert build.returncode == 0, build.stdout + build.stderr
    classpath = (PROJECT / "target" / "classpath.txt").read_text().strip()
    jar = PROJECT / "target" / "avro-producer-1.jar"
    return [java, "-cp", f"{jar}{os.pathsep}{classpath}", "io.streamfeed.example.AvroProducer"]


def avro_json_lines(events) -> str:
    """Each event as `activity|follow <Avro JSON>`: the input a service would build itself."""
    catalog = default_catalog()
    out = []
    for event in events:
        is_activity = isinstance(event, ActivityEvent)
        schema = catalog.schema(ACTIVITY_EVENT if is_activity else FOLLOW_EVENT)
        buffer = io.StringIO()
        json_writer(buffer, schema, [event.to_record()])
        out.append(f"{'activity' if is_activity else 'follow'} {buffer.getvalue().strip()}")
    return "\n".join(out) + "\n"


def test_a_java_producer_feeds_the_pipeline_like_inline_mode(
    stack, isolated, worker_factory, java_producer, tmp_path: Path
):
    world = generate_world(users=60, events=600, seed=17)
    settings = isolated("redis", partitions=3)
    create_topics(settings)
    names = TopicNames.from_settings(settings)
    worker = worker_factory(settings)
    sent = 0
    for number, phase in enumerate(world.phases):
        events_file = tmp_path / f"phase{number}.jsonl"
        events_file.write_text(avro_json_lines(phase))
        command = [
            *java_producer,
            settings.kafka_bootstrap,
            names.activities,
            names.follows,
            str(SCHEMA_DIR),
            str(events_file),
        ]
        run = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.startswith("sent "), run.stdout
        sent += sum(int(word) for word in run.stdout.split() if word.isdigit())
        wait_until_drained(settings, timeout=180, workers=[worker])
    assert sent == len(world.events)
    assert_same_feeds(world, settings)
    placed = records_by_partition(settings, names.activities, 3)
    assert sum(len(keys) for keys in placed.values()) == sum(
        isinstance(e, ActivityEvent) for e in world.events
    )
    for partition, keys in placed.items():  # Java's default partitioner is ours: co-partitioned by user
        assert {partition_for(key, 3) for key in keys} == {partition}


def records_by_partition(settings, topic: str, partitions: int) -> dict[int, list[str]]:
    """Every record's key by the partition it landed in; checks each is single-object encoded."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "java-check", "enable.auto.commit": False}
    )
    placed: dict[int, list[str]] = {}
    try:
        for partition in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            consumer.assign([TopicPartition(topic, partition, low)])
            keys = placed.setdefault(partition, [])
            while low + len(keys) < high:
                message = consumer.poll(5)
                assert message is not None and message.error() is None
                assert message.value()[:2] == b"\xc3\x01", "not Avro single-object encoding"
                keys.append(message.key().decode())
    finally:
        consumer.close()
    return placed
