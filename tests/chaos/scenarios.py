"""The chaos scenarios: a generated world through real workers while something goes wrong.

Each returns Figures comparing every feed of every user with the inline
oracle. Sizes are parameters: CI runs them shortened (tests/chaos), and
``python -m tests.chaos`` runs them in full.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamfeed.demo.world import World, generate_world
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp, FanoutBatch, FollowEvent, FollowOp
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.ops.dead_letters import read_dead_letters
from streamfeed.ops.rebuild import committed_offsets
from streamfeed.schemas.catalog import ACTIVITY_EVENT, FANOUT_BATCH, FOLLOW_EVENT
from streamfeed.schemas.codec import AvroCodec
from streamfeed.storage.redis import redis_client
from streamfeed.storage.registry import create_generational_backend
from tests.chaos.harness import (
    Figures,
    StallWatch,
    Supervisor,
    chaos_settings,
    cleanup,
    compare,
    drain,
    outage,
    publish_world,
    reader,
)
from tests.services import RedisInstance, free_port


def _run(
    name: str,
    settings,
    world: World,
    workers: int,
    disrupt,
    timeout: float,
    app: str | None = None,
    pace: float = 0.0,
    check=None,
    ignored: frozenset[str] = frozenset(),
) -> Figures:
    """Publish the world in the background, disrupt, drain, compare (leaving out `ignored`
    activity ids: records outside the world)."""
    create_topics(settings)
    supervisor = Supervisor(settings, name, workers, app)
    figures = Figures(name)
    started = time.monotonic()
    try:

        def publish() -> None:
            between = lambda: drain(settings, supervisor, timeout, restart=False)  # noqa: E731
            figures.notes["republished"] = publish_world(settings, world, pace, between)

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        disrupt(supervisor, figures)
        deadline = time.monotonic() + timeout
        while publisher.is_alive() and time.monotonic() < deadline:
            supervisor.poll()
            publisher.join(0.5)
        assert not publisher.is_alive(), "the producer did not finish publishing"
        drain(settings, supervisor, timeout)
        figures.converge_seconds = time.monotonic() - started
        figures.restarts = supervisor.restarts
        if supervisor.exit_codes:
            figures.notes["exit codes"] = dict(sorted(supervisor.exit_codes.items()))
        compare(world, reader(settings), figures, ignored)
        letters = list(read_dead_letters(settings))
        figures.dead_letters = len(letters)
        if check is not None:
            check(figures, letters)
    finally:
        supervisor.stop()
        cleanup(settings)
    return figures


def applying(settings, supervisor: Supervisor, timeout: float = 120.0) -> None:
    """Wait until the workers are up and applying (the group committed something and has lag):
    an outage that starts while they are still starting only tests the wait at start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.poll()
        committed = committed_offsets(settings, [TopicNames.from_settings(settings).follows])
        if any(offset > 0 for offset in committed.values()):
            return
        time.sleep(0.2)
    raise TimeoutError("the workers never started applying the world")


