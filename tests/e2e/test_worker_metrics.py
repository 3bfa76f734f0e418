"""A running worker's /metrics, /healthz and /readyz, as Prometheus and Kubernetes see them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamfeed.consumers.processes import settings_env, wait_until_drained
from streamfeed.demo.world import generate_world
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, create_topics
from tests.services import free_port

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (ConnectionError, urllib.error.URLError):
        return 0, ""


def series(port: int) -> dict[tuple[str, tuple], float]:
    status, text = get(port, "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_readiness_liveness_and_moving_series(stack, isolated, worker_factory):
    port = free_port()
    settings = isolated("redis", partitions=2, metrics_port=port, stats_interval=1.0)
    worker = worker_factory(settings)  # before the topics exist: alive, not ready, and why
    wait_for(lambda: get(port, "/healthz")[0] == 200)
    status, reason = wait_for(lambda: (r := get(port, "/readyz")) and "topics" in r[1] and r)
    assert status == 503 and reason.startswith("waiting for the pipeline's topics")
    create_topics(settings)
    wait_for(lambda: get(port, "/readyz")[0] == 200)

    producer = StreamfeedProducer(settings)
    world = generate_world(users=30, events=300, seed=5)
    for phase in world.phases:
        for event in phase:
            producer.send_event(event)
        producer.flush()
        wait_until_drained(settings, timeout=120, workers=[worker])
    wait_for(lambda: _lags_settled(port))  # the stats timer saw the group caught up
    found = series(port)
    processed = {
        labels: value
        for (name, labels), value in found.items()
        if name == "streamfeed_events_processed_total"
    }
    assert processed[(("agent", "fanout"),)] == sum(1 for e in world.events if hasattr(e, "activity"))
    assert processed[(("agent", "materialize_high"),)] > 0
    lags = {labels: v for (name, labels), v in found.items() if name == "streamfeed_consumer_lag"}
    consumed = TopicNames.from_settings(settings).consumed  # the inputs and both feed-ops lanes
    assert len(lags) == len(consumed) * settings.partitions
    timed = [labels for (name, labels) in found if name == "streamfeed_storage_call_seconds_count"]
    assert (("backend", "redis"), ("operation", "timelines.add_batches")) in timed
    assert found[("streamfeed_fanout_recipients_count", ())] == processed[(("agent", "fanout"),)]
    assert found[("streamfeed_publish_to_visible_seconds_count", ())] > 0
    assert found[("streamfeed_ready", ())] == 1.0
    assert get(port, "/nothing")[0] == 404

    # `streamfeed status`: the member, what it holds, the lag per topic, the dead letters.
    env = {**os.environ, **settings_env(settings)}
    run = subprocess.run(
        [sys.executable, "-m", "streamfeed.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"group {settings.app_id}: stable, 1 members"
    held = lines[1].split(": ", 1)[1].split(", ")
    assert len(held) == len(consumed) * settings.partitions  # every partition of every topic it consumes
    assert f"lag {settings.topic_prefix}activities: 0" in lines
    assert f"lag {settings.topic_prefix}feed-ops-high: 0" in lines
    assert "dead letters: 0" in lines
    assert lines[-1].startswith("storage: redis, identity ")


def _lags_settled(port: int) -> dict | None:
    lags = {labels: v for (name, labels), v in series(port).items() if name == "streamfeed_consumer_lag"}
    return lags if lags and all(v == 0 for v in lags.values()) else None
