"""Every realtime stream of an API process reads its user's log through one XREAD.

Failed before: each stream blocked in an XREAD of its own, holding a Redis
connection for as long as it was open (1,000 idle streams, 1,000
connections per API process)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import redis

from streamfeed.settings import get_settings
from streamfeed.storage.redis import _async_twin, redis_client
from streamfeed.storage.redis_realtime import SharedStreamReader

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(redis_client):
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    keys = list(redis_client.scan_iter(f"{prefix}*"))
    if keys:
        redis_client.delete(*keys)


def append(client: redis.Redis, key: str, n: int) -> str:
    return client.xadd(key, {"data": json.dumps({"type": "counts", "n": n})}).decode()


def connections(client: redis.Redis) -> int:
    return len(client.client_list())


async def run_with_reader(prefix: str, body):
    sync = redis_client(get_settings().redis_url)
    reader = SharedStreamReader(_async_twin(sync), prefix)
    try:
        return await body(reader, sync)
    finally:
        await reader.close()
        await reader._client.aclose()
        sync.close()


def test_two_hundred_waiting_streams_hold_no_connection_each(prefix):
    async def body(reader: SharedStreamReader, sync: redis.Redis):
        before = connections(sync)
        keys = [f"{prefix}realtime:{{u{n}}}" for n in range(200)]
        reads = [asyncio.create_task(reader.read(key, "0-0", 20)) for key in keys]
        await asyncio.sleep(0.5)
        held = connections(sync) - before
        pipe = sync.pipeline(transaction=False)
        for n, key in enumerate(keys):
            pipe.xadd(key, {"data": json.dumps({"type": "counts", "n": n})})
        pipe.execute()
        got = await asyncio.wait_for(asyncio.gather(*reads), 10)
        return held, got

    held, got = asyncio.run(run_with_reader(prefix, body))
    assert held <= 2, f"200 waiting streams hold {held} Redis connections"
    assert [[data["n"] for _, data in events] for events in got] == [[n] for n in range(200)]


def test_a_stream_that_joins_an_xread_in_flight_hears_at_once(prefix):
    async def body(reader: SharedStreamReader, sync: redis.Redis):
        first = asyncio.create_task(reader.read(f"{prefix}realtime:{{a}}", "0-0", 20))
        await asyncio.sleep(0.3)  # the shared XREAD blocks, without b's log
        late = f"{prefix}realtime:{{b}}"
        joined = asyncio.create_task(reader.read(late, "0-0", 20))
        await asyncio.sleep(0.1)
        start = time.monotonic()
        append(sync, late, 7)
        events = await asyncio.wait_for(joined, 10)
        first.cancel()
        return events, time.monotonic() - start

    events, seconds = asyncio.run(run_with_reader(prefix, body))
    assert [data["n"] for _, data in events] == [7]
    assert seconds < 1, f"the event took {seconds:.2f} s, the XREAD was not woken"


def test_streams_of_one_user_each_get_what_is_after_their_own_cursor(prefix):
    async def body(reader: SharedStreamReader, sync: redis.Redis):
        key = f"{prefix}realtime:{{ann}}"
        ids = [append(sync, key, n) for n in range(3)]
        behind = reader.read(key, ids[0], 5)
        current = asyncio.create_task(reader.read(key, ids[2], 5))
        got_behind = await behind
        await asyncio.sleep(0.1)
        append(sync, key, 3)
        return got_behind, await current

    behind, current = asyncio.run(run_with_reader(prefix, body))
    assert [data["n"] for _, data in behind] == [1, 2]
    assert [data["n"] for _, data in current] == [3]


def test_a_quiet_log_returns_nothing_when_the_wait_ends_and_a_cancelled_read_leaves(prefix):
    async def body(reader: SharedStreamReader, sync: redis.Redis):
        start = time.monotonic()
        quiet = await reader.read(f"{prefix}realtime:{{q}}", "0-0", 0.3)
        waited = time.monotonic() - start
        cancelled = asyncio.create_task(reader.read(f"{prefix}realtime:{{c}}", "0-0", 10))
        await asyncio.sleep(0.1)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        return quiet, waited, dict(reader._waiters)

    quiet, waited, left = asyncio.run(run_with_reader(prefix, body))
    assert quiet == []
    assert 0.25 < waited < 2
    assert left == {}


def test_an_unreachable_server_ends_the_waiting_streams_with_its_error(prefix):
    async def body() -> BaseException | list:
        reader = SharedStreamReader(redis.asyncio.Redis(port=1, socket_connect_timeout=1), prefix)
        try:
            return await reader.read(f"{prefix}realtime:{{x}}", "0-0", 5)
        except redis.exceptions.ConnectionError as error:
            return error

    outcome = asyncio.run(body())
    assert isinstance(outcome, redis.exceptions.ConnectionError)