def worker_kills(
    kills: int = 20, workers: int = 3, events: int = 3000, seed: int = 31, static: bool = False
) -> Figures:
    """SIGKILL a random worker of the group `kills` times while the world is processed; the
    longest any partition stood still with work waiting. static: each worker keeps a static
    group membership name across its restarts (STREAMFEED_WORKER_INSTANCE_ID)."""
    world = generate_world(users=max(60, events // 12), events=events, seed=seed, reactions=events // 4)
    settings = chaos_settings("redis", partitions=6, worker_instance_id="chaos" if static else None)
    rng = random.Random(seed)

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        with StallWatch(settings) as watch:
            for _ in range(kills):
                time.sleep(rng.uniform(1.0, 3.0))
                supervisor.kill(rng)
                supervisor.poll()
            # The last kill's partitions move only after the session timeout: watch them move.
            supervisor.hold(settings.worker_session_timeout * 2)
        figures.notes["kills"] = kills
        figures.notes["longest partition stall (s)"] = round(watch.worst(), 1)

    membership = "static" if static else "dynamic"
    name = f"{kills} SIGKILLs of {workers} workers ({membership} membership)"
    return _run(name, settings, world, workers, disrupt, 600, pace=0.002)


def kafka_outage(seconds: float = 10.0, events: int = 2000, seed: int = 32) -> Figures:
    """Stop the Kafka broker while the producer publishes and workers consume, then start it."""
    world = generate_world(users=max(50, events // 12), events=events, seed=seed, reactions=events // 4)
    settings = chaos_settings("redis", partitions=4)

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        time.sleep(2.0)
        with outage("kafka"):
            supervisor.hold(seconds)
        figures.notes["broker down"] = f"{seconds:.0f}s"

    return _run(f"Kafka stopped {seconds:.0f}s", settings, world, 2, disrupt, 600, pace=0.004)


def cassandra_outage(seconds: float = 20.0, events: int = 2000, seed: int = 33) -> Figures:
    """Stop Cassandra (the feeds' storage) mid-run for longer than the workers' retry deadline."""
    world = generate_world(users=max(50, events // 12), events=events, seed=seed, reactions=events // 4)
    settings = chaos_settings("cassandra", partitions=4)

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        applying(settings, supervisor)
        with outage("cassandra"):
            supervisor.hold(seconds)
        figures.notes["cassandra down"] = f"{seconds:.0f}s"

    return _run(f"Cassandra stopped {seconds:.0f}s", settings, world, 2, disrupt, 600, pace=0.002)


def redis_outage(seconds: float = 15.0, events: int = 2000, seed: int = 34) -> Figures:
    """Stop the feeds' Redis (a private one with an append-only file) mid-run, then start it."""
    world = generate_world(users=max(50, events // 12), events=events, seed=seed, reactions=events // 4)
    with tempfile.TemporaryDirectory(prefix="streamfeed-chaos-redis-") as directory:
        instance = RedisInstance(Path(directory), free_port())
        instance.start()
        url = instance.url
        settings = chaos_settings("redis", partitions=4, redis_url=url, counts_redis_url=url)

        def disrupt(supervisor: Supervisor, figures: Figures) -> None:
            applying(settings, supervisor)
            instance.stop()
            try:
                supervisor.hold(seconds)
            finally:
                instance.start()
            figures.notes["redis down"] = f"{seconds:.0f}s"

        try:
            return _run(f"Redis stopped {seconds:.0f}s", settings, world, 2, disrupt, 600, pace=0.002)
        finally:
            instance.stop()


def storage_lost_rebuilt(events: int = 1500, seed: int = 40, workers: int = 2) -> Figures:
    """Redis loses every key of the deployment mid-run (a restart without persistence) with
    STREAMFEED_AUTO_REBUILD on: one worker rebuilds every feed into a new generation and switches,
    the workers restart onto it, and the feeds equal the oracle's with no operator."""
    world = generate_world(users=max(50, events // 12), events=events, seed=seed, reactions=events // 4)
    settings = chaos_settings("redis", partitions=4, auto_rebuild=True)

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        applying(settings, supervisor)
        client = redis_client(settings.redis_url)
        wiped = client.delete(*client.scan_iter(f"{settings.redis_prefix}*", count=5000))
        store = create_generational_backend("redis", settings).store
        lost = time.monotonic()
        switched = wait_until(lambda: store.live() != "", supervisor.poll, 300, "the rebuild's switch")
        figures.notes["keys wiped"] = wiped
        figures.notes["switched after (s)"] = round(switched - lost, 1)
        figures.notes["generation"] = store.live()

    def check(figures: Figures, letters: list) -> None:
        figures.notes["moved on (exit 75)"] = figures.notes.get("exit codes", {}).get(75, 0)

    return _run(
        "Redis lost its data (automatic rebuild)",
        settings,
        world,
        workers,
        disrupt,
        600,
        pace=0.002,
        check=check,
    )


def wait_until(done, poll, timeout: float, what: str) -> float:
    """Poll (keeping workers running) until done(); returns the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f}s"
        poll()
        time.sleep(0.5)
    return time.monotonic()


def unexpected_error(events: int = 600, seed: int = 35) -> Figures:
    """The app's follower look-up raises once: the record is tried again in place and applied;
    no worker exits, nothing becomes a dead letter."""
    world = generate_world(users=50, events=events, seed=seed)
    with tempfile.TemporaryDirectory(prefix="streamfeed-chaos-fault-") as directory:
        marker = Path(directory) / "fail-once"
        marker.touch()
        import os

        os.environ["STREAMFEED_TEST_FAULT_FILE"] = str(marker)
        try:
            settings = chaos_settings("redis", partitions=4)

            def disrupt(supervisor: Supervisor, figures: Figures) -> None:
                figures.notes["fault fired"] = "pending"

            figures = _run(
                "an agent raising an unexpected error",
                settings,
                world,
                1,
                disrupt,
                300,
                app="tests.e2e.faulty_app:manager",
            )
            figures.notes["fault fired"] = not marker.exists()
            return figures
        finally:
            os.environ.pop("STREAMFEED_TEST_FAULT_FILE", None)


def oversized_copy(activities: int = 5000, context_bytes: int = 16_000) -> Figures:
    """A follow copies `activities` activities of about 16 KB each: far above one Kafka message."""
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    adds = [
        ActivityEvent(
            ActivityOp.ADD,
            Activity(
                "star",
                "add",
                f"pin{n:05d}",
                "board1",
                start + timedelta(seconds=n),
                {"blob": "x" * context_bytes},
            ),
            None,
            None,
        )
        for n in range(activities)
    ]
    follow = FollowEvent(FollowOp.FOLLOW, "fan", "star", start + timedelta(days=1), activities)
    world = World(["star", "fan"], [adds, [follow]])
    settings = chaos_settings("redis", partitions=2)

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        figures.notes["copied"] = f"{activities} x {context_bytes // 1000} KB"

    return _run("a follow copying oversized history", settings, world, 1, disrupt, 600)


def network_faults(events: int = 2000, seed: int = 38, long_cut: float = 12.0) -> Figures:
    """Workers and the producer reach Kafka and Redis only through toxiproxy, which delays,
    throttles, stalls, resets and cuts their connections while the world is processed: nothing
    lost or duplicated, and how long convergence took with the faults."""
    from tests.chaos.toxiproxy import KAFKA_FAULTS_PORT, KAFKA_FAULTS_PROXY_PORT, Toxiproxy

    world = generate_world(users=max(50, events // 12), events=events, seed=seed)
    redis_port = free_port()
    settings = chaos_settings(
        "redis",
        partitions=4,
        kafka_bootstrap=f"127.0.0.1:{KAFKA_FAULTS_PROXY_PORT}",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
    )
    faults = [  # (what, proxy, seconds, toxic or None for a cut, attributes)
        ("Redis replies 200 +- 100 ms late", "redis", 5.0, "latency", {"latency": 200, "jitter": 100}),
        ("Kafka at 50 KB/s", "kafka", 5.0, "bandwidth", {"rate": 50}),
        ("Redis connections reset", "redis", 3.0, "reset_peer", {"timeout": 0}),
        ("Kafka connections stalled", "kafka", 6.0, "timeout", {"timeout": 0}),
        ("Redis cut", "redis", 4.0, None, {}),
        ("Kafka cut", "kafka", 8.0, None, {}),
        ("Redis cut past the retry deadline", "redis", long_cut, None, {}),
    ]

    with Toxiproxy() as proxies:
        proxies.proxy("kafka", KAFKA_FAULTS_PROXY_PORT, KAFKA_FAULTS_PORT)
        proxies.proxy("redis", redis_port, 6379)
        return _run(
            "network faults",
            settings,
            world,
            2,
            _injecting(settings, proxies, faults),
            900,
            pace=_pace(world, faults),
        )


def cassandra_network_faults(events: int = 1500, seed: int = 39, long_cut: float = 12.0) -> Figures:
    """Workers reach Cassandra (the feeds' storage) only through toxiproxy, which delays,
    throttles, resets, stalls and cuts their connections while the world is processed: nothing
    lost or duplicated."""
    from tests.chaos.toxiproxy import Toxiproxy

    world = generate_world(users=max(50, events // 12), events=events, seed=seed)
    proxy_port = free_port()
    settings = chaos_settings("cassandra", partitions=4, cassandra_port=proxy_port)
    faults = [  # (what, proxy, seconds, toxic or None for a cut, attributes)
        ("Cassandra replies 150 +- 50 ms late", "cassandra", 5.0, "latency", {"latency": 150, "jitter": 50}),
        ("Cassandra at 100 KB/s", "cassandra", 5.0, "bandwidth", {"rate": 100}),
        ("Cassandra connections reset", "cassandra", 3.0, "reset_peer", {"timeout": 0}),
        ("Cassandra connections stalled", "cassandra", 6.0, "timeout", {"timeout": 0}),
        ("Cassandra cut", "cassandra", 4.0, None, {}),
        ("Cassandra cut past the retry deadline", "cassandra", long_cut, None, {}),
    ]
    with Toxiproxy() as proxies:
        proxies.proxy("cassandra", proxy_port, 9042)
        disrupt = _injecting(settings, proxies, faults)
        return _run("Cassandra network faults", settings, world, 2, disrupt, 900, pace=_pace(world, faults))


def _pace(world: World, faults: list) -> float:
    """Seconds between published events so the world spans every fault (each meets traffic)."""
    return (sum(seconds + 2.0 for _, _, seconds, _, _ in faults) + 10.0) / len(world.events)


def _injecting(settings, proxies, faults: list):
    """The disruption that applies each fault in turn for its seconds, with a pause after each."""

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        applying(settings, supervisor)
        for what, proxy, seconds, kind, attributes in faults:
            print(f"  fault: {what}, {seconds:.0f}s", flush=True)
            if kind is None:
                proxies.enabled(proxy, False)
            else:
                toxic = proxies.toxic(proxy, kind, **attributes)
            supervisor.hold(seconds)
            if kind is None:
                proxies.enabled(proxy, True)
            else:
                proxies.remove(proxy, toxic)
            supervisor.hold(2.0)
        figures.notes["faults"] = len(faults)

    return disrupt


def poison_records(poisoned: int = 3, events: int = 2000, seed: int = 37) -> Figures:
    """Activities the app's aggregated feed cannot group (its aggregator raises for them, every
    time: tests/e2e/poison_app.py), published while the workers still apply a world: each
    feed-ops record carrying one is tried worker_poison_attempts times, then becomes a dead
    letter with the exception and where it was raised; every other record is applied and no
    worker exits."""
    from tests.e2e.poison_app import POISON_PREFIX

    world = generate_world(users=max(50, events // 12), events=events, seed=seed)
    settings = chaos_settings("redis", partitions=4)
    # World users, so the records reach their followers' aggregated feeds; published last, so no
    # follow copies them along with valid activities. Dated before the world: the flat feeds
    # written before the aggregated write failed trim them away at once instead of pushing a
    # valid entry out of a full feed.
    when = datetime(2020, 1, 1, tzinfo=UTC)
    poison = [
        ActivityEvent(
            ActivityOp.ADD,
            Activity(actor, "add", f"{POISON_PREFIX}{n}", "board1", when + timedelta(seconds=n)),
            None,
            None,
        )
        for n, actor in enumerate(world.users[:poisoned])
    ]

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        from streamfeed.kafka.producer import StreamfeedProducer

        deadline = time.monotonic() + 300
        while "republished" not in figures.notes and time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.1)
        producer = StreamfeedProducer(settings)
        for event in poison:
            producer.send_event(event)
        producer.flush(timeout=60)

    def check(figures: Figures, letters: list) -> None:
        figures.notes["poison letters"] = len(letters)
        figures.notes["letters"] = sorted({(letter.error_type, letter.attempts) for letter in letters})
        figures.notes["stack names the app"] = all("get_group" in (letter.stack or "") for letter in letters)
        figures.notes["poisoned activities"] = len(
            {poisoned.activity.object_id for poisoned in poison}
            & {obj for letter in letters for obj in _objects(settings, letter)}
        )

    return _run(
        f"{poisoned} poison activities",
        settings,
        world,
        2,
        disrupt,
        600,
        app="tests.e2e.poison_app:manager",
        pace=0.001,
        check=check,
        ignored=frozenset(event.activity.id for event in poison),
    )


def _objects(settings, letter) -> set[str]:
    """The objects of the activities a feed-ops dead letter carried."""
    record = AvroCodec(registry=settings.schema_registry_url).decode(FANOUT_BATCH, letter.value)
    return {activity.object_id for activity in FanoutBatch.from_record(record, Activity).activities}


#: Bad records of every kind, with the dead-letter reason each must get.
BAD_KINDS = (
    "random bytes",
    "truncated",
    "unknown fingerprint",
    "unknown verb",
    "bad actor id",
    "bad follower id",
    "unknown feed in to",
    "oversized extra_context",
    "empty feed-ops message",
    "feed-ops naming an unknown feed",
)

EXPECTED_REASONS = {
    "random bytes": "not Avro single-object",
    "truncated": "truncated",
    "unknown fingerprint": "unknown writer schema",
    "unknown verb": "verb: unknown verb",
    "bad actor id": "actor: is not a valid user id",
    "bad follower id": "follower: is not a valid user id",
    "unknown feed in to": "to: ",
    "oversized extra_context": "extra_context: exceeds the limit",
    "empty feed-ops message": "empty message",
    "feed-ops naming an unknown feed": "unknown feeds",
}


def bad_record(kind: str, n: int, names: TopicNames, codec: AvroCodec) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of the nth bad record of a kind."""
    when = datetime(2026, 11, 2, 9, 0, tzinfo=UTC) + timedelta(seconds=n)
    activity = Activity("user001", "add", f"bad{n}", "board1", when).to_record()

    def event(**changes) -> bytes:
        assert set(changes) <= set(activity), f"no such activity field: {set(changes) - set(activity)}"
        record = {"op": "ADD", "activity": {**activity, "id": None, **changes}, "priority": None}
        return codec.encode(ACTIVITY_EVENT, {**record, "published_at": None, "version": None})

    valid = event()
    if kind == "random bytes":
        return names.activities, b"k", b"\xff" + random.Random(n).randbytes(40)  # \xff: no framing
    if kind == "truncated":
        return names.activities, b"user001", valid[:-5]
    if kind == "unknown fingerprint":
        return names.activities, b"user001", b"\xc3\x01" + b"\x99" * 8 + valid[10:]
    if kind == "unknown verb":
        return names.activities, b"user001", event(verb="teleport")
    if kind == "bad actor id":
        return names.activities, b"bad actor", event(actor=f"bad actor {n}!")
    if kind == "bad follower id":
        follow = {
            "op": "FOLLOW",
            "follower": f"bad follower {n}!",
            "followed": "user001",
            "activity_copy_limit": None,
            "time": when,
        }
        return names.follows, follow["follower"].encode(), codec.encode(FOLLOW_EVENT, follow)
    if kind == "unknown feed in to":
        return names.activities, b"user001", event(to=[f"nosuchfeed:user{n % 40:03d}"])
    if kind == "oversized extra_context":
        return names.activities, b"user001", event(extra_context={"blob": "x" * 20_000})
    if kind == "empty feed-ops message":
        return names.feed_ops_high, b"user001", b""
    if kind == "feed-ops naming an unknown feed":
        # Its activity was never published, so nothing of it is stored: skipped silently (and
        # committed) before issue 25, as a batch with nothing to write.
        stray = Activity("user001", "add", f"stray{n}", "board1", when)
        batch = FanoutBatch(ActivityOp.ADD, [f"user{n % 40:03d}"], [stray], feeds=["nosuchfeed"])
        return names.feed_ops_low, b"user001", codec.encode(FANOUT_BATCH, batch.to_record())
    raise ValueError(kind)


def bad_records(count: int = 10_000, events: int = 2000, seed: int = 36) -> Figures:
    """`count` bad records of every kind interleaved with a valid world: each one a dead letter
    with the reason of its kind, and every valid record applied."""
    world = generate_world(users=max(50, events // 12), events=events, seed=seed)
    settings = chaos_settings("redis", partitions=4)
    names = TopicNames.from_settings(settings)
    codec = AvroCodec()
    bad = [bad_record(BAD_KINDS[n % len(BAD_KINDS)], n, names, codec) for n in range(count)]

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        from streamfeed.kafka.producer import StreamfeedProducer

        producer = StreamfeedProducer(settings)
        for topic, key, value in bad:
            producer.send_raw(topic, key, value)
        producer.flush(timeout=120)
        figures.notes["bad records"] = count

    by_value = {value: BAD_KINDS[n % len(BAD_KINDS)] for n, (_, _, value) in enumerate(bad)}

    def check(figures: Figures, letters: list) -> None:
        kinds = Counter(by_value.get(letter.value, "not sent by the scenario") for letter in letters)
        wrong = [
            f"{by_value.get(letter.value)}: {letter.error_type}: {letter.error}"
            for letter in letters
            if EXPECTED_REASONS.get(by_value.get(letter.value, ""), "\0") not in letter.error
        ]
        figures.notes["dead letters by kind"] = dict(sorted(kinds.items()))
        figures.notes["wrong reasons"] = len(wrong)
        figures.differences += wrong[:10]

    return _run(f"{count} bad records", settings, world, 2, disrupt, 600, pace=0.001, check=check)
