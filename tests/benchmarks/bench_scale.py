"""Scale-out figures on the local stack: throughput with 1, 2 and 4 workers, and how long
partitions take to move when a worker joins or leaves.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_scale [--events 20000] [--workers 1 2 4]

For each worker count, a fresh uniform world (bench_rebuild's: users who
follow a few others each, so the figure is the pipeline's and not one hot
key's) on 8 partitions: follows first, then activities (adds and some
removals), timed from the first activity sent to the group's lag 0 (from
its committed offsets). Be honest about the machine: on 2 cores, workers
beyond 2 share the same CPUs as each other, Kafka and Redis.

Rebalance: one worker owns every partition, a second starts: seconds until
both hold partitions and the group is stable; then one stops (SIGTERM):
seconds until the other holds all of them again.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from streamfeed.consumers.processes import WorkerProcess, wait_until_drained
from streamfeed.demo.run import kafka_settings
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.ops.status import group_status
from streamfeed.ops.teardown import remove_run
from tests.benchmarks.bench_rebuild import uniform_world

PARTITIONS = 8


def throughput(events: int, workers: int, logs: Path) -> tuple[float, int]:
    """Activity events per second through `workers` workers; and how many."""
    world = uniform_world(2_000, events, seed=7)
    settings = kafka_settings(partitions=PARTITIONS)
    create_topics(settings)
    processes = [WorkerProcess(settings, logs / f"w{workers}-{n}.log").start() for n in range(workers)]
    try:
        producer = StreamfeedProducer(settings)
        follows, *activities = world.phases
        for event in follows:
            producer.send_event(event)
        producer.flush(300)
        wait_until_drained(settings, timeout=900, workers=processes)
        started = time.monotonic()
        sent = 0
        for phase in activities:
            for event in phase:
                producer.send_event(event)
                sent += 1
            producer.flush(300)
            wait_until_drained(settings, timeout=1800, workers=processes)
        return sent / (time.monotonic() - started), sent
    finally:
        for process in processes:
            process.stop()
        remove_run(settings)


def holders(settings) -> list[int]:
    """How many partitions each member of a stable group holds (empty while rebalancing)."""
    status = group_status(settings, timeout=5)
    if status.state != "stable":
        return []
    return sorted(len(m.partitions) for m in status.members)


def wait_for(settings, wanted: list[int], timeout: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if holders(settings) == wanted:
                return time.monotonic() - started
        except Exception:  # the group is being described while it changes: ask again
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the group never reached {wanted}")


def rebalance(logs: Path) -> tuple[float, float]:
    settings = kafka_settings(partitions=PARTITIONS)
    create_topics(settings)
    topics = len(TopicNames.from_settings(settings).consumed)  # the inputs and both feed-ops lanes
    first = WorkerProcess(settings, logs / "r1.log").start()
    second = None
    try:
        wait_for(settings, [topics * PARTITIONS])
        second = WorkerProcess(settings, logs / "r2.log").start()
        joined = wait_for(settings, [topics * PARTITIONS // 2] * 2)
        started = time.monotonic()
        second.stop()
        wait_for(settings, [topics * PARTITIONS])
        left = time.monotonic() - started
        return joined, left
    finally:
        first.stop()
        if second is not None and second.running:
            second.stop()
        remove_run(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="streamfeed-bench-scale-") as folder:
        logs = Path(folder)
        base = None
        for workers in args.workers:
            rate, sent = throughput(args.events, workers, logs)
            base = base or rate
            print(
                f"{workers} worker(s): {rate:,.0f} activity events/s end to end "
                f"({sent:,} events; x{rate / base:.2f} of the first)"
            )
        joined, left = rebalance(logs)
        print(f"a worker joins: partitions split in {joined:.1f} s (includes the new process's start-up)")
        print(f"a worker leaves (SIGTERM): the other holds everything again in {left:.1f} s")


if __name__ == "__main__":
    main()
