"""What applying reactions costs: the reactions step on Redis (and Cassandra) against a ceiling.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_reactions [--events 20000]
[--activities 200] [--batch 500] [--cassandra]

The events are what a worker's batches hold: mostly ADDs (likes and comments spread over
--activities activities), some UPDATEs and REMOVEs, applied --batch at a time through
`ReactionStorage.apply` (read the states, fold, write the batch atomically): what the
reactions agent runs. The ceiling is Redis taking the same writes as the same one script call
per batch, folded beforehand: no state reads, no fold, no argument building. Both figures come
from the same run, so their ratio is what the machine's speed of the hour does not change.

Then --reads page reads: the reactions a feed page of 25 activities shows (counts per kind, the
reader's own, the newest 3 of each kind: `ReactionStorage.summaries`), p50 and p99, beside
three PINGs in a row (the three round trips a page costs, with no work in them).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from streamfeed.demo.run import kafka_settings
from streamfeed.domain.activity import Activity
from streamfeed.domain.reactions import (
    ReactionEvent,
    add_event,
    reaction_identity,
    remove_event,
    update_event,
)
from streamfeed.storage.reactions import ReactionStorage
from streamfeed.storage.redis import RedisBackend

T0 = datetime(2026, 12, 7, tzinfo=UTC)


def make_events(count: int, activities: int, seed: int = 30) -> list[ReactionEvent]:
    rng = random.Random(seed)
    activity_ids = [Activity(f"author{n}", "add", f"pin:{n}", time=T0).id for n in range(activities)]
    events: list[ReactionEvent] = []
    made: list[tuple[str, str]] = []
    for n in range(count):
        at = T0 + timedelta(microseconds=n)
        roll = rng.random()
        if made and roll < 0.1:
            rid, on = rng.choice(made)
            events.append(update_event(rid, on, {"text": f"edit {n}"}, at))
        elif made and roll < 0.15:
            rid, on = rng.choice(made)
            events.append(remove_event(rid, on, at))
        else:
            activity = rng.choice(activity_ids)
            kind = "comment" if roll > 0.8 else "like"
            identity = reaction_identity(kind, f"fan{rng.randrange(5000)}", activity, None, at)
            data = {"text": f"comment {n}"} if kind == "comment" else None
            events.append(add_event(f"r{n}", identity, data, at))
            made.append((f"r{n}", activity))
    return events


def step_rate(store: ReactionStorage, events: list[ReactionEvent], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        store.apply(events[start : start + batch])
    return len(events) / (time.perf_counter() - started)


def ceiling_rate(backend: RedisBackend, prefix: str, events: list[ReactionEvent], batch: int) -> float:
    """Redis taking the step's writes alone: each batch's changes folded beforehand (on memory)
    and sent as the same one script call the step sends, timed without the reads and the fold."""
    from streamfeed.storage.reactions import MemoryReactionStorage
    from streamfeed.storage.redis_reactions import RedisReactionStorage

    folded = MemoryReactionStorage()
    writer = RedisReactionStorage(backend.client, prefix)
    calls = []
    for start in range(0, len(events), batch):
        changes = folded.apply(events[start : start + batch])
        calls.append([prefix, *writer._script_args(changes)])
    started = time.perf_counter()
    for args in calls:
        writer._run_apply(args)
    return len(events) / (time.perf_counter() - started)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def page_reads(
    backend: RedisBackend, events: list[ReactionEvent], reads: int
) -> tuple[list[float], list[float]]:
    """Latencies of page reads (25 activities, a reader with reactions) and of three PINGs."""
    rng = random.Random(5)
    activities = sorted({e.activity_id for e in events})
    readers = sorted({e.identity.user_id for e in events if e.identity is not None})
    pages, pings = [], []
    for _ in range(reads):
        page = [(a, a) for a in rng.sample(activities, min(25, len(activities)))]
        started = time.perf_counter()
        backend.reactions.summaries(page, rng.choice(readers), 3)
        pages.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(3):
            backend.client.ping()
        pings.append(time.perf_counter() - started)
    return pages, pings


def clean(backend: RedisBackend, prefix: str) -> None:
    keys = list(backend.client.scan_iter(f"{prefix}*", count=5000))
    for start in range(0, len(keys), 5000):
        backend.client.delete(*keys[start : start + 5000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--activities", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reads", type=int, default=2_000, help="page reads to time")
    parser.add_argument("--cassandra", action="store_true", help="also the step on Cassandra")
    args = parser.parse_args()
    settings = kafka_settings()
    events = make_events(args.events, args.activities)
    run = uuid.uuid4().hex[:8]
    backend = RedisBackend.from_url(settings.redis_url, prefix=f"bench-rx-{run}:")
    ceiling_prefix = f"bench-rx-ceiling-{run}:"
    try:
        step = step_rate(backend.reactions, events, args.batch)
        ceiling = ceiling_rate(backend, ceiling_prefix, events, args.batch)
        targets = [(a, a) for a in sorted({e.activity_id for e in events})]
        counted = sum(sum(c.values()) for c in backend.reactions.counts(targets))
        print(f"{len(events):,} reaction events over {args.activities} activities, batches of {args.batch}")
        print(f"redis step: {step:,.0f} events/s")
        print(f"redis ceiling (the same script calls, folded beforehand): {ceiling:,.0f} events/s")
        print(f"step at {100 * step / ceiling:.0f}% of the ceiling; live reactions counted {counted:,}")
        pages, pings = page_reads(backend, events, args.reads)
        (page50, page99), (ping50, ping99) = percentiles(pages), percentiles(pings)
        print(
            f"page of 25 with counts, own and newest 3 per kind: p50 {page50:.2f} ms, p99 {page99:.2f} ms; "
            f"three PINGs: p50 {ping50:.2f} ms, p99 {ping99:.2f} ms"
        )
    finally:
        clean(backend, f"bench-rx-{run}:")
        clean(backend, ceiling_prefix)
        backend.close()
    if args.cassandra:
        from cassandra.cluster import Cluster

        from streamfeed.storage.cassandra import CassandraBackend

        keyspace = f"bench_rx_{run}"
        cassandra = CassandraBackend.connect(settings, keyspace)
        try:
            rate = step_rate(cassandra.reactions, events, args.batch)
            print(f"cassandra step: {rate:,.0f} events/s ({100 * rate / ceiling:.0f}% of the Redis ceiling)")
        finally:
            cassandra.close()
            cluster = Cluster(settings.cassandra_hosts, port=settings.cassandra_port)
            cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
            cluster.shutdown()


if __name__ == "__main__":
    main()
