"""Celebrity scale in one run: pushed fanout from 1,000 to 1,000,000 followers end to end, the
worker's memory at each, Stream Framework beside it, then the pulled path (bench_hybrid).

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_celebrity [--followers 1000 10000 ...]
    [--inserts 1000000] [--sf-python /tmp/sfpeer/sfvenv/bin/python --sf-script /tmp/sfpeer/sf_bench.py]

For each follower count F: F followers of one author written straight to
Redis, fresh workers (--workers processes; flat feeds only, followers read a
page of 10,000 at a time), then about --inserts feed inserts' worth of
activities published as fast as the producer goes; feed inserts/s from the
first publish until Redis has run every insert (and, in the JSON rows,
until the group has committed everything), microseconds per insert, the
largest worker's peak resident memory (VmHWM) and where the CPU went. A
plain redis-py ZADD pipeline is the ceiling, measured in the same run. With
--sf-python, Stream Framework's harness (one author, F followers, Celery
eager, Redis; see ../shared/peer) runs the same F.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from streamfeed.consumers.processes import WorkerProcess
from streamfeed.demo.run import kafka_settings
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.storage.redis import RedisBackend
from tests.benchmarks.bench_pipeline import CpuAccount, activity, ceiling, last_entries, timed_publish


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def follower_names(count: int, prefix: str = "") -> list[str]:
    return [f"{prefix}f{n}" for n in range(count)]


def write_followers(backend: RedisBackend, author: str, followers: list[str]) -> None:
    """The author's followers hash, written in pipelines: set-up, not what is measured."""
    key = backend.follows._followers(author)
    for start in range(0, len(followers), 20_000):
        backend.client.hset(key, mapping=dict.fromkeys(followers[start : start + 20_000], 0))


def remove_prefix(backend: RedisBackend, prefix: str) -> None:
    batch = []
    for key in backend.client.scan_iter(f"{prefix}*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            backend.client.unlink(*batch)
            batch.clear()
    if batch:
        backend.client.unlink(*batch)


def pushed(followers: int, inserts: int, processes: int = 1, spread: bool = False) -> dict:
    """One author's activities to its F followers; spread: each activity by an author of its own
    with F followers of its own, so no two activities share a recipient (nothing for a run to
    merge: one write per insert, the cost of a diverse graph)."""
    settings = kafka_settings(partitions=4).model_copy(update={"worker_batch_size": 500})
    backend = RedisBackend.from_url(settings.redis_url, prefix=settings.redis_prefix)
    activities = max(2, inserts // followers)
    create_topics(settings)
    authors = range(activities) if spread else range(1)
    graph = {f"author{a}": follower_names(followers, f"a{a}" if spread else "") for a in authors}
    for author, names in graph.items():
        write_followers(backend, author, names)
    try:
        with tempfile.TemporaryDirectory(prefix="streamfeed-bench-") as logs:
            app = "tests.benchmarks.bench_app:manager"
            workers = [
                WorkerProcess(settings, Path(logs) / f"worker{n}.log", app).start() for n in range(processes)
            ]
            try:
                batch = [activity(n - 1 if spread else 0, n) for n in range(1, activities + 1)]
                # Warmed up on another author, so the measured author's followers are all unwritten.
                cpu = CpuAccount(workers, backend.client)
                producer = StreamfeedProducer(settings)
                done = activities * followers
                expected = last_entries(backend, graph, batch)
                warm_up = activity(10**9, 0)  # an author with no followers
                timing = timed_publish(
                    producer, settings, workers, warm_up, batch, expected, backend.client, 1800, cpu
                )
                memory = max(peak_rss_mib(worker.process.pid) for worker in workers)
            finally:
                for worker in workers:
                    worker.stop()
        top = ceiling(backend.client, settings.redis_prefix, rounds=50)
    finally:
        remove_prefix(backend, settings.redis_prefix)
        from streamfeed.kafka.topics import topic_specs
        from streamfeed.ops.teardown import remove_topics

        remove_topics(settings, [spec.name for spec in topic_specs(settings)])
    return {
        "followers": followers,
        "spread": spread,
        "activities": activities,
        "inserts_per_s": done / timing.applied,
        "us_per_insert": timing.applied / done * 1e6,
        "committed_per_s": done / timing.committed,
        "worker_peak_mib": memory,
        "ceiling": top,
        "cpu": cpu.per_insert(done),
    }


def stream_framework(python: str, script: str, followers: int, inserts: int) -> float | None:
    activities = max(1, min(inserts, 200_000) // followers)
    done = subprocess.run(
        [python, script, "fanout", str(followers), str(activities)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={"SF_REDIS_DB": "4", "PATH": "/usr/bin:/bin"},
    )
    for line in done.stdout.splitlines():
        figure = json.loads(line)
        if figure.get("figure") == "fanout":
            return figure["inserts_per_s"]
    print(f"  Stream Framework failed at {followers:,}: {done.stderr[-300:]}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, nargs="*", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--inserts", type=int, default=1_000_000, help="feed inserts per follower count")
    parser.add_argument("--sf-python", help="python of a venv with Stream Framework (see ../shared/peer)")
    parser.add_argument("--sf-script", default="/tmp/sfpeer/sf_bench.py")
    parser.add_argument("--sf-max", type=int, default=100_000, help="largest F Stream Framework runs")
    parser.add_argument("--skip-pulled", action="store_true", help="leave out the pulled-path figures")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the partitions")
    parser.add_argument(
        "--spread",
        type=int,
        nargs="*",
        default=[1_000],
        help="follower counts also run with every activity by an author of its own (nothing to merge)",
    )
    args = parser.parse_args()
    rows = []
    sf_rates: dict[int, float | None] = {}
    runs = [(f, False) for f in args.followers] + [(f, True) for f in args.spread]
    for followers, spread in runs:
        row = pushed(followers, args.inserts, args.workers, spread)
        if args.sf_python and followers <= args.sf_max:
            if followers not in sf_rates:  # its cost per activity is the same for any author
                sf_rates[followers] = stream_framework(
                    args.sf_python, args.sf_script, followers, args.inserts
                )
            row["sf"] = sf_rates[followers]
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]["us_per_insert"]
    print(
        f"\npushed fanout end to end through Kafka and {args.workers} worker process(es) (flat feeds, "
        "Redis); one author, or (spread) every activity by an author of its own:"
    )
    print(
        "| followers | authors | activities | feed inserts/s | us per insert (vs first) | worker peak RSS | "
        "ZADD ceiling | of ceiling | Stream Framework | x SF |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        sf = row.get("sf")
        sf_rate = "-" if sf is None else f"{sf:,.0f}"
        times = "-" if sf is None else f"{row['inserts_per_s'] / sf:.1f}"
        authors = f"{row['activities']:,} (spread)" if row["spread"] else "1"
        print(
            f"| {row['followers']:,} | {authors} | {row['activities']:,} | {row['inserts_per_s']:,.0f} | "
            f"{row['us_per_insert']:.1f} ({row['us_per_insert'] / base - 1:+.0%}) | "
            f"{row['worker_peak_mib']:.0f} MiB | {row['ceiling']:,.0f} | "
            f"{row['inserts_per_s'] / row['ceiling']:.0%} | {sf_rate} | {times} |"
        )
    for row in rows:
        print(f"F = {row['followers']:,}{' spread' if row['spread'] else ''}: {row['cpu']}")
    if not args.skip_pulled:
        from tests.benchmarks import bench_hybrid

        print()
        bench_hybrid.main([])


if __name__ == "__main__":
    main()
