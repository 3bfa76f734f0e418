"""The failover scenarios at full size: ``python -m tests.cluster [SCENARIO ...]``.

Needs the cluster stack (deploy/local/stack up --cluster). The same
scenarios run smaller in the test suite (tests/cluster/test_cluster.py).
"""

from __future__ import annotations

import sys

from tests.chaos.runner import run_scenarios
from tests.cluster import scenarios

FULL = {
    "broker-and-redis-master": lambda: scenarios.broker_and_redis_master_killed(events=5000, broker_down=15),
    "cassandra": lambda: scenarios.cassandra_cluster(events=2500),
}

if __name__ == "__main__":
    sys.exit(run_scenarios(FULL, "python -m tests.cluster", __doc__))
