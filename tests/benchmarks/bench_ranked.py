"""What a ranked page costs: `feed.ranked("popular", 25)` on Redis beside the chronological
`feed[:25]` of the same feed, in the same run.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_ranked [--candidates 300] [--reads 2000]

The feed holds --candidates activities (the ranking window), each with 0-40 likes and some
comments; the ranking is the default app's "popular" (age decay times likes and comments), so a
ranked page reads the window's entries, their reaction counts, scores and orders them; "near"
adds the reader's affinity to each author (the default, from the reader's own reactions in the
window), which reads the window's bodies too. A read
alternates with a chronological page of the same feed: both see the same machine at the same
moment, and their ratio is the figure that carries over (this machine's speed varies by 2-4x
from hour to hour). The target (issue 31): ranked p99 below 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from streamfeed.demo.run import kafka_settings
from streamfeed.domain.activity import Activity
from streamfeed.domain.reactions import add_event, reaction_identity
from streamfeed.feeds.flat import Feed
from streamfeed.storage.redis import RedisBackend

T0 = datetime(2026, 12, 7, tzinfo=UTC)


class Timeline(Feed):
    key_format = "bench_ranked:{user_id}"
    max_length = 1000
    rankings: ClassVar[dict] = {
        **Feed.rankings,
        # popular, raised by the reader's affinity to the author (the window's own, by default):
        # the activities' bodies are read for the whole window, not only the page's.
        "near": "decay_exp(age, 86400) * (1 + log1p(reactions.like) + 2 * log1p(reactions.comment))"
        " * (1 + affinity)",
    }


def fill(backend: RedisBackend, candidates: int, seed: int = 31) -> Timeline:
    rng = random.Random(seed)
    feed = Timeline("reader", backend=backend)
    activities = [
        Activity(
            f"author{n % 40}",
            "add",
            f"pin:{n}",
            f"board:{n % 9}",
            T0 + timedelta(minutes=n),
            {"title": f"pin {n}"},
        )
        for n in range(candidates)
    ]
    feed.add_many(activities)
    events = []
    for n, activity in enumerate(activities):
        for r in range(rng.choice([0, 1, 2, 5, 12, 40])):
            kind = "comment" if r % 5 == 4 else "like"
            at = T0 + timedelta(minutes=n, seconds=r)
            events.append(
                add_event(f"r{n}-{r}", reaction_identity(kind, f"fan{r}", activity.id, None, at), {}, at)
            )
    for start in range(0, len(events), 500):
        backend.reactions.apply(events[start : start + 500])
    return feed


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300, help="entries in the feed: the ranking window")
    parser.add_argument(
        "--reads", type=int, default=2_000, help="ranked pages (and as many chronological) to time"
    )
    args = parser.parse_args()
    settings = kafka_settings()
    prefix = f"bench-ranked-{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend.from_url(settings.redis_url, prefix=prefix)
    backend.remember_decoded(10_000)  # as the API does (STREAMFEED_API_DECODE_CACHE)
    Timeline.ranking_window = args.candidates
    try:
        feed = fill(backend, args.candidates)
        for _ in range(20):  # warm: scripts loaded, connections open
            feed.ranked("popular", 25)
            feed[:25]
        ranked, near, newest = [], [], []
        for _ in range(args.reads):
            started = time.perf_counter()
            page = feed.ranked("popular", 25)
            ranked.append(time.perf_counter() - started)
            started = time.perf_counter()
            feed.ranked("near", 25, reader="fan1")
            near.append(time.perf_counter() - started)
            started = time.perf_counter()
            feed[:25]
            newest.append(time.perf_counter() - started)
        (r50, r99), (a50, a99), (n50, n99) = percentiles(ranked), percentiles(near), percentiles(newest)
        moved = sum(a.id != b.id for a, b in zip(page.activities, feed[:25], strict=True))
        print(f"{args.candidates} candidates with reaction counts, {args.reads:,} reads of 25")
        print(f"ranked page (popular): p50 {r50:.2f} ms, p99 {r99:.2f} ms")
        print(f"ranked page with affinity (near): p50 {a50:.2f} ms, p99 {a99:.2f} ms")
        print(f"chronological page, same feed: p50 {n50:.2f} ms, p99 {n99:.2f} ms")
        print(
            f"ranked / chronological p99: {r99 / n99:.1f}x; entries ranked off their place on page 1: {moved}"
        )
    finally:
        keys = list(backend.client.scan_iter(f"{prefix}*", count=5000))
        for start in range(0, len(keys), 5000):
            backend.client.delete(*keys[start : start + 5000])
        backend.close()


if __name__ == "__main__":
    main()
