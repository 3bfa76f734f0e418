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


def test_a_caller_reading_every_few_seconds_spends_its_lease_instead_of_calling_redis(
    redis_client, unique_name
) -> None:
    """Leases lapsed after 1 s: a user reading every few seconds (most users) cost a Redis call
    per request, a tenth of a page read's time. Tokens leased stay spendable, and the shared
    bucket still holds only what was not leased."""
    import asyncio

    limiter = RedisRateLimiter(get_settings().redis_url, f"{unique_name}:")
    key = f"{unique_name}:ratelimit:user:ann"
    bucket = Bucket(50, 200)

    async def take_spaced() -> list[bytes | None]:
        stamps = []
        for _ in range(3):
            await limiter.take("user:ann", bucket)
            stamps.append(redis_client.hget(key, "t"))
            await asyncio.sleep(1.2)
        return stamps

    stamps = asyncio.run(take_spaced())
    assert stamps[0] is not None and stamps == [stamps[0]] * 3  # one Redis take for three reads
    assert float(redis_client.hget(key, "v")) == 200 - 8  # the lease, taken once
    redis_client.delete(key)
