"""Rate limits per caller (issue 24): before, 300 bad-token requests in a row were all answered
and nothing bounded one user's rate."""

from __future__ import annotations

import time

import jwt
from fastapi.testclient import TestClient

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.api.auth import CallerLimits
from streamfeed.api.rate_limit import Bucket, RateLimiter
from streamfeed.storage.memory import MemoryBackend

KEY = "test-signing-key-0123456789abcdef"


def token(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode({'sub': user, 'exp': int(time.time()) + 300}, KEY)}"}


def client(user: Bucket, failed: Bucket) -> TestClient:
    limits = CallerLimits(RateLimiter(), user, Bucket(1000, 1000), failed)
    return TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, rate_limits=limits))


def test_a_user_beyond_the_burst_gets_429_with_retry_after_and_others_do_not() -> None:
    api = client(Bucket(0.5, 3), Bucket(1, 5))
    answers = [api.get("/v1/feeds/normal/bob", headers=token("bob")).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    refused = api.get("/v1/feeds/normal/bob", headers=token("bob"))
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["status"] == 429
    assert api.get("/v1/feeds/normal/ann", headers=token("ann")).status_code == 200


def test_guessing_tokens_from_one_address_is_throttled() -> None:
    api = client(Bucket(100, 100), Bucket(0.1, 10))
    bad = {"Authorization": "Bearer not-a-token"}
    answers = [api.get("/v1/feeds/normal/bob", headers=bad).status_code for _ in range(30)]
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}
