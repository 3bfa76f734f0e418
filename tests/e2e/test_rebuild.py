"""streamfeed rebuild: a new generation equal byte for byte to the live one, the live topics and
feeds untouched, resumable after a SIGKILL, and a switch readers follow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import validate

from streamfeed.consumers.processes import settings_env, wait_until_drained
from streamfeed.demo.snapshot import snapshot
from streamfeed.demo.world import generate_world
from streamfeed.domain.events import MarkSpec
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.ops.rebuild import committed_offsets, high_waters, rebuild_settings, run_rebuild
from streamfeed.storage.registry import create_generational_backend
from tests.e2e.conftest import storage_manager

pytestmark = pytest.mark.integration

REBUILD_SCHEMA = {
    "type": "object",
    "required": ["generation", "events", "seconds", "events_per_second", "live"],
    "additionalProperties": False,
    "properties": {
        "generation": {"type": "string"},
        "events": {"type": "integer", "minimum": 0},
        "seconds": {"type": "number", "minimum": 0},
        "events_per_second": {"type": "number", "minimum": 0},
        "live": {"type": "boolean"},
    },
}


def redis_dump(client, prefix: str, skip: tuple[str, ...] = ()) -> dict:
    """Every key under prefix (minus skipped sub-prefixes) with its value, type-aware, prefix removed."""
    dump = {}
    for raw in client.scan_iter(f"{prefix}*", count=5000):
        key = raw.decode()
        if skip and key.startswith(skip):
            continue
        if key.endswith(":storage:identity"):  # each generation's own (consumers.storage_guard)
            continue
        kind = client.type(raw).decode()
        if kind == "stream":  # the realtime log of count changes: events with their times, not feed state
            continue
        if kind == "string":
            value = client.get(raw)
        elif kind == "zset":
            value = client.zrange(raw, 0, -1, withscores=True)
        elif kind == "hash":
            value = sorted(client.hgetall(raw).items())
        elif kind == "set":
            value = sorted(client.smembers(raw))
        else:
            value = client.lrange(raw, 0, -1)
        dump[key[len(prefix) :]] = (kind, value)
    return dump


def records_since(settings, offsets: dict) -> list[set[str]]:
    """The activity ids of each record appended to these topic partitions after the offsets."""
    from confluent_kafka import Consumer, TopicPartition

    from streamfeed.domain.activity import Activity
    from streamfeed.domain.events import FanoutBatch
    from streamfeed.schemas.catalog import FANOUT_BATCH
    from streamfeed.schemas.codec import AvroCodec

    codec = AvroCodec()
    ends = high_waters(settings, sorted({topic for topic, _ in offsets}))
    wanted = {tp: (offsets[tp], end) for tp, end in ends.items() if end > offsets[tp]}
    found: list[set[str]] = []
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "records-since"})
    try:
        for (topic, partition), (start, end) in wanted.items():
            consumer.assign([TopicPartition(topic, partition, start)])
            while start < end:
                message = consumer.poll(10)
                assert message is not None and not message.error(), message and message.error()
                start = message.offset() + 1
                if topic.endswith("dead-letters"):
                    found.append({f"dead letter at {message.offset()}"})
                    continue
                batch = FanoutBatch.from_record(codec.decode(FANOUT_BATCH, message.value()), Activity)
                found.append({a.id for a in batch.activities})
    finally:
        consumer.close()
    return found


def test_rebuild_equals_the_live_generation_byte_for_byte_and_touches_nothing_live(
    stack, isolated, worker_factory, redis_client, tmp_path
):
    # Feeds stay below max_length: a replay's follows may lag its activities, and what a trim
    # keeps then can differ (docs/architecture.md, Known limits).
    world = generate_world(users=80, events=600, seed=41)
    live = isolated("redis", partitions=4)
    names = TopicNames.from_settings(live)
    create_topics(live)
    first, second = worker_factory(live, "live-a"), worker_factory(live, "live-b")
    producer = StreamfeedProducer(live)
    for number, phase in enumerate(world.phases):
        for event in phase:
            producer.send_event(event)
        producer.flush()
        if number == 1:
            first.kill()  # chaos in the live run: redelivery, a rebalance
        wait_until_drained(live, timeout=180, workers=[second])
    # Seen/read marks go through the kept marks topic: the rebuild replays them too.
    marked = world.users[:30]
    for n, user in enumerate(marked):
        spec = MarkSpec("notification", None, True, n % 2 == 0, datetime(2026, 11, 25, tzinfo=UTC))
        producer.send_mark(user, spec)
    producer.flush()
    wait_until_drained(live, timeout=120, workers=[second])
    live_feeds = snapshot(storage_manager(live), world.users)
    seen = [
        key for key, value in live_feeds.items() if key[0] == "notification" and value[0] and value[0][0][3]
    ]
    assert len(seen) > 5, "the marks were applied live"
    longest = max(len(v) if isinstance(v, list) else len(v[0]) for v in live_feeds.values())
    assert 10 < longest < 100, longest
    internal = [names.feed_ops_high, names.feed_ops_low, names.dead_letters]
    live_marks = high_waters(live, internal)

    # Interrupted: SIGKILL the rebuild command once it has applied something, then run it again.
    env = {**os.environ, **settings_env(live)}
    command = [sys.executable, "-m", "streamfeed.cli", "rebuild", "--generation", "g2"]
    interrupted = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL)
    rebuilding = rebuild_settings(live, "g2")
    inputs = names.inputs
    deadline = time.monotonic() + 120
    while not any(o > 0 for o in committed_offsets(rebuilding, inputs).values()):
        assert time.monotonic() < deadline and interrupted.poll() is None, "the rebuild never started"
        time.sleep(0.2)
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait(10)

    # Resumed while live traffic flows: late activities, applied by the live worker meanwhile.
    from streamfeed.domain.activity import Activity

    later = datetime(2026, 12, 1, tzinfo=UTC)
    late = [
        Activity(user, "add", f"late{n}", "board1", later + timedelta(minutes=n))
        for n, user in enumerate(world.users[:20])
    ]
    rebuilding_thread: dict = {}

    def rebuild() -> None:
        rebuilding_thread["result"] = run_rebuild(live, "g2", workers=2, log_dir=tmp_path, timeout=300)
        rebuilding_thread["ended"] = time.monotonic()

    thread = threading.Thread(target=rebuild)
    thread.start()
    first_sent = time.monotonic()
    for activity in late:
        producer.add_activity(activity)
        producer.flush()
        time.sleep(0.1)
    thread.join(330)
    assert "result" in rebuilding_thread, "the rebuild did not finish"
    result = rebuilding_thread["result"]
    assert first_sent < rebuilding_thread["ended"], "the live traffic came after the rebuild"
    # Resumed, not restarted: only the inputs the killed run had not committed. It may have
    # committed every input already (events 0) and been killed while materializing.
    assert result.events < len(world.events) + len(late)
    wait_until_drained(live, timeout=120, workers=[second])

    # The live topics grew by live traffic only: every record added to them since carries a
    # late activity (a rebuild's record would carry a replayed one).
    added = records_since(live, live_marks)
    assert added, "the live traffic made no feed-ops"
    late_ids = {a.id for a in late}
    assert all(ids <= late_ids for ids in added), [sorted(ids - late_ids) for ids in added][:3]
    rebuild_topics = set(TopicNames.from_settings(rebuilding).__dict__.values()) - set(inputs)
    from confluent_kafka.admin import AdminClient

    with AdminClient({"bootstrap.servers": live.kafka_bootstrap}) as admin:
        assert not rebuild_topics & set(admin.list_topics(timeout=10).topics), "rebuild topics left behind"

    # The same command again catches the new generation up: byte for byte the live one, whose
    # feeds are what the events (the late ones too) make, so the rebuild left them alone.
    # (the command as an operator's script runs it: its summary as JSON on stdout)
    done = subprocess.run(
        [*command, "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=330
    )
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(done.stdout)
    validate(again, REBUILD_SCHEMA)
    assert again["generation"] == "g2" and again["live"] is False
    assert again["events"] <= len(late)
    skip = (f"{live.redis_prefix}gen.", f"{live.redis_prefix}generation:")
    before = redis_dump(redis_client, live.redis_prefix, skip)
    rebuilt = redis_dump(redis_client, f"{live.redis_prefix}gen.g2:")
    assert len(before) > 100
    assert rebuilt == before, sorted(set(rebuilt) ^ set(before))[:10]
    live_feeds = snapshot(storage_manager(live), world.users)
    for activity in late:
        assert activity.id in {a.id for a in storage_manager(live).get_user_feed(activity.actor_id)[:]}

    backend = create_generational_backend("redis", live)
    try:
        from streamfeed.app.manager import Manager

        backend.store.switch("g2")
        time.sleep(backend.ttl)
        assert backend.generation() == "g2"
        assert snapshot(Manager(backend), world.users) == live_feeds
    finally:
        backend.close()


def test_rebuild_from_a_time_equals_a_run_started_then_and_readers_switch_cleanly(
    stack, isolated, worker_factory, tmp_path
):
    import threading
    from datetime import UTC, datetime

    from streamfeed.app.manager import Manager
    from streamfeed.demo.run import run_inline
    from streamfeed.demo.world import World

    world = generate_world(users=80, events=600, seed=43)
    live = isolated("redis", partitions=4)
    create_topics(live)
    worker = worker_factory(live, "live")
    producer = StreamfeedProducer(live)
    for event in world.phases[0]:
        producer.send_event(event)
    producer.flush()
    wait_until_drained(live, timeout=180, workers=[worker])
    time.sleep(1.5)  # record timestamps are milliseconds: a clear gap between before and after
    since = datetime.now(UTC)
    time.sleep(1.5)
    for phase in world.phases[1:]:
        for event in phase:
            producer.send_event(event)
        producer.flush()
        wait_until_drained(live, timeout=180, workers=[worker])

    run_rebuild(live, "late", from_time=since, log_dir=tmp_path, timeout=300)
    later = World(world.users, world.phases[1:])
    backend = create_generational_backend("redis", live)
    try:
        expected = snapshot(run_inline(later), world.users)
        assert snapshot(Manager(backend.backend_of("late")), world.users) == expected
        old = snapshot(Manager(backend.backend_of("")), world.users)
        assert old != expected

        # Readers hammer pages while the pointer moves: no read fails, each page is one generation's.
        reader = Manager(create_generational_backend("redis", live))
        users = [u for u in world.users if old[("normal", u)] != expected[("normal", u)]][:10]
        assert users
        seen, failures, stop = {"old": 0, "new": 0}, [], threading.Event()

        def read() -> None:
            while not stop.is_set():
                for user in users:
                    try:
                        page = [a.id for a in reader.get_feed("normal", user)[:]]
                    except Exception as error:  # a failed read is what this test is about
                        failures.append(repr(error))
                        continue
                    if page == old[("normal", user)]:
                        seen["old"] += 1
                    elif page == expected[("normal", user)]:
                        seen["new"] += 1
                    else:
                        failures.append(f"{user}: a page from neither generation")

        thread = threading.Thread(target=read)
        thread.start()
        time.sleep(0.5)
        backend.store.switch("late")
        time.sleep(1.5)
        stop.set()
        thread.join(10)
        assert not failures, failures[:5]
        assert seen["old"] and seen["new"], seen
        reader.backend.close()
    finally:
        backend.close()


def test_rebuild_user_restores_one_users_deleted_feeds_through_the_live_workers(
    stack, isolated, worker_factory, redis_client
):
    from streamfeed.domain.events import ActivityEvent
    from streamfeed.ops.rebuild import rebuild_user

    world = generate_world(users=60, events=600, seed=47)
    live = isolated("redis", partitions=4)
    create_topics(live)
    worker = worker_factory(live, "live")
    producer = StreamfeedProducer(live)
    for phase in world.phases:
        for event in phase:
            producer.send_event(event)
        producer.flush()
        wait_until_drained(live, timeout=180, workers=[worker])
    activities = [e.activity for e in world.events if isinstance(e, ActivityEvent)]
    user = max(world.users, key=lambda u: sum(f"notification:{u}" in a.to for a in activities))
    producer.send_mark(user, MarkSpec("notification", None, True, False, datetime(2026, 11, 25, tzinfo=UTC)))
    producer.flush()
    wait_until_drained(live, timeout=120, workers=[worker])
    reader = storage_manager(live)
    before = snapshot(reader, world.users)
    mine = {k: v for k, v in before.items() if k[1] == user}
    assert before[("notification", user)][0] and before[("normal", user)] and before[("user", user)]
    assert any(group[3] for group in before[("notification", user)][0]), "the mark was applied"
    followed = set(reader.backend.follows.following(user))
    others = [u for u in world.users if u != user and u not in followed]
    later = datetime(2026, 12, 1, tzinfo=UTC)

    def rebuild_during_traffic(graph: bool, round_: int) -> list:
        """rebuild --user while users the user does not follow keep publishing."""
        from streamfeed.domain.activity import Activity

        traffic = [
            Activity(u, "add", f"other{round_}-{n}", "board1", later + timedelta(minutes=n))
            for n, u in enumerate(others[:10])
        ]
        for activity in traffic[:5]:
            producer.add_activity(activity)
        producer.flush()
        sent = rebuild_user(live, reader, user, graph=graph)
        assert sent.batches > 0 and sent.marks == 1 and (sent.follows > 0) is graph
        for activity in traffic[5:]:
            producer.add_activity(activity)
        producer.flush()
        wait_until_drained(live, timeout=120, workers=[worker])
        return traffic

    def user_feeds_hold(traffic: list) -> bool:
        return all(a.id in {e.id for e in reader.get_user_feed(a.actor_id)[:]} for a in traffic)

    # Feeds lost, the follow graph kept: feeds come back from the graph and the topics.
    doomed = [
        key for key in redis_client.scan_iter(f"{live.redis_prefix}*{{{user}}}*") if b"follow" not in key
    ]
    assert len(doomed) >= 3
    redis_client.delete(*doomed)
    assert snapshot(reader, [user]) != mine
    traffic = rebuild_during_traffic(graph=False, round_=1)
    assert snapshot(reader, [user]) == mine
    assert user_feeds_hold(traffic), "the other users' traffic was applied meanwhile"

    # Every key of the user lost, the follow graph too: --graph sends the follow events again.
    doomed = list(redis_client.scan_iter(f"{live.redis_prefix}*{{{user}}}*"))
    assert any(b"follow" in key for key in doomed)
    redis_client.delete(*doomed)
    traffic = rebuild_during_traffic(graph=True, round_=2)
    assert snapshot(reader, [user]) == mine
    assert set(reader.backend.follows.following(user)) == followed
    assert user_feeds_hold(traffic)
