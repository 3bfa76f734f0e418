"""Storage figures on the local stack: fanout write rate, page read latency, Redis memory.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_storage [--rounds 200]

1. One activity added to 1,000 flat feeds as one batch (Feed.add_to_many_users),
   repeated: feed inserts per second on Redis, and in the same run a plain
   redis-py pipeline of 1,000 ZADD commands on the same keys as the ceiling.
2. feed[:25], hydrated, from feeds of 1,000 entries: p50 and p99 on Redis
   and Cassandra.
   The same into feeds already full (max_length 100), where every insert trims one entry:
   with the default trim_slack (the trimmed entry kept aside) and with trim_slack 0, rounds
   interleaved, so the ratio is the slack's cost on a fanout of full feeds.
3. Redis bytes per timeline entry (MEMORY USAGE of the sorted set over its
   entries) at max_length 100 and 1,000, and bytes per stored activity.
Everything is written under a throwaway prefix or keyspace and removed after.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.feeds.flat import Feed, direct_states
from streamfeed.settings import get_settings
from streamfeed.storage.cassandra import CassandraBackend
from streamfeed.storage.redis import RedisBackend

FANOUT = 1_000
PAGE_FEEDS = 20
ENTRIES = 1_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(backend, activities: list[Activity]) -> list[ActivityState]:
    """The activities' states, stored as the fanout stores them before it writes feeds."""
    states = direct_states(activities)
    backend.activities.apply(states)
    return states


def activity(n: int) -> Activity:
    return Activity(
        f"user:{n % 97}",
        "love",
        f"pin:{n}",
        f"board:{n % 13}",
        T0 + timedelta(seconds=n),
        {"title": "Blue lagoon", "source": "web", "lang": "en"},
    )


class BenchFeed(Feed):
    key_format = "bench:{user_id}"
    max_length = ENTRIES


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fanout_rates(backend: RedisBackend, rounds: int) -> tuple[float, float]:
    users = [f"f{n}" for n in range(FANOUT)]
    keys = [backend.timelines.key(BenchFeed.key_for(u)) for u in users]
    states = [stored(backend, [activity(n)]) for n in range(rounds)]
    start = time.perf_counter()
    for n in range(rounds):
        BenchFeed.add_to_many_users(users, states[n], backend=backend)
    ours = rounds * FANOUT / (time.perf_counter() - start)
    start = time.perf_counter()
    for n in range(rounds):
        a = activity(rounds + n)
        pipe = backend.client.pipeline(transaction=False)
        for key in keys:
            pipe.zadd(key, {a.id: a.sort_key})
        pipe.execute()
    ceiling = rounds * FANOUT / (time.perf_counter() - start)
    return ours, ceiling


class FullFeed(Feed):
    key_format = "full:{user_id}"
    max_length = 100


class FullFeedNoSlack(FullFeed):
    trim_slack = 0


def full_feed_rates(backend: RedisBackend, rounds: int) -> tuple[float, float]:
    """Inserts/s into full feeds with the default trim slack, and without one (same run)."""
    users = [f"full{n}" for n in range(FANOUT)]
    history = stored(backend, [activity(200_000 + n) for n in range(FullFeed.max_length)])
    for feed_class in (FullFeed, FullFeedNoSlack):
        feed_class.add_to_many_users(users, history, backend=backend)
    states = [stored(backend, [activity(300_000 + n)]) for n in range(rounds)]
    seconds = {FullFeed: 0.0, FullFeedNoSlack: 0.0}
    for n in range(rounds):
        for feed_class in (FullFeed, FullFeedNoSlack) if n % 2 else (FullFeedNoSlack, FullFeed):
            start = time.perf_counter()
            feed_class.add_to_many_users(users, states[n], backend=backend)
            seconds[feed_class] += time.perf_counter() - start
    assert backend.timelines.count(FullFeed.key_for(users[0])) == FullFeed.max_length
    return rounds * FANOUT / seconds[FullFeed], rounds * FANOUT / seconds[FullFeedNoSlack]


