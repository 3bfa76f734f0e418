"""One API process holding 500 idle realtime streams of 50 users (Redis, inline writes) still
connects a new user's stream at once and delivers its event at once.

Failed before issue 24: each stream held a thread of a 6-thread pool in a blocking read, so
with 6 streams open another user's stream took 15 s to connect and with 20 never did."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import jwt
import pytest

from streamfeed.consumers.processes import PARENT_ENV, settings_env
from tests.services import free_port, start_api_server

pytestmark = pytest.mark.integration

KEY = "idle-signing-key-0123456789abcdef0123"
SERVICE = "idle-service-key-0123456789abcdef0123"


def bearer(user: str) -> dict[str, str]:
    claims = {"sub": user, "exp": int(time.time() + 600)}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='HS256')}"}


async def hold(client: httpx.AsyncClient, user: str, opened: asyncio.Queue[str]) -> None:
    async with client.stream("GET", f"/v1/realtime/{user}", headers=bearer(user)) as stream:
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line == ": connected":
                await opened.put(user)
            await asyncio.sleep(0)


async def newcomer(base: str) -> tuple[float, float]:
    """Seconds until the new user's stream connects, then until an event published after it
    arrives."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        start = time.monotonic()
        async with client.stream("GET", "/v1/realtime/newcomer", headers=bearer("newcomer")) as stream:
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            connected = time.monotonic() - start
            body = {"actor": "ann", "verb": "love", "object": "pin:1", "to": ["notification:newcomer"]}
            published = time.monotonic()
            answer = await client.post("/v1/activities", json=body, headers={"X-Service-Key": SERVICE})
            assert answer.status_code == 202, answer.text
            async for line in lines:
                if line.startswith("event: "):
                    return connected, time.monotonic() - published
    raise AssertionError("the stream ended without an event")


async def scenario(base: str, users: int, per_user: int) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=users * per_user + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as idle:
        opened: asyncio.Queue[str] = asyncio.Queue()
        holders = [
            asyncio.create_task(hold(idle, f"idle{u}", opened)) for u in range(users) for _ in range(per_user)
        ]
        for _ in range(users * per_user):
            await asyncio.wait_for(opened.get(), 60)
        over = await idle.get("/v1/realtime/idle0", headers=bearer("idle0"))
        assert over.status_code == 429  # each of them is at the per-user cap
        try:
            return await newcomer(base)
        finally:
            for task in holders:
                task.cancel()
            await asyncio.gather(*holders, return_exceptions=True)


def test_500_idle_streams_starve_nobody(stack, isolated, tmp_path):
    port = free_port()
    settings = isolated(
        "redis",
        partitions=2,
        api_port=port,
        api_jwt_key=KEY,
        api_service_key=SERVICE,
        api_realtime_per_user=10,
    )
    env = {**os.environ, **settings_env(settings), PARENT_ENV: str(os.getpid())}
    server = start_api_server(env, tmp_path / "serve.log", "--no-access-log")
    try:
        connected, delivered = asyncio.run(scenario(f"http://127.0.0.1:{port}", users=50, per_user=10))
    finally:
        server.terminate()
        server.wait(15)
    print(f"500 idle streams open: new stream connected in {connected:.3f}s, its event in {delivered:.3f}s")
    assert connected < 1.0 and delivered < 1.0, (connected, delivered)
