"""The API's /metrics (issue 27): requests by route template and status, latency, open streams,
429s, build info and process figures; workers export build info and process figures too.
Failed before: /metrics was a 404 and the worker had neither."""

from __future__ import annotations

import time

import jwt
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.api.auth import CallerLimits
from streamfeed.api.rate_limit import Bucket, RateLimiter
from streamfeed.consumers.metrics import WorkerMetrics
from streamfeed.storage.memory import MemoryBackend

KEY = "test-signing-key-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_the_api_counts_requests_by_route_template_and_exports_process_figures():
    limits = CallerLimits(RateLimiter(), Bucket(0.01, 2), Bucket(100, 100), Bucket(1, 5))
    client = TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, rate_limits=limits))
    headers = {"Authorization": f"Bearer {jwt.encode({'sub': 'bob', 'exp': int(time.time()) + 300}, KEY)}"}
    answers = [client.get("/v1/feeds/normal/bob", headers=headers).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert client.get("/nothing-here").status_code == 404
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    route = "/v1/feeds/{feed}/{user_id}"
    ok = ("streamfeed_api_requests_total", (("method", "GET"), ("route", route), ("status", "200")))
    refused = ("streamfeed_api_requests_total", (("method", "GET"), ("route", route), ("status", "429")))
    assert found[ok] == 2 and found[refused] == 1
    assert found[("streamfeed_api_request_seconds_count", (("route", route),))] == 3
    assert (
        found[
            ("streamfeed_api_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))
        ]
        == 1
    )
    assert not any("bob" in str(labels) for _, labels in found)  # templates, never user ids
    assert found[("streamfeed_api_streams_open", ())] == 0
    assert any(name == "streamfeed_build_info" for name, _ in found)
    assert any(name == "process_resident_memory_bytes" for name, _ in found)


def test_a_worker_exports_its_build_and_process():
    class Ready:
        ready = False

    found = samples(WorkerMetrics(Ready()).exposition().decode())
    assert any(name == "streamfeed_build_info" for name, _ in found)
    assert any(name == "process_resident_memory_bytes" for name, _ in found)


def test_the_lag_summed_over_the_workers_is_the_groups_lag():
    """Each worker exports the partitions it holds; before, each exported the whole group's
    lag, so sum() over two workers counted it twice."""

    class Ready:
        ready = True

    group = {("activities", 0): 5, ("activities", 1): 7, ("feed-ops-high", 0): 11, ("feed-ops-high", 1): 0}
    first, second = WorkerMetrics(Ready()), WorkerMetrics(Ready())
    first.held, second.held = (
        {("activities", 0), ("feed-ops-high", 1)},
        {("activities", 1), ("feed-ops-high", 0)},
    )
    total = 0.0
    for worker in (first, second):
        worker.set_lags(group)
        total += sum(
            v
            for (name, _), v in samples(worker.exposition().decode()).items()
            if name == "streamfeed_consumer_lag"
        )
    assert total == sum(group.values())
    first.held = set()  # a rebalance took its partitions: its series go
    first.set_lags(group)
    assert not [n for n, _ in samples(first.exposition().decode()) if n == "streamfeed_consumer_lag"]
