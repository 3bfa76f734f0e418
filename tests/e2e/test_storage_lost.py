"""A worker whose storage lost its data (a Redis restarted empty, a failover to an empty replica)
refuses to write into it, says so, and waits for a rebuild or an operator's claim.

Failed before issue 25: the worker wrote on into the empty storage and committed, and every
feed silently lost its history."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streamfeed.consumers.processes import settings_env, wait_until_drained
from streamfeed.demo.world import generate_world
from streamfeed.kafka.lag import group_lag
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.storage.redis import redis_client
from tests.e2e.test_worker_metrics import get, series, wait_for
from tests.services import free_port

pytestmark = pytest.mark.integration


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings_env(settings)}
    command = [sys.executable, "-m", "streamfeed.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def wipe(settings) -> None:
    """What a Redis restarted without persistence holds of this deployment: nothing."""
    client = redis_client(settings.redis_url)
    keys = list(client.scan_iter(f"{settings.redis_prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def publish(settings, world) -> None:
    producer = StreamfeedProducer(settings)
    for phase in world.phases:
        for event in phase:
            producer.send_event(event)
    producer.flush()


def test_a_worker_refuses_to_write_into_storage_that_lost_its_data(stack, isolated, worker_factory):
    port = free_port()
    settings = isolated("redis", partitions=2, metrics_port=port, stats_interval=1.0)
    create_topics(settings)
    worker = worker_factory(settings)
    publish(settings, generate_world(users=20, events=150, seed=8))
    wait_until_drained(settings, timeout=120, workers=[worker])
    assert cli(settings, "storage", "show").returncode == 0

    wipe(settings)
    publish(settings, generate_world(users=20, events=150, seed=9))
    status, reason = wait_for(lambda: (r := get(port, "/readyz")) and r[0] == 503 and r)
    assert reason.strip() == "storage lost"
    assert series(port)[("streamfeed_storage_lost", ())] == 1.0
    lag = group_lag(settings)
    assert lag, "the worker committed batches into the lost storage"
    report = cli(settings, "status")
    assert report.returncode == 1
    assert "LOST" in report.stdout and "streamfeed rebuild --switch" in report.stdout

    # A worker starting now waits too, before it joins the group.
    port2 = free_port()
    second = worker_factory(settings.model_copy(update={"metrics_port": port2}), name="second")
    status, reason = wait_for(lambda: (r := get(port2, "/readyz")) and "storage" in r[1] and r)
    assert status == 503 and "waiting for storage holding this group's data" in reason
    assert group_lag(settings) >= lag  # still nothing committed

    # The operator accepts the storage as it is: both go on, and the group drains.
    claimed = cli(settings, "storage", "claim", "--yes")
    assert claimed.returncode == 0 and claimed.stdout.startswith("claimed: "), claimed.stdout
    wait_until_drained(settings, timeout=120, workers=[worker, second])
    assert series(port)[("streamfeed_storage_lost", ())] == 0.0
    wait_for(lambda: get(port, "/readyz")[0] == 200)
