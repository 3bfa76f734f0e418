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
