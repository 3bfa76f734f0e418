"""Hybrid push/pull figures on Redis: what a pulled author's activity costs to publish, and what
merging pulled authors costs a follower's read.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_hybrid [--reads 2000] [--followers 20000]

1. Publishing: one author with --followers followers, inline through the
   Manager on Redis, pushed then pulled: seconds per activity (the pulled
   one writes the author's state and user feed only, whatever the count).
2. Reading: followers whose own flat feed holds 100 pushed entries and who
   follow 0, 1, 10 and 50 pulled authors (each with 200 activities in its
   user feed): p50 and p99 of ``feed[:25]`` over --reads reads each, in
   process, with a plain pushed read and a Redis PING beside them.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.feeds.flat import Feed
from streamfeed.feeds.hybrid import author_modes
from streamfeed.settings import get_settings
from streamfeed.storage.redis import RedisBackend
from tests.benchmarks.bench_storage import percentile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PULLED_COUNTS = (0, 1, 10, 50)


class BenchManager(Manager):
    feed_classes = {"normal": Feed}  # noqa: RUF012 (Stream Framework's class-attribute style)


def activity(actor: str, n: int) -> Activity:
    return Activity(actor, "add", f"pin{n}", "board", T0 + timedelta(seconds=n), {"title": "Blue lagoon"})


def bulk_follow(backend: RedisBackend, author: str, followers: list[str]) -> None:
    """Followers written straight to storage in pipelines: setting up, not what is measured."""
    for start in range(0, len(followers), 5000):
        pipe = backend.client.pipeline(transaction=False)
        for user in followers[start : start + 5000]:
            pipe.hset(backend.follows._followers(author), user, 0)
            pipe.sadd(backend.follows._following(user), author)
        pipe.execute()


def publishing(manager: Manager, backend: RedisBackend, followers: int, rounds: int) -> tuple[float, float]:
    """Seconds per activity of one author with that many followers: pushed, then pulled."""
    bulk_follow(backend, "star", [f"fan{n}" for n in range(followers)])
    timings = []
    for pulled in (False, True):
        if pulled:
            manager.pull_author("star", at=T0)
        start = time.perf_counter()
        for n in range(rounds):
            manager.add_user_activity("star", activity("star", (2 if pulled else 1) * 1_000_000 + n))
        timings.append((time.perf_counter() - start) / rounds)
    return timings[0], timings[1]


def reading(manager: Manager, backend: RedisBackend, reads: int) -> dict[int, tuple[float, float]]:
    """p50 and p99 (ms) of a 25-entry page for followers of 0, 1, 10 and 50 pulled authors."""
    pulled = [f"pulled{n}" for n in range(max(PULLED_COUNTS))]
    pushed = [f"pushed{n}" for n in range(5)]
    readers = {count: f"reader{count}" for count in PULLED_COUNTS}
    for author in pushed:
        bulk_follow(backend, author, list(readers.values()))
    for n in range(100):  # 100 pushed entries in every reader's own feed
        manager.add_user_activity(pushed[n % 5], activity(pushed[n % 5], n))
    for index, author in enumerate(pulled):
        manager.pull_author(author, at=T0)
        bulk_follow(backend, author, [r for count, r in readers.items() if index < count])
        for n in range(200):
            manager.add_user_activity(author, activity(author, 10_000 + index * 1000 + n))
    author_modes(backend.follows)  # warm the process's cache, as a serving process has it
    figures = {}
    for count, reader in readers.items():
        feed = manager.get_feed("normal", reader)
        assert len(feed[:25]) == 25
        samples = []
        for _ in range(reads):
            start = time.perf_counter()
            feed[:25]
            samples.append(time.perf_counter() - start)
        figures[count] = (percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--followers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="activities per publishing measurement")
    args = parser.parse_args(argv)
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend.from_url(get_settings().redis_url, prefix=prefix)
    manager = BenchManager(backend)
    try:
        pushed, pulled = publishing(manager, backend, args.followers, args.rounds)
        print(f"publishing, one author with {args.followers:,} followers, inline on Redis:")
        print(
            f"  pushed: {pushed * 1000:8.1f} ms per activity ({args.followers / pushed:,.0f} feed inserts/s)"
        )
        print(
            f"  pulled: {pulled * 1000:8.1f} ms per activity (user feed only: {pushed / pulled:,.0f}x less)"
        )
        figures = reading(manager, backend, args.reads)
        pings = []
        for _ in range(args.reads):
            start = time.perf_counter()
            backend.client.ping()
            pings.append(time.perf_counter() - start)
        print(f"reading feed[:25] (own feed 100 entries, pulled authors 200 each), {args.reads} reads:")
        for count, (p50, p99) in figures.items():
            print(f"  {count:>2} pulled authors: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        ping50, ping99 = percentile(pings, 0.5) * 1000, percentile(pings, 0.99) * 1000
        print(f"  Redis PING: p50 {ping50:.2f} ms, p99 {ping99:.2f} ms")
    finally:
        for key in backend.client.scan_iter(f"{prefix}*", count=5000):
            backend.client.delete(key)


if __name__ == "__main__":
    main()
