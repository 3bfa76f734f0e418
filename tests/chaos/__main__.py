"""The full chaos suite: ``python -m tests.chaos [SCENARIO ...]``, figures printed per scenario.

Needs the local stack (deploy/local/stack up). The same scenarios run
shortened in the test suite (tests/chaos/test_chaos.py).
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.chaos import scenarios

FULL = {
    "kills-3": lambda: scenarios.worker_kills(kills=20, workers=3, events=3000, seed=31),
    "kills-2": lambda: scenarios.worker_kills(kills=20, workers=2, events=3600, seed=37),
    "kafka": lambda: scenarios.kafka_outage(seconds=10, events=2500),
    "cassandra": lambda: scenarios.cassandra_outage(seconds=20, events=2500),
    "redis": lambda: scenarios.redis_outage(seconds=20, events=2500),
    "bad-records": lambda: scenarios.bad_records(count=10_000, events=3000),
    "unexpected-error": lambda: scenarios.unexpected_error(events=1200),
    "oversized-copy": lambda: scenarios.oversized_copy(activities=5000),
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("scenario", nargs="*", help=f"any of {', '.join(FULL)} (default: all)")
    names = parser.parse_args().scenario or list(FULL)
    unknown = [name for name in names if name not in FULL]
    if unknown:
        parser.error(f"unknown scenarios {', '.join(unknown)}; choose from {', '.join(FULL)}")
    failed = 0
    started = time.monotonic()
    for name in names:
        figures = FULL[name]()
        print(figures.line(), flush=True)
        try:
            figures.assert_clean()
        except AssertionError as error:
            failed += 1
            print(f"  FAILED: {error}", flush=True)
    print(f"{len(names)} scenarios in {time.monotonic() - started:.0f}s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
