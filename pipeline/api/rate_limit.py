"""Token buckets per caller: a user, a service key, or (for failed sign-ins) a client address.

A bucket holds `burst` requests and refills at `rate` a second; a request
that finds it empty is a 429 with Retry-After. With Redis the buckets are
shared by every API process (one Lua script call, Redis's own clock, so
processes on other machines agree); otherwise each process keeps its own.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from dataclasses import dataclass
from typing import Any

import redis.asyncio

from streamfeed.api.problems import Problem


@dataclass(frozen=True)
class Bucket:
    rate: float  # requests a second, refilled continuously
    burst: int  # requests at once


#: Takes up to ARGV[3] tokens: returns "granted:N" (N >= 1), or "wait:SECONDS" until one is there.
_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 't', 'v')
local last, tokens = tonumber(held[1]) or now, tonumber(held[2]) or burst
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
if tokens < 1 then return 'wait:' .. tostring((1 - tokens) / rate) end
local granted = math.min(want, math.floor(tokens))
redis.call('HSET', KEYS[1], 't', tostring(now), 'v', tostring(tokens - granted))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return 'granted:' .. tostring(granted)
"""
#: Tokens a process takes from Redis at once and spends locally: an eighth of the round trips,
#: at the cost of a process holding at most this many unspent. LEASE_SECONDS of refill at most,
#: so a slow bucket leases one at a time and stays exact.
LEASE = 8
LEASE_SECONDS = 1.0
#: How long unspent leased tokens stay spendable. They were taken from the shared bucket, so
#: keeping them longer never lets a caller exceed the limit; a lapse only wastes them. A short
#: life made a caller reading every few seconds (most users) cost a Redis call per request.
LEASE_LIFE_SECONDS = 60.0


class RateLimiter:
    """In-process buckets (one API process, or storage without Redis)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[float, float]] = {}

    async def wait_needed(self, key: str, bucket: Bucket) -> float:
        now = time.monotonic()
        last, tokens = self._held.get(key, (now, float(bucket.burst)))
        tokens = min(bucket.burst, tokens + (now - last) * bucket.rate)
        if tokens < 1:
            return (1 - tokens) / bucket.rate
        self._held[key] = (now, tokens - 1)
        if len(self._held) > 100_000:  # full buckets are the default: forget the oldest half
            for old in sorted(self._held, key=lambda k: self._held[k][0])[:50_000]:
                del self._held[old]
        return 0.0

    async def take(self, key: str, bucket: Bucket) -> None:
        """Take one request from the key's bucket, or refuse with a 429 saying when to retry."""
        wait = await self.wait_needed(key, bucket)
        if wait > 0:
            retry = {"Retry-After": str(math.ceil(wait))}
            raise Problem(429, "Too many requests", f"slow down: retry in {wait:.1f} s", headers=retry)


class RedisRateLimiter(RateLimiter):
    """Buckets in Redis under `<prefix>ratelimit:<key>`, shared by every API process."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._scripts: dict[Any, Any] = {}
        #: Tokens taken from Redis and not spent yet, by key, and until when they may be spent.
        self._leases: dict[str, tuple[int, float]] = {}

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # A burst of requests waits for one of a bounded set of connections instead of
            # failing when redis-py's default pool of 100 is in use.
            if self.url.startswith("redis+cluster://"):
                plain = "redis://" + self.url.removeprefix("redis+cluster://")
                client = redis.asyncio.RedisCluster.from_url(plain, max_connections=10_000)
            else:
                pool = redis.asyncio.BlockingConnectionPool.from_url(self.url, max_connections=64, timeout=10)
                client = redis.asyncio.Redis(connection_pool=pool)
            self._clients[loop] = client
        return client

    async def wait_needed(self, key: str, bucket: Bucket) -> float:
        now = time.monotonic()
        held, until = self._leases.get(key, (0, 0.0))
        if held > 0 and now < until:
            self._leases[key] = (held - 1, until)
            return 0.0
        want = max(1, min(LEASE, bucket.burst // 10, int(bucket.rate * LEASE_SECONDS)))
        client = self._client()
        script = self._scripts.get(client)
        if script is None:  # EVALSHA: the script's body crosses the network once, not per request
            script = self._scripts[client] = client.register_script(_TAKE)
        found = await script(keys=[f"{self.prefix}ratelimit:{key}"], args=[bucket.rate, bucket.burst, want])
        kind, _, value = found.decode().partition(":")
        if kind == "wait":
            return float(value)
        self._leases[key] = (int(value) - 1, now + LEASE_LIFE_SECONDS)
        if len(self._leases) > 100_000:  # past the lapsed ones, forget all: they are only spares
            self._leases = {k: v for k, v in self._leases.items() if v[1] > now}
            if len(self._leases) > 50_000:
                self._leases = {}
        return 0.0
