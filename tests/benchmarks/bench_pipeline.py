"""End-to-end figures: producer -> Kafka -> workers -> Redis, authors with 1,000 followers.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_pipeline [--activities 600] [--rate 20]
    [--workers 1]

1. Throughput: --activities activities published as fast as the producer
   goes, each fanned out to 1,000 followers' flat feeds by --workers worker
   processes; feed inserts per second from the first publish until Redis
   has run every insert (Stream Framework's harness times the same: until
   its feeds hold everything), and until the consumer group has committed
   everything (later by up to Faust's one-second commit interval). In the
   same run, a plain redis-py pipeline of 1,000 ZADD commands, repeated, is
   the ceiling; the ratio is printed, and where the CPU went.
2. Latency: activities published at a steady --rate (well below
   saturation); publish-to-visible is the time from produce() until the
   activity is in every follower's feed (checked on the follower that is
   written last in each partition), p50 and p99.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from streamfeed.app.steps import partition_for
from streamfeed.consumers.processes import WorkerProcess, wait_until_drained
from streamfeed.demo.run import kafka_settings
from streamfeed.domain.activity import Activity
from streamfeed.feeds.flat import Feed
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.storage.redis import RedisBackend
from tests.benchmarks.bench_storage import percentile

FOLLOWERS = 1_000
AUTHORS = 10
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def activity(author: int, n: int) -> Activity:
    return Activity(
        f"author{author}",
        "add",
        f"pin{n}",
        f"board{n % 7}",
        T0 + timedelta(milliseconds=n),
        {"title": "Blue lagoon", "source": "web", "lang": "en"},
    )


def ceiling(client: redis.Redis, prefix: str, rounds: int = 100, repeats: int = 3) -> float:
    """A plain redis-py pipeline of FOLLOWERS ZADDs, `rounds` times, on fresh keys: the median
    of `repeats` runs (one run swings by a fifth on this machine, with Kafka and Cassandra idle
    beside it)."""
    rates = []
    for repeat in range(repeats):
        keys = [f"{prefix}ceiling{repeat}:{{f{n}}}" for n in range(FOLLOWERS)]
        start = time.perf_counter()
        for n in range(rounds):
            a = activity(0, 10_000_000 + n)
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.zadd(key, {a.id: a.sort_key})
            pipe.execute()
        rates.append(rounds * FOLLOWERS / (time.perf_counter() - start))
        client.delete(*keys)
    return sorted(rates)[len(rates) // 2]


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kafka_pid() -> int | None:
    """The local stack's single Kafka broker, found by its main class and its run directory."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"kafka.Kafka" in command and b"run/kafka/" in command:
                return int(entry.name)
    return None


class CpuAccount:
    """CPU seconds spent by the workers, Redis and Kafka between start() and stop(): where a
    throughput figure's time went, per feed insert."""

    def __init__(self, workers: list, redis_client: redis.Redis) -> None:
        self.pids = {f"worker {n}": w.process.pid for n, w in enumerate(workers)}
        if (pid := kafka_pid()) is not None:
            self.pids["kafka"] = pid
        self.redis = redis_client
        self.started: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        info = self.redis.info("cpu")
        now = {"redis": info["used_cpu_user"] + info["used_cpu_sys"], "this process": time.process_time()}
        return now | {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}

    def start(self) -> None:
        self.started = self._now()

    def stop(self) -> None:
        """CPU spent since start(); called again, measures again from the same start."""
        self.spent = {name: value - self.started[name] for name, value in self._now().items()}

    def per_insert(self, inserts: int) -> str:
        parts = [f"{name} {seconds / inserts * 1e6:.2f}" for name, seconds in self.spent.items()]
        total = sum(self.spent.values()) / inserts * 1e6
        return f"CPU us per insert: {', '.join(parts)}; total {total:.2f}"


@dataclass
class Timing:
    """Seconds from the first publish until Redis had run every feed insert (applied), and until
    the group was seen to have committed every offset (committed: looked at only after the
    completion check, which reads every expected entry, so an upper bound: seconds late at a
    million entries)."""

    applied: float
    committed: float


