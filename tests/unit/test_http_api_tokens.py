"""Tokens and the edges of every answer under hostile clients (issue 24): weak keys, tokens
that live too long or come from elsewhere, tokens in logs, headers, and /docs switched off.
Each failed on the code before: a 1-character key started, a token expiring in 2999 passed,
`iss` was never checked, the query-string token reached the access log, no headers were set."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.api.auth import WeakKey
from streamfeed.api.hardening import RedactTokens
from streamfeed.storage.memory import MemoryBackend

KEY = "test-signing-key-0123456789abcdef"


def bearer(claims: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='HS256')}"}


def app(**options) -> TestClient:
    return TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, **options))


def test_a_short_key_refuses_to_start_with_one_line() -> None:
    with pytest.raises(WeakKey):
        create_app(Manager(MemoryBackend()), jwt_key="k")
    env = {**os.environ, "STREAMFEED_API_JWT_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "-m", "streamfeed.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: STREAMFEED_API_JWT_KEY: must be at least 32 bytes (a random key: openssl rand -hex 32)"
    ]


def test_a_token_living_longer_than_allowed_is_refused() -> None:
    client = app(token_max_seconds=3600)
    good = bearer({"sub": "bob", "exp": int(time.time()) + 600})
    forever = bearer({"sub": "bob", "exp": 32503680000})  # the year 3000
    assert client.get("/v1/feeds/normal/bob", headers=good).status_code == 200
    refused = client.get("/v1/feeds/normal/bob", headers=forever)
    assert refused.status_code == 401 and "STREAMFEED_API_TOKEN_MAX_SECONDS" in refused.json()["detail"]


def test_issuer_and_audience_are_checked_when_configured() -> None:
    client = app(jwt_issuer="https://auth.example", jwt_audience="feeds")
    exp = int(time.time()) + 600
    right = bearer({"sub": "bob", "exp": exp, "iss": "https://auth.example", "aud": "feeds"})
    assert client.get("/v1/feeds/normal/bob", headers=right).status_code == 200
    for claims in (
        {"sub": "bob", "exp": exp},
        {"sub": "bob", "exp": exp, "iss": "https://evil.example", "aud": "feeds"},
        {"sub": "bob", "exp": exp, "iss": "https://auth.example", "aud": "other"},
    ):
        assert client.get("/v1/feeds/normal/bob", headers=bearer(claims)).status_code == 401


def test_the_query_string_token_never_reaches_a_log_line() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/realtime/bob?access_token=eyJhbGciOi.secret.part&x=1", "1.1", 200), None,
    )  # fmt: skip
    RedactTokens().filter(record)
    assert "secret" not in record.getMessage() and "access_token=[redacted]&x=1" in record.getMessage()
    app()  # creating the API installs the filter where uvicorn logs requests
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("uvicorn.access").filters)


def test_every_answer_carries_security_headers_and_docs_can_be_switched_off() -> None:
    client = app()
    answer = client.get("/v1/feeds/normal/bob")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert client.get("/openapi.json").status_code == 200
    closed = app(docs=False)
    assert closed.get("/openapi.json").status_code == 404 and closed.get("/docs").status_code == 404


def test_the_token_command_mints_what_the_api_accepts() -> None:
    env = {**os.environ, "STREAMFEED_API_JWT_KEY": KEY, "STREAMFEED_API_TOKEN_MAX_SECONDS": "7200"}
    command = [sys.executable, "-m", "streamfeed.cli", "token", "bob", "--seconds", "600"]
    minted = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert minted.returncode == 0, minted.stderr
    client = app(token_max_seconds=7200)
    headers = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    assert client.get("/v1/feeds/normal/bob", headers=headers).status_code == 200
    too_long = subprocess.run([*command[:-1], "9000"], env=env, capture_output=True, text=True, timeout=60)
    assert too_long.returncode == 2 and "STREAMFEED_API_TOKEN_MAX_SECONDS" in too_long.stderr
