"""`streamfeed serve`'s probes: /healthz answers, /readyz says when storage is unreachable or
lost the data it held at startup (a Redis restarted empty). Failed before issue 25 (404)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.settings import get_settings
from streamfeed.storage.memory import MemoryBackend
from streamfeed.storage.redis import RedisBackend

pytestmark = pytest.mark.integration

KEY = "test-signing-key-0123456789abcdef"


def test_memory_storage_is_always_ready() -> None:
    with TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY)) as client:
        assert client.get("/healthz").text == "ok\n"
        assert client.get("/readyz").status_code == 200


def test_readyz_says_when_redis_lost_its_data_or_does_not_answer(redis_client) -> None:
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend.from_url(get_settings().redis_url, prefix=prefix)
    backend.marker.claim("deployment-1")
    try:
        with TestClient(create_app(Manager(backend), jwt_key=KEY)) as client:
            assert client.get("/readyz").status_code == 200
            redis_client.delete(f"{prefix}storage:identity")  # what a restart without persistence leaves
            answer = client.get("/readyz")
            assert answer.status_code == 503
            assert answer.text.startswith("storage lost: its identity deployment-1 is gone")
            assert client.get("/healthz").status_code == 200  # alive: do not restart it for this
    finally:
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)
        backend.close()

    unreachable = RedisBackend.from_url("redis://127.0.0.1:1/0", prefix=prefix)
    with TestClient(create_app(Manager(unreachable), jwt_key=KEY)) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.text.startswith("storage unreachable: ConnectionError")


def test_an_inline_server_refuses_writes_into_storage_that_lost_its_data(redis_client) -> None:
    """Failed before: an inline `streamfeed serve` wrote on into a Redis restarted empty (only
    /readyz said so), filling a few feeds while every other feed had lost its history."""
    import time

    from streamfeed.api.write_guard import CHECK_EVERY

    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend.from_url(get_settings().redis_url, prefix=prefix)
    service = {"X-Service-Key": "service-key-0123456789abcdef-0123456789"}
    pin = {"actor": "ann", "verb": "add", "object": "pin:1", "time": "2026-01-01T00:00:00Z"}
    try:
        app = create_app(Manager(backend), jwt_key=KEY, service_key=service["X-Service-Key"])
        with TestClient(app) as client:
            assert backend.marker.read() is not None  # a new storage: claimed at startup
            assert client.post("/v1/activities", json=pin, headers=service).status_code == 202
            for key in redis_client.scan_iter(f"{prefix}*"):  # a restart without persistence
                redis_client.delete(key)
            time.sleep(CHECK_EVERY + 0.1)
            refused = client.post("/v1/activities", json={**pin, "object": "pin:2"}, headers=service)
            assert refused.status_code == 503, refused.text
            assert "lost its data" in refused.json()["detail"]
            assert "streamfeed rebuild --switch" in refused.json()["detail"]
            assert list(redis_client.scan_iter(f"{prefix}*")) == []  # nothing written
            follow = {"follower": "bob", "followed": "ann"}
            assert client.post("/v1/follows", json=follow, headers=service).status_code == 503
            backend.marker.claim("operator-accepted")  # `streamfeed storage claim`
            assert client.post("/v1/follows", json=follow, headers=service).status_code == 202
    finally:
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)
        backend.close()


def test_readyz_says_when_kafka_does_not_answer_in_kafka_mode() -> None:
    """`serve --kafka` publishes every write: with no broker answering it is not ready (before,
    /readyz looked at storage only and writes queued in the producer)."""
    from streamfeed.bootstrap import with_kafka

    for bootstrap, ready in (("127.0.0.1:1", False), (get_settings().kafka_bootstrap, True)):
        manager = Manager(MemoryBackend())
        with_kafka(manager, get_settings().model_copy(update={"kafka_bootstrap": bootstrap}))
        with TestClient(create_app(manager, jwt_key=KEY)) as client:
            answer = client.get("/readyz")
        if ready:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 503 and answer.text.startswith("kafka unreachable"), answer.text
