"""What applying reactions costs: the reactions step on Redis (and Cassandra) against a ceiling.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_reactions [--events 20000]
[--activities 200] [--batch 500] [--cassandra]

The events are what a worker's batches hold: mostly ADDs (likes and comments spread over
--activities activities), some UPDATEs and REMOVEs, applied --batch at a time through
`ReactionStorage.apply` (read the states, fold, one transaction per activity): what the
reactions agent runs. The ceiling is Redis taking the same final writes (a state HSET, the
kinds SADD and two ZADDs per reaction) as one plain pipeline per batch: no reads, no fold, no
transactions. Both figures come from the same run, so their ratio is what the machine's
speed of the hour does not change.
"""

from __future__ import annotations

import argparse
import random
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
from streamfeed.storage.reactions import ReactionStorage, state_json
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
    """The final writes alone, as plain pipelines: what Redis can take of this work."""
    from streamfeed.domain.reactions import merged

    client = backend.client
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        pipe = client.pipeline(transaction=False)
        for event in events[start : start + batch]:
            state = merged(None, event)
            base = f"{prefix}rx:{{{event.activity_id}}}"
            pipe.hset(f"{base}:states", event.reaction_id, state_json(state))
            if event.identity is not None:
                score = event.version
                pipe.sadd(f"{base}:kinds:{event.activity_id}", event.identity.kind)
                pipe.zadd(
                    f"{base}:kind:{event.activity_id}:{event.identity.kind}", {event.reaction_id: score}
                )
                pipe.zadd(
                    f"{base}:user:{event.activity_id}:{event.identity.user_id}", {event.reaction_id: score}
                )
        pipe.execute()
    return len(events) / (time.perf_counter() - started)


def clean(backend: RedisBackend, prefix: str) -> None:
    keys = list(backend.client.scan_iter(f"{prefix}*", count=5000))
    for start in range(0, len(keys), 5000):
        backend.client.delete(*keys[start : start + 5000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--activities", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
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
        print(f"redis ceiling (the same writes, plain pipelines): {ceiling:,.0f} events/s")
        print(f"step at {100 * step / ceiling:.0f}% of the ceiling; live reactions counted {counted:,}")
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
