"""The real pipeline against inline mode: same world, same feeds, whatever happens to workers."""

from __future__ import annotations

import time

import pytest

from streamfeed.consumers.processes import wait_until_drained
from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import differences, snapshot
from streamfeed.demo.world import generate_world, with_pulled_authors
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.ops.dead_letters import read_dead_letters as dead_letters_on_topic
from tests.e2e.conftest import storage_manager
from tests.services import RedisInstance

pytestmark = pytest.mark.integration

BIG_WORLD = {"users": 200, "events": 2300, "seed": 21}


def publish(producer: StreamfeedProducer, events) -> None:
    for event in events:
        producer.send_event(event)
    producer.flush()


def run_phases(world, settings, workers) -> None:
    """Create the run's topics, then publish each phase and wait until the workers drained it."""
    create_topics(settings)
    producer = StreamfeedProducer(settings)
    for phase in world.phases:
        publish(producer, phase)
        # The big world on Cassandra drains at ~100 feed-ops/s on a slow hour of this 2-core
        # machine (its largest phase took 165-195 s, the code of session 15 as well): a hang
        # shows as a lag that stops falling, which this still catches.
        wait_until_drained(settings, timeout=480, workers=workers)


def assert_same_feeds(world, settings) -> None:
    expected = snapshot(run_inline(world), world.users)
    actual = snapshot(storage_manager(settings), world.users)
    assert len(expected) == len(world.users) * 4
    assert sum(len(v) if isinstance(v, list) else len(v[0]) for v in expected.values()) > len(world.users)
    diff = differences(expected, actual)
    assert not diff, "\n".join(diff)


@pytest.mark.parametrize("storage", ["redis", "cassandra"])
def test_big_world_through_kafka_equals_inline(stack, isolated, worker_factory, storage):
    world = generate_world(**BIG_WORLD)
    assert len(world.users) >= 200 and len(world.events) >= 2000
    settings = isolated(storage)
    run_phases(world, settings, [worker_factory(settings)])
    assert_same_feeds(world, settings)


def test_a_world_through_kafka_on_redis_cluster_equals_inline(stack, isolated, worker_factory):
    """The same pipeline on a Redis Cluster (3 masters, 3 replicas): keys of a user's feeds share
    a slot, activity keys spread over all of them."""
    from tests import services

    services.redis_cluster().require()
    world = generate_world(users=120, events=1200, seed=33)
    settings = isolated("redis", redis_url=services.REDIS_CLUSTER_URL)
    run_phases(world, settings, [worker_factory(settings)])
    assert_same_feeds(world, settings)


def test_a_hybrid_world_through_two_workers_reads_like_a_pushed_one(stack, isolated, worker_factory):
    """Pulled authors and a switch to pull and back, as AuthorModeEvents on the follows topic,
    through two workers (whose threshold also switches authors by count): every feed equals
    inline mode's for the same world without switches."""
    world = generate_world(users=60, events=900, seed=44)
    hybrid = with_pulled_authors(world, authors=3)
    settings = isolated("redis", partitions=4, pull_threshold=8)
    run_phases(hybrid, settings, [worker_factory(settings, f"worker{n}") for n in range(2)])
    assert_same_feeds(world, settings)
    modes = storage_manager(settings).backend.follows.author_modes()
    switched = {author for author, changes in modes.items() if changes[-1][1]}
    # The three pulled from the start, and those the workers switched by count, through Kafka.
    assert len(switched) > 3, modes


def test_fanouts_sent_a_page_of_followers_at_a_time_equal_inline(stack, isolated, worker_factory):
    """A worker whose app pages followers by three: every fanout past three followers is sent
    page by page (FanoutRest) before its offset is committed; feeds equal inline mode's."""
    world = generate_world(users=80, events=700, seed=45)
    settings = isolated("redis", partitions=3)
    run_phases(world, settings, [worker_factory(settings, app="tests.e2e.paged_app:manager")])
    assert_same_feeds(world, settings)


def test_two_workers_one_killed_mid_run_still_equal(stack, isolated, worker_factory):
    world = generate_world(**BIG_WORLD)
    settings = isolated("redis", partitions=6)
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