def zadd_calls(client: redis.Redis) -> int:
    """ZADDs Redis has run so far, scripts' included: a sign the workers are still writing."""
    return client.info("commandstats").get("cmdstat_zadd", {}).get("calls", 0)


def all_delivered(client: redis.Redis, expected: list[tuple[str, str]]) -> bool:
    """Whether every (feed key, activity id) is in its feed, checked 10,000 at a time from the
    end: the last published are the likeliest missing, so a check too early stops soon."""
    for end in range(len(expected), 0, -10_000):
        pipe = client.pipeline(transaction=False)
        for key, activity_id in expected[max(0, end - 10_000) : end]:
            pipe.zscore(key, activity_id)
        if any(score is None for score in pipe.execute()):
            return False
    return True


def last_entries(backend: RedisBackend, followers: dict[str, list[str]], activities: list[Activity]):
    """(feed key, activity id) of each author's last activity in each of its followers' feeds.

    Every feed holding its author's last activity means every insert is
    applied: a follower's batches are all on one feed-ops partition, in
    publish order (an earlier activity's page reaches it before a later
    one's), and the newest entry is never trimmed.
    """
    last = {a.actor_id: a.id for a in activities}
    return [
        (backend.timelines.key(Feed.key_for(user)), last[author])
        for author, users in followers.items()
        if author in last
        for user in users
    ]


def timed_publish(
    producer,
    settings,
    workers: list,
    warm_up: Activity,
    activities: list[Activity],
    expected: list[tuple[str, str]],
    client: redis.Redis,
    timeout: float,
    cpu: CpuAccount | None = None,
    quiet: float = 0.5,
) -> Timing:
    """Warm the worker up with one activity (group joined, scripts loaded), then publish the
    activities as fast as the producer goes; time until Redis ran its last feed write (every
    `expected` entry in its feed), and until the group has committed everything.

    Writes are counted, not inserts (a run writes an author's activities to a feed in one
    ZADD): when the count has been still for `quiet` seconds every expected entry is
    checked, and the time of the last change is the time everything was applied.
    """
    producer.add_activity(warm_up)
    producer.flush()
    wait_until_drained(settings, timeout=120, workers=workers)
    if cpu is not None:
        cpu.start()
    calls = zadd_calls(client)
    start = time.perf_counter()
    for item in activities:
        producer.add_activity(item)
    producer.flush()
    changed = checked = None
    while True:
        now = time.perf_counter()
        if now - start > timeout:
            raise TimeoutError(f"feed inserts not all applied after {timeout}s")
        seen = zadd_calls(client)
        if seen != calls:
            calls, changed = seen, now
        elif changed is not None and now - max(changed, checked or 0) > quiet:
            if cpu is not None:
                cpu.stop()  # the run's CPU ends with its last write, not after the checks below
            # Applied only if everything is there and nothing was written while checking (the
            # last write would then be later than `changed`: the next quiet spell checks again).
            # A sample first: a check too early usually stops there, before checking them all.
            if (
                all_delivered(client, random.sample(expected, min(len(expected), 1_000)))
                and all_delivered(client, expected)
                and zadd_calls(client) == calls
            ):
                break
            checked = time.perf_counter()
        time.sleep(0.005)
    applied = changed - start
    committed = (
        time.perf_counter()
        - start
        + wait_until_drained(settings, timeout=timeout, workers=workers, poll=0.05)
    )
    return Timing(applied, committed)


def last_written_followers(followers: list[str], partitions: int) -> list[str]:
    """Per partition, the follower in the last fanout chunk there: sorted last."""
    last: dict[int, str] = {}
    for user in sorted(followers):
        last[partition_for(user, partitions)] = user
    return list(last.values())


