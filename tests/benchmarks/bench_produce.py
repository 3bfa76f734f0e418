"""`streamfeed produce` throughput: JSON lines per second into Kafka, beside the Python producer's
own rate for the same records (the ceiling produce's checks and encoding leave room under).

Run: .venv/bin/python -m tests.benchmarks.bench_produce [--lines 200000]

The lines are a typical mix (nine activities with an extra_context title to
one follow). `produce` runs as users run it, a `streamfeed produce FILE`
process, timed from start to exit (interpreter start and the final flush
included); `--dry-run` is the same without Kafka, `--jobs 1` the same encoding every line in the one
process that sends. The ceiling is this
process sending the same records, encoded beforehand, through
StreamfeedProducer.send_raw with produce's settings, then flushing. This
machine's speed varies by 2-4x from hour to hour: the share of the ceiling
is the figure that carries over.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamfeed.consumers.processes import settings_env
from streamfeed.demo.run import kafka_settings
from streamfeed.domain.json_events import parse_json_event
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.ops.teardown import remove_run


def typical_lines(count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        actor, other = f"user{rng.randrange(5000)}", f"user{rng.randrange(5000)}"
        if n % 10 == 9:
            line = {"type": "follow", "follower": actor, "followed": other if other != actor else "user5000"}
        else:
            line = {
                "type": "activity",
                "actor": actor,
                "verb": "add",
                "object": f"pin:{n}",
                "target": f"board:{n % 100}",
                "time": "2026-11-26T12:00:00Z",
                "extra_context": {"title": f"a pin {n}"},
            }
        lines.append(json.dumps(line).encode() + b"\n")
    return lines


def produce_seconds(path: Path, env: dict[str, str], *extra: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "streamfeed.cli", "produce", *extra, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"produce failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds


def ceiling_seconds(lines: list[bytes], settings) -> float:
    producer = StreamfeedProducer(settings)
    records = [producer.encoded(parse_json_event(line)) for line in lines]
    started = time.perf_counter()
    for topic, key, value in records:
        producer.send_raw(topic, key, value)
    producer.flush(300)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    settings = kafka_settings(partitions=4)
    create_topics(settings)
    env = {**os.environ, **settings_env(settings)}
    lines = typical_lines(args.lines)
    try:
        with tempfile.TemporaryDirectory(prefix="streamfeed-bench-produce-") as folder:
            path = Path(folder) / "events.jsonl"
            path.write_bytes(b"".join(lines))
            dry = produce_seconds(path, env, "--dry-run")
            serial = produce_seconds(path, env, "--jobs", "1")
            published = produce_seconds(path, env)
        ceiling = ceiling_seconds(lines, settings)
    finally:
        remove_run(settings)
    n = len(lines)
    print(f"lines: {n:,} ({sum(map(len, lines)) / n:.0f} bytes each)")
    print(f"produce --dry-run: {n / dry:,.0f} lines/s ({dry:.1f}s, process start included)")
    print(f"produce --jobs 1: {n / serial:,.0f} lines/s ({serial:.1f}s)")
    jobs = os.cpu_count()
    print(
        f"produce (--jobs {jobs}): {n / published:,.0f} lines/s "
        f"({published:.1f}s, process start and flush included)"
    )
    print(f"ceiling (send_raw of encoded records, then flush): {n / ceiling:,.0f} records/s")
    print(f"produce is {ceiling / published:.1%} of the ceiling")


if __name__ == "__main__":
    main()
