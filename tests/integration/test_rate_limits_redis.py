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


def test_a_burst_of_concurrent_requests_waits_for_connections_instead_of_failing(unique_name) -> None:
    """redis-py's default pool of 100 refused the 101st concurrent request (a 500 at the API)."""
    import asyncio

    limiter = RedisRateLimiter(get_settings().redis_url, f"{unique_name}:")

    async def burst() -> list[object]:
        takes = [limiter.take(f"user{n % 50}", Bucket(1000, 1000)) for n in range(1000)]
        return await asyncio.gather(*takes, return_exceptions=True)

    assert [r for r in asyncio.run(burst()) if r is not None] == []