def read_latencies(backend, reads: int) -> tuple[float, float]:
    users = [f"r{n}" for n in range(PAGE_FEEDS)]
    batch = stored(backend, [activity(n) for n in range(ENTRIES)])
    for start in range(0, ENTRIES, 100):
        BenchFeed.add_to_many_users(users, batch[start : start + 100], backend=backend)
    feeds = [BenchFeed(u, backend=backend) for u in users]
    assert all(f.count() == ENTRIES for f in feeds)
    for feed in feeds:  # warm connections and prepared statements
        feed[:25]
    samples = []
    for n in range(reads):
        feed = feeds[n % len(feeds)]
        start = time.perf_counter()
        page = feed[:25]
        samples.append(time.perf_counter() - start)
        assert len(page) == 25
    return percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000


def redis_memory(backend: RedisBackend) -> list[tuple[int, float, float]]:
    results = []
    for length in (100, 1_000):
        user = f"m{length}"
        key = backend.timelines.key(BenchFeed.key_for(user))
        batch = stored(backend, [activity(100_000 + n) for n in range(length)])
        backend.timelines.add_to_many([BenchFeed.key_for(user)], batch, length)
        per_entry = backend.client.memory_usage(key, samples=0) / length
        sample = backend.activities.key(batch[0].id)
        per_activity = backend.client.memory_usage(sample, samples=0)
        results.append((length, per_entry, per_activity))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="fanout batches to time")
    parser.add_argument("--reads", type=int, default=2_000, help="page reads to time")
    args = parser.parse_args()
    settings = get_settings()
    prefix = f"bench:{uuid.uuid4().hex[:6]}:"
    redis_backend = RedisBackend.from_url(settings.redis_url, prefix=prefix)
    keyspace = f"bench_{uuid.uuid4().hex[:6]}"
    cassandra = None
    try:
        ours, ceiling = fanout_rates(redis_backend, args.rounds)
        print(f"fanout to {FANOUT:,} feeds, {args.rounds} batches (Redis):")
        print(f"  streamfeed add_to_many_users: {ours:>10,.0f} feed inserts/s")
        print(f"  plain redis-py ZADD pipeline: {ceiling:>10,.0f} inserts/s (ceiling)")
        print(f"  ratio: {ours / ceiling:.0%} of the ceiling (target 60%)")
        slack, no_slack = full_feed_rates(redis_backend, args.rounds)
        print(f"fanout to {FANOUT:,} full feeds (max_length 100, each insert trims one), Redis:")
        print(f"  trim_slack {FullFeed.trim_slack} (default): {slack:>10,.0f} feed inserts/s")
        print(f"  trim_slack 0:            {no_slack:>10,.0f} feed inserts/s")
        print(f"  the slack costs {1 - slack / no_slack:.0%} of the rate")
        # Each backend is measured alone: the Cassandra driver's event-loop thread
        # would otherwise compete for the GIL with the Redis reads.
        for name in ("Redis", "Cassandra"):
            if name == "Redis":
                backend = redis_backend
            else:
                cassandra = CassandraBackend.connect(
                    settings.model_copy(update={"counts_redis_url": None}), keyspace
                )
                backend = cassandra
            p50, p99 = read_latencies(backend, args.reads)
            if name == "Redis":
                ping = []
                for _ in range(args.reads):
                    start = time.perf_counter()
                    redis_backend.client.ping()
                    ping.append(time.perf_counter() - start)
                floor50, floor99 = percentile(ping, 0.5) * 1000, percentile(ping, 0.99) * 1000
                print(
                    f"Redis PING round trip (floor of any read): p50 {floor50:.3f} ms, p99 {floor99:.3f} ms"
                )
            print(
                f"feed[:25] hydrated, feeds of {ENTRIES:,} ({name}, {args.reads} reads): "
                f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"
            )
        for length, per_entry, per_activity in redis_memory(redis_backend):
            print(
                f"Redis memory at max_length {length:,}: {per_entry:.1f} bytes per timeline entry; "
                f"{per_activity} bytes per stored activity (stored once)"
            )
    finally:
        keys = list(redis_backend.client.scan_iter(f"{prefix}*", count=5000))
        for start in range(0, len(keys), 5000):
            redis_backend.client.delete(*keys[start : start + 5000])
        if cassandra is not None:
            cassandra.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
            cassandra.close()
        redis_backend.close()


if __name__ == "__main__":
    main()