def read_dead_letters(settings, expected: int, timeout: float = 60.0) -> list[dict]:
    from confluent_kafka import Consumer

    from streamfeed.kafka.topics import TopicNames
    from streamfeed.schemas.catalog import DEAD_LETTER
    from streamfeed.schemas.codec import AvroCodec

    codec = AvroCodec()
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.app_id}-dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([TopicNames.from_settings(settings).dead_letters])
    letters: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while len(letters) < expected and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                letters.append(codec.decode(DEAD_LETTER, message.value()))
        end = time.monotonic() + 3  # and nothing more arrives
        while time.monotonic() < end:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                letters.append(codec.decode(DEAD_LETTER, message.value()))
    finally:
        consumer.close()
    return letters


def test_garbage_goes_to_dead_letters_and_valid_records_to_feeds(stack, isolated, worker_factory):
    from streamfeed.kafka.topics import TopicNames
    from streamfeed.schemas.catalog import ACTIVITY_EVENT
    from streamfeed.schemas.codec import AvroCodec

    world = generate_world(users=40, events=400, seed=4)
    settings = isolated("redis")
    names = TopicNames.from_settings(settings)
    create_topics(settings)
    worker = worker_factory(settings)
    producer = StreamfeedProducer(settings)
    valid_add = AvroCodec().encode(ACTIVITY_EVENT, world.phases[1][0].to_record())
    unknown_verb = dict(world.phases[1][0].to_record())
    unknown_verb["activity"] = dict(unknown_verb["activity"], verb="pin", id=None)
    garbage = [
        (names.activities, b"random bytes that are no Avro at all"),
        (names.activities, valid_add[:-7]),  # truncated
        (names.activities, b"\xc3\x01" + b"\x99" * 8 + valid_add[10:]),  # unknown schema fingerprint
        (names.activities, AvroCodec().encode(ACTIVITY_EVENT, unknown_verb)),  # valid Avro, invalid verb
        (names.follows, b"\x00\x00\x00\x00\x01garbage"),  # Confluent framing, no registry
        (names.feed_ops_high, b""),  # empty message on an internal topic
    ]
    for phase in world.phases:
        for n, event in enumerate(phase):
            if n % 50 == 0 and garbage:
                topic, value = garbage.pop()
                producer.send_raw(topic, b"bad-key", value)
            producer.send_event(event)
        producer.flush()
        wait_until_drained(settings, timeout=180, workers=[worker])
    assert not garbage, "the world was too small to interleave every garbage record"
    letters = read_dead_letters(settings, expected=6)
    assert len(letters) == 6
    by_topic = sorted((letter["topic"], letter["error_type"]) for letter in letters)
    assert by_topic == sorted(
        [
            (names.activities, "SerializationException"),
            (names.activities, "SerializationException"),
            (names.activities, "SerializationException"),
            (names.activities, "UnknownVerb"),
            (names.follows, "SerializationException"),
            (names.feed_ops_high, "SerializationException"),
        ]
    )
    reasons = " | ".join(letter["error"] for letter in letters)
    for expected in (
        "not Avro single-object",
        "truncated",
        "unknown writer schema",
        "verb: unknown verb",
        "no schema registry",
        "empty message",
    ):
        assert expected in reasons, reasons
    assert all(letter["key"] == b"bad-key" and letter["value"] is not None for letter in letters)
    assert {letter["value"] for letter in letters} >= {b"random bytes that are no Avro at all", b""}
    assert worker.running
    assert_same_feeds(world, settings)


