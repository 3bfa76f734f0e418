"""Codec throughput for a typical activity: encodes and decodes per second on one core.

Run: taskset -c 0 .venv/bin/python -m tests.benchmarks.bench_codec [--seconds 3]

A typical activity: four ids (actor, object, target, foreign_id), a verb, a
time and an extra_context of three short strings. "encode" is what a producer
does (Activity to framed bytes), "decode" what a consumer does (framed bytes
to a record); "decode+validate" adds building the Activity from the record.
The best of several rounds is printed, so a noisy neighbour costs less.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from streamfeed.domain.activity import Activity
from streamfeed.schemas.catalog import ACTIVITY_EVENT
from streamfeed.schemas.codec import AvroCodec


def typical_event() -> dict:
    activity = Activity(
        actor="user:1302",
        verb="love",
        object="pin:4200017",
        target="board:77",
        time=datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC),
        foreign_id="love:1302:4200017",
        extra_context={"title": "Blue lagoon", "source": "web", "lang": "en"},
    )
    return {"op": "ADD", "activity": activity.to_record(), "priority": None, "published_at": None}


def rate(operation: Callable[[], object], seconds: float, rounds: int = 5) -> float:
    """Best operations per second over rounds of about seconds/rounds each."""
    best = 0.0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        deadline = start + seconds / rounds
        while True:
            for _ in range(1000):
                operation()
            count += 1000
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    codec = AvroCodec()
    event = typical_event()
    data = codec.encode(ACTIVITY_EVENT, event)
    encode = rate(lambda: codec.encode(ACTIVITY_EVENT, event), args.seconds)
    decode = rate(lambda: codec.decode(ACTIVITY_EVENT, data), args.seconds)
    validate = rate(
        lambda: Activity.from_record(codec.decode(ACTIVITY_EVENT, data)["activity"]), args.seconds
    )
    print(f"message size: {len(data)} bytes (single-object encoding)")
    print(f"encode:          {encode:>10,.0f} per second")
    print(f"decode:          {decode:>10,.0f} per second")
    print(f"decode+validate: {validate:>10,.0f} per second")


if __name__ == "__main__":
    main()
