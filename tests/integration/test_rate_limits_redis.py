"""Rate limits shared through Redis: two API processes (two apps here) draw on one bucket per
caller, so adding processes does not multiply what one user may do."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.api.auth import CallerLimits
from streamfeed.api.rate_limit import Bucket, RedisRateLimiter
from streamfeed.settings import get_settings
from streamfeed.storage.memory import MemoryBackend

pytestmark = pytest.mark.integration
KEY = "test-signing-key-0123456789abcdef"


def test_two_processes_share_one_bucket_per_user(redis_client, unique_name) -> None:
    url = get_settings().redis_url
    apps = []
    for _ in range(2):
        limits = CallerLimits(
            RedisRateLimiter(url, f"{unique_name}:"), Bucket(0.01, 4), Bucket(100, 100), Bucket(1, 5)
        )
        apps.append(TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, rate_limits=limits)))
    headers = {"Authorization": f"Bearer {jwt.encode({'sub': 'bob', 'exp': int(time.time()) + 300}, KEY)}"}
    answers = [apps[n % 2].get("/v1/feeds/normal/bob", headers=headers).status_code for n in range(6)]
    assert answers == [200, 200, 200, 200, 429, 429]
    assert redis_client.exists(f"{unique_name}:ratelimit:user:bob")
    redis_client.delete(f"{unique_name}:ratelimit:user:bob")
