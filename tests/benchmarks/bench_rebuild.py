"""Rebuild figures beside the live pipeline's, in the same run, on Redis.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_rebuild [--events 100000] [--workers 2]

1. Live: a world of --events events (users following a few others each)
   published, --workers workers apply it; events per second and flat-feed
   entries written per second until the group has committed everything.
2. Rebuild: `streamfeed rebuild` of the same topics into a new generation
   with the same number of workers; the same two rates.
3. Whether the rebuilt generation holds as many flat-feed entries as the
   live one (tests/e2e/test_rebuild.py compares every byte).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import redis

from streamfeed.consumers.processes import WorkerProcess, wait_until_drained
from streamfeed.demo.run import kafka_settings
from streamfeed.demo.world import START, World
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp, FollowEvent, FollowOp
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.ops.rebuild import run_rebuild
from streamfeed.ops.teardown import remove_run


def uniform_world(users: int, events: int, seed: int) -> World:
    """About `events` events among users who follow a few others each, chosen uniformly.

    generate_world's Zipf followers make one user a celebrity with thousands
    of followers (the celebrity issue's subject); here each activity reaches
    a handful of feeds, so the figure is the pipeline's, not one hot key's.
    """
    rng = random.Random(seed)
    names = [f"u{n:05d}" for n in range(users)]
    clock = START
    follows, pairs = [], set()
    while len(follows) < events // 5:
        follower, followed = rng.sample(names, 2)
        if (follower, followed) not in pairs:
            pairs.add((follower, followed))
            clock += timedelta(seconds=1)
            follows.append(FollowEvent(FollowOp.FOLLOW, follower, followed, clock))
    adds = []
    for n in range(events - len(follows) - events // 50):
        clock += timedelta(seconds=1)
        actor = rng.choice(names)
        to = [f"notification:{rng.choice(names)}"] if rng.random() < 0.1 else []
        activity = Activity(actor, "add", f"pin{n}", f"board{n % 97}", clock, {"title": "Fjord"}, to=to)
        adds.append(ActivityEvent(ActivityOp.ADD, activity, None, None))
    removes = [
        ActivityEvent(ActivityOp.REMOVE, e.activity, None, None) for e in rng.sample(adds, events // 50)
    ]
    return World(names, [follows, adds, removes])


def flat_entries(client: redis.Redis, prefix: str) -> int:
    """Entries in every flat feed (user and normal feeds) under a prefix."""
    total = 0
    for key in client.scan_iter(f"{prefix}feed:*", count=5000):
        if client.type(key) == b"zset":
            total += client.zcard(key)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    world = uniform_world(args.users, args.events, seed=101)
    settings = kafka_settings(partitions=8)
    client = redis.Redis.from_url(settings.redis_url)
    create_topics(settings)
    print(f"world: {len(world.users)} users, {len(world.events)} events; {args.workers} workers")
    with tempfile.TemporaryDirectory(prefix="streamfeed-bench-rebuild-") as logs:
        workers = [WorkerProcess(settings, Path(logs) / f"live-{n}.log").start() for n in range(args.workers)]
        try:
            producer = StreamfeedProducer(settings)
            started = time.monotonic()
            for phase in world.phases:
                for event in phase:
                    producer.send_event(event)
                producer.flush(timeout=300)
                wait_until_drained(settings, timeout=3600, workers=workers)
            live_seconds = time.monotonic() - started
        finally:
            for worker in workers:
                worker.stop()
        entries = flat_entries(client, settings.redis_prefix) - flat_entries(
            client, f"{settings.redis_prefix}gen."
        )
        print(
            f"live:    {len(world.events) / live_seconds:,.0f} events/s, "
            f"{entries / live_seconds:,.0f} flat entries/s ({entries:,} entries, {live_seconds:.1f}s)"
        )
        result = run_rebuild(settings, "bench", workers=args.workers, log_dir=Path(logs), timeout=7200)
        rebuilt = flat_entries(client, f"{settings.redis_prefix}gen.bench:")
        print(
            f"rebuild: {result.events / result.seconds:,.0f} events/s, "
            f"{rebuilt / result.seconds:,.0f} flat entries/s ({rebuilt:,} entries, {result.seconds:.1f}s, "
            f"including worker start-up)"
        )
        print(f"rebuilt entries equal live entries: {rebuilt == entries}")
    remove_run(settings)
    client.close()


if __name__ == "__main__":
    main()