def measure_latency(
    backend: RedisBackend, producer: StreamfeedProducer, settings, rate: float, seconds: float, first: int
) -> list[float]:
    followers = [f"a0f{n}" for n in range(FOLLOWERS)]
    watch = [
        backend.timelines.key(Feed.key_for(u)) for u in last_written_followers(followers, settings.partitions)
    ]
    outstanding: dict[str, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def watcher() -> None:
        while not done.is_set() or outstanding:
            with lock:
                items = list(outstanding.items())
            if not items:
                time.sleep(0.001)
                continue
            pipe = backend.client.pipeline(transaction=False)
            for activity_id, _ in items:
                for key in watch:
                    pipe.zscore(key, activity_id)
            scores = pipe.execute()
            now = time.perf_counter()
            for index, (activity_id, sent) in enumerate(items):
                if all(s is not None for s in scores[index * len(watch) : (index + 1) * len(watch)]):
                    latencies.append(now - sent)
                    with lock:
                        outstanding.pop(activity_id, None)
            time.sleep(0.001)

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    interval = 1.0 / rate
    next_at = time.perf_counter()
    for n in range(int(rate * seconds)):
        a = activity(0, first + n)
        with lock:
            outstanding[a.id] = time.perf_counter()
        producer.add_activity(a)
        producer.producer.poll(0)
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    producer.flush()
    done.set()
    thread.join(60)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=600, help="activities in the throughput run")
    parser.add_argument("--rate", type=float, default=20.0, help="activities per second in the latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the partitions")
    args = parser.parse_args()
    settings = kafka_settings(partitions=4).model_copy(update={"worker_batch_size": 500})
    backend = RedisBackend.from_url(settings.redis_url, prefix=settings.redis_prefix)
    create_topics(settings)
    for author in range(AUTHORS):
        for n in range(FOLLOWERS):
            backend.follows.follow(f"a{author}f{n}", f"author{author}")
    with tempfile.TemporaryDirectory(prefix="streamfeed-bench-") as logs:
        app = "tests.benchmarks.bench_app:manager"
        workers = [
            WorkerProcess(settings, Path(logs) / f"worker{n}.log", app).start() for n in range(args.workers)
        ]
        try:
            producer = StreamfeedProducer(settings)
            batch = [activity(n % AUTHORS, n) for n in range(1, args.activities + 1)]
            cpu = CpuAccount(workers, backend.client)
            done = args.activities * FOLLOWERS
            followers = {f"author{a}": [f"a{a}f{n}" for n in range(FOLLOWERS)] for a in range(AUTHORS)}
            expected = last_entries(backend, followers, batch)
            timing = timed_publish(
                producer, settings, workers, activity(0, 0), batch, expected, backend.client, 600, cpu
            )
            elapsed = timing.applied
            inserts = done / elapsed
            top = ceiling(backend.client, settings.redis_prefix)
            print(
                f"throughput: {args.activities} activities x {FOLLOWERS:,} followers in {elapsed:.1f}s, "
                f"{args.workers} worker(s)"
            )
            print(f"  end to end:                   {inserts:>10,.0f} feed inserts/s (all applied)")
            print(f"  until committed:              {done / timing.committed:>10,.0f} feed inserts/s")
            print(f"  plain redis-py ZADD pipeline: {top:>10,.0f} inserts/s (ceiling, same run)")
            print(f"  ratio: {inserts / top:.0%} of the ceiling")
            print(f"  {cpu.per_insert(args.activities * FOLLOWERS)}")

            latencies = measure_latency(backend, producer, settings, args.rate, args.seconds, 1_000_000)
            print(
                f"latency at {args.rate:.0f} activities/s ({args.rate * FOLLOWERS:,.0f} feed inserts/s), "
                f"{len(latencies)} activities, publish to visible in all {FOLLOWERS:,} feeds:"
            )
            p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
            print(f"  p50 {p50:.0f} ms, p99 {p99:.0f} ms (target p99 < 250 ms)")
        finally:
            for worker in workers:
                worker.stop()
            keys = list(backend.client.scan_iter(f"{settings.redis_prefix}*", count=5000))
            for start in range(0, len(keys), 5000):
                backend.client.delete(*keys[start : start + 5000])


if __name__ == "__main__":
    main()
