"""The cluster tests need the cluster stack (`deploy/local/stack up --cluster`)."""

from __future__ import annotations

import pytest

from tests.cluster.stack import cluster_overrides
from tests.services import Service


@pytest.fixture(scope="session")
def cluster_stack() -> dict:
    """The cluster stack's settings; fails under CI (skips elsewhere) unless its nodes answer."""
    overrides = cluster_overrides()
    for address in overrides["kafka_bootstrap"].split(","):
        host, _, port = address.rpartition(":")
        Service("kafka-cluster", host, int(port)).require()
    for host in overrides["cassandra_hosts"]:
        Service("cassandra-cluster", host, 9042).require()
    port = int(overrides["redis_url"].rpartition(":")[2])
    Service("redis-cluster", "127.0.0.1", port).require()
    return overrides
