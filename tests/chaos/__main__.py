"""The full chaos suite: ``python -m tests.chaos [SCENARIO ...]``, figures printed per scenario.

Needs the local stack (deploy/local/stack up). The same scenarios run
shortened in the test suite (tests/chaos/test_chaos.py).
"""

from __future__ import annotations

import sys

from tests.chaos import scenarios
from tests.chaos.runner import run_scenarios

FULL = {
    "kills-3": lambda: scenarios.worker_kills(kills=20, workers=3, events=3000, seed=31),
    "kills-2": lambda: scenarios.worker_kills(kills=20, workers=2, events=3600, seed=37),
    "kills-static": lambda: scenarios.worker_kills(kills=20, workers=3, events=3000, seed=31, static=True),
    "network": lambda: scenarios.network_faults(events=2500),
    "cassandra-network": lambda: scenarios.cassandra_network_faults(events=2500),
    "poison": lambda: scenarios.poison_records(poisoned=5, events=3000),
    "kafka": lambda: scenarios.kafka_outage(seconds=10, events=2500),
    "cassandra": lambda: scenarios.cassandra_outage(seconds=20, events=2500),
    "redis": lambda: scenarios.redis_outage(seconds=20, events=2500),
    "storage-lost": lambda: scenarios.storage_lost_rebuilt(events=3000),
    "bad-records": lambda: scenarios.bad_records(count=10_000, events=3000),
    "unexpected-error": lambda: scenarios.unexpected_error(events=1200),
    "oversized-copy": lambda: scenarios.oversized_copy(activities=5000),
}


if __name__ == "__main__":
    sys.exit(run_scenarios(FULL, "python -m tests.chaos", __doc__))