def test_redis_down_mid_run_worker_waits_and_feeds_come_out_equal(stack, isolated, worker_factory, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    instance = RedisInstance(tmp_path, port)
    instance.start()
    try:
        world = generate_world(users=60, events=700, seed=9)
        url = f"redis://127.0.0.1:{port}/0"
        settings = isolated("redis", redis_url=url, counts_redis_url=url)
        create_topics(settings)
        worker = worker_factory(settings)
        producer = StreamfeedProducer(settings)
        publish(producer, world.phases[0])
        wait_until_drained(settings, timeout=120, workers=[worker])
        publish(producer, world.phases[1])
        instance.stop()  # phase 2 is thousands of feed writes: the worker is surely mid-run
        # Shorter than the retry deadline: the worker meets a dead Redis and must wait, not skip
        # or crash (longer outages, where it exits and is restarted, are in tests/chaos).
        time.sleep(settings.worker_retry_deadline / 2)
        assert worker.running
        instance.start()
        wait_until_drained(settings, timeout=180, workers=[worker])
        publish(producer, world.phases[2])
        wait_until_drained(settings, timeout=120, workers=[worker])
        assert "storage unavailable" in worker.log_path.read_text()
        assert_same_feeds(world, settings)
    finally:
        instance.stop()


def test_replay_into_empty_storage_rebuilds_every_feed(stack, isolated, worker_factory):
    """A new consumer group over the same topics, writing to new keys, rebuilds the same feeds."""
    world = generate_world(users=50, events=500, seed=13)
    settings = isolated("redis")
    create_topics(settings)
    first = worker_factory(settings, "first")
    producer = StreamfeedProducer(settings)
    for phase in world.phases:
        publish(producer, phase)
        wait_until_drained(settings, timeout=120, workers=[first])
    first.stop()
    assert_same_feeds(world, settings)

    rebuild = settings.model_copy(
        update={"app_id": f"{settings.app_id}-rebuild", "redis_prefix": f"{settings.redis_prefix}rebuild:"}
    )
    replayer = worker_factory(rebuild, "replay")
    wait_until_drained(rebuild, timeout=180, workers=[replayer])
    assert_same_feeds(world, rebuild)


def test_an_unexpected_error_that_passes_is_tried_again_in_place(
    stack, isolated, worker_factory, tmp_path, monkeypatch
):
    """The failing record is tried again without a restart and applied once, no dead letter.
    Before issue 25 the worker exited 70 and a restarted one applied the batch."""
    from datetime import UTC, datetime

    from streamfeed.domain.activity import Activity

    settings = isolated("redis", partitions=2)
    create_topics(settings)
    marker = tmp_path / "fault"
    monkeypatch.setenv("STREAMFEED_TEST_FAULT_FILE", str(marker))
    app = "tests.e2e.faulty_app:manager"
    worker = worker_factory(settings, "first", app=app)
    producer = StreamfeedProducer(settings)
    producer.follow("bob", "ann")
    producer.flush()
    wait_until_drained(settings, timeout=120, workers=[worker])
    marker.touch()
    activity = Activity("ann", "love", "pin1", time=datetime(2026, 11, 2, tzinfo=UTC))
    producer.add_activity(activity)
    producer.flush()
    wait_until_drained(settings, timeout=120, workers=[worker])
    assert not marker.exists(), "the fault never fired"
    assert worker.running, worker.log_tail()
    assert "applying record by record" in worker.log_tail(200)
    feed = storage_manager(settings).get_feeds("bob")["normal"]
    assert [a.id for a in feed[:]] == [activity.id]
    assert feed.count() == 1
    assert list(dead_letters_on_topic(settings)) == []


def test_records_failing_in_a_row_stop_the_worker_without_committing(
    stack, isolated, worker_factory, tmp_path, monkeypatch
):
    """Crash-only for a bug, not a bad record: past WORKER_POISON_STREAK failures in a row the
    worker exits 70, commits and dead-letters nothing; once fixed, a restart applies it once."""
    from datetime import UTC, datetime

    from streamfeed.domain.activity import Activity

    settings = isolated("redis", partitions=2, worker_poison_streak=1, worker_poison_attempts=2)
    create_topics(settings)
    marker = tmp_path / "fault"
    monkeypatch.setenv("STREAMFEED_TEST_FAULT_FILE", str(marker))
    monkeypatch.setenv("STREAMFEED_TEST_FAULT_STICKY", "1")
    app = "tests.e2e.faulty_app:manager"
    first = worker_factory(settings, "first", app=app)
    producer = StreamfeedProducer(settings)
    producer.follow("bob", "ann")
    producer.flush()
    wait_until_drained(settings, timeout=120, workers=[first])
    marker.touch()
    activity = Activity("ann", "love", "pin1", time=datetime(2026, 11, 2, tzinfo=UTC))
    producer.add_activity(activity)
    producer.flush()
    assert first.process.wait(timeout=90) == 70, first.log_tail()
    assert "records in a row failed unexpectedly" in first.log_tail(200)
    marker.unlink()  # the fix is deployed
    second = worker_factory(settings, "second", app=app)
    wait_until_drained(settings, timeout=120, workers=[second])
    feed = storage_manager(settings).get_feeds("bob")["normal"]
    assert [a.id for a in feed[:]] == [activity.id]
    assert feed.count() == 1
    assert list(dead_letters_on_topic(settings)) == []
