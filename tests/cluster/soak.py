"""The soak: steady traffic for an hour on the cluster stack while workers are SIGKILLed, brokers
restarted and Redis masters failed over, reporting every minute what the long-lived workers hold.

    deploy/local/stack up --cluster
    .venv/bin/python -m tests.cluster.soak [--minutes 60] [--rate 40] [--every 300]

Not in CI (it runs for the length asked). Every `every` seconds the next
disruption of the cycle happens: SIGKILL of worker 0 (restarted at once),
SIGKILL and restart of the broker leading the most partitions, SIGKILL of a
Redis master (its replica promoted, the old master back as a replica).
Workers 1.. are never killed: their resident memory and open descriptors,
printed every minute, must stay flat. At the end the group drains and every
feed is compared with the inline oracle: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import os
import time
from itertools import cycle
from typing import Any

from streamfeed.demo.world import generate_world
from streamfeed.kafka.topics import TopicNames
from tests.chaos.harness import Figures, Supervisor, chaos_settings, lag_or_none
from tests.chaos.scenarios import _run, applying
from tests.cluster.stack import busiest_broker, cluster_overrides, redis_masters, stack, wait_for


def resources(pid: int) -> tuple[float, int] | None:
    """(resident MiB, open descriptors) of a process, from /proc; None for one that has just
    exited (a worker that gave up on an outage, exit 75, before the supervisor restarts it)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            rss = next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), None)
        descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if rss is None else (rss / 1024, descriptors)


def soak(
    minutes: float = 60.0, rate: float = 40.0, every: float = 300.0, workers: int = 3, seed: int = 51
) -> Figures:
    events = int(minutes * 60 * rate)
    world = generate_world(users=max(200, events // 40), events=events, seed=seed)
    settings = chaos_settings("redis", partitions=6, **cluster_overrides())
    topics = TopicNames.from_settings(settings).consumed
    first_port = int(settings.redis_url.rpartition(":")[2])
    samples: list[dict[str, Any]] = []

    def kill_worker(supervisor: Supervisor) -> str:
        supervisor.workers[0].kill()
        supervisor.poll()
        return "worker 0 SIGKILLed"

    def restart_broker(supervisor: Supervisor) -> str:
        broker, led = busiest_broker(settings.kafka_bootstrap, topics)
        stack("kill", f"kafka-cluster/kafka-{broker}")
        supervisor.hold(10)
        stack("up", "kafka-cluster")
        return f"broker {broker} (leading {led}) SIGKILLed, back after 10 s"

    def fail_over_redis(supervisor: Supervisor) -> str:
        masters = redis_masters(first_port)
        victim = sorted(masters)[1]
        survivor = next(port for port in masters if port != victim)
        stack("kill", f"redis-cluster/{victim}")
        promoted = wait_for(
            lambda: victim not in redis_masters(survivor),
            f"Redis master {victim} replaced",
            60,
            supervisor.poll,
        )
        stack("up", "redis-cluster")
        return f"Redis master {victim} SIGKILLed, replica promoted in {promoted:.1f}s"

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        applying(settings, supervisor)
        start = time.monotonic()
        disruptions = cycle([kill_worker, restart_broker, fail_over_redis])
        next_minute, next_disruption = start + 60, start + every
        while "republished" not in figures.notes:  # set when the publisher is done
            supervisor.hold(1.0)
            now = time.monotonic()
            if now >= next_disruption:
                print(f"  {(now - start) / 60:5.1f} min: {next(disruptions)(supervisor)}", flush=True)
                next_disruption += every
            if now >= next_minute:
                next_minute += 60
                measured = {
                    slot: resources(w.process.pid) for slot, w in enumerate(supervisor.workers) if slot
                }
                held = {slot: found for slot, found in measured.items() if found is not None}
                samples.append(
                    {"minute": round((now - start) / 60), "held": held, "lag": lag_or_none(settings)}
                )
                shown = ", ".join(f"worker {s}: {mib:.0f} MiB {fds} fds" for s, (mib, fds) in held.items())
                print(f"  {(now - start) / 60:5.1f} min: {shown}; group lag {samples[-1]['lag']}", flush=True)
        if len(samples) >= 2:
            first, last = samples[min(4, len(samples) - 1)], samples[-1]  # after warm-up (5 min)
            figures.notes["minutes"] = last["minute"]
            figures.notes["rss MiB (minute 5 -> end)"] = {
                s: f"{first['held'][s][0]:.0f} -> {last['held'][s][0]:.0f}"
                for s in last["held"]
                if s in first["held"]
            }
            figures.notes["fds (minute 5 -> end)"] = {
                s: f"{first['held'][s][1]} -> {last['held'][s][1]}"
                for s in last["held"]
                if s in first["held"]
            }

    return _run(
        f"soak, {minutes:.0f} min at {rate:.0f} events/s (cluster stack)",
        settings,
        world,
        workers,
        disrupt,
        minutes * 60 + 900,
        pace=1.0 / rate,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=40.0, help="events published per second")
    parser.add_argument("--every", type=float, default=300.0, help="seconds between disruptions")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    figures = soak(args.minutes, args.rate, args.every, args.workers)
    print(figures.line())
    figures.assert_clean()


if __name__ == "__main__":
    main()
