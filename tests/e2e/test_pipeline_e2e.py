"""The real pipeline against inline mode: same world, same feeds, whatever happens to workers."""

from __future__ import annotations

import time

import pytest

from pipeline.demo import run_inline
from pipeline.events import ActivityEvent
from pipeline.kafka_runner import wait_until_drained
from pipeline.producer import StreamfeedProducer
from pipeline.snapshot import differences, snapshot
from pipeline.topics import create_topics
from pipeline.world import generate_world
from tests.e2e.conftest import isolated_settings, storage_manager

pytestmark = pytest.mark.integration

BIG_WORLD = {"users": 200, "events": 2300, "seed": 21}


def publish(producer: StreamfeedProducer, events) -> None:
    for event in events:
        if isinstance(event, ActivityEvent):
            producer.send_activity_event(event)
        else:
            producer.send_follow_event(event)
    producer.flush()


def assert_same_feeds(world, settings) -> None:
    expected = snapshot(run_inline(world), world.users)
    actual = snapshot(storage_manager(settings), world.users)
    assert len(expected) == len(world.users) * 4
    assert sum(len(v) if isinstance(v, list) else len(v[0]) for v in expected.values()) > 1000
    diff = differences(expected, actual)
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize("storage", ["redis", "cassandra"])
def test_big_world_through_kafka_equals_inline(stack, worker_factory, storage):
    world = generate_world(**BIG_WORLD)
    assert len(world.users) >= 200 and len(world.events) >= 2000
    settings = isolated_settings(storage)
    create_topics(settings)
    worker = worker_factory(settings)
    producer = StreamfeedProducer(settings)
    for phase in world.phases:
        publish(producer, phase)
        wait_until_drained(settings, timeout=180, workers=[worker])
    assert_same_feeds(world, settings)


def test_two_workers_one_killed_mid_run_still_equal(stack, worker_factory):
    world = generate_world(**BIG_WORLD)
    settings = isolated_settings("redis", partitions=6)
    create_topics(settings)
    first = worker_factory(settings, "first")
    second = worker_factory(settings, "second")
    producer = StreamfeedProducer(settings)
    publish(producer, world.phases[0])
    wait_until_drained(settings, timeout=180, workers=[first, second])

    activities = world.phases[1]
    half = len(activities) // 2
    publish(producer, activities[:half])
    time.sleep(1.0)
    second.kill()  # SIGKILL mid-run: no commit, no goodbye to the group
    publish(producer, activities[half:])
    time.sleep(2.0)
    restarted = worker_factory(settings, "restarted")
    wait_until_drained(settings, timeout=240, workers=[first, restarted])
    publish(producer, world.phases[2])
    wait_until_drained(settings, timeout=180, workers=[first, restarted])
    assert not second.running
    assert_same_feeds(world, settings)
