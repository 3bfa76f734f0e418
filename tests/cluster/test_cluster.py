"""The cluster stack (`deploy/local/stack up --cluster`) surviving the loss of a node.

Run apart from the main suite (`pytest -m cluster`), after the cluster stack
is up; CI does both. Every scenario compares every feed with the inline
oracle: 0 lost, 0 duplicated, 0 unexpected, no feed different.
"""

from __future__ import annotations

import pytest

from tests.cluster import scenarios

pytestmark = pytest.mark.cluster


def test_a_killed_broker_and_a_killed_redis_master_lose_and_duplicate_nothing(cluster_stack, report):
    figures = report(scenarios.broker_and_redis_master_killed(events=1500))
    # A failover is an outage, never an unexpected error: at most a worker that waited past its
    # retry deadline exits with 75 (a crash, 70, is a bug: MOVED replies once crashed one).
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes
    assert "promoted" in figures.notes["redis master killed"]
    # Every disruption ran to its end: the broker came back and caught up, the old master rejoined.
    assert {"broker killed", "restarted broker in sync"} <= figures.notes.keys(), figures.notes


def test_feeds_in_a_two_node_cassandra_cluster_equal_the_oracle(cluster_stack, report):
    figures = report(scenarios.cassandra_cluster(events=800))
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes
    replication = figures.notes["replication"]
    assert replication["replication_factor"] == "2", replication
    assert replication["nodes up"] == "2", replication
