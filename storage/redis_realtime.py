"""One blocked XREAD per API process for all of its realtime streams, instead of one each.

A stream that blocked in its own XREAD held a Redis connection for as long as
it was open: 1,000 idle streams were 1,000 connections per API process (Redis
allows 10,000 clients by default) and ~70 more collector-tracked objects per
stream, which a full garbage collection walks while every request waits (it
doubled the pause). Here a stream waits on a future; one task reads the logs
of every user with a waiting stream in a single XREAD and hands each stream
the events after its own cursor. A stream whose user is not in the XREAD in
flight wakes it through a stream of this reader's own, so the XREAD starts
over with the new user at once.

A single server only: on a Redis Cluster the users' logs live in different
slots, which one XREAD cannot span (the publisher keeps a connection per
stream there).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

#: Events one XREAD hands over per user: a stream far behind gets the rest on its next turn.
READ_COUNT = 100
#: How long the shared XREAD blocks before it starts over, dropping users nobody waits for.
BLOCK_MS = 30_000
#: Seconds this reader's wake stream outlives its last wake (it dies with the process).
WAKE_TTL = 3_600

Event = tuple[str, dict[Any, Any]]


def parse_id(text: str) -> tuple[int, int]:
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


@dataclass(eq=False, slots=True)
class _Waiter:
    after: tuple[int, int]
    future: asyncio.Future[list[Event]]


class SharedStreamReader:
    """Reads users' event logs (Redis streams) for every realtime stream of one event loop.

    client: a redis.asyncio.Redis without socket timeout (the XREAD blocks);
    its pool lends one connection to the XREAD and others to the wakes.
    """

    def __init__(self, client: Any, wake_prefix: str) -> None:
        self._client = client
        self._wake_key = f"{wake_prefix}realtime:wake:{uuid.uuid4().hex}"
        self._wake_id = "0-0"
        self._waiters: dict[str, list[_Waiter]] = {}
        #: The cursors of the XREAD in flight (None: none is), to know when a new stream's
        #: user or an older cursor needs it to start over.
        self._in_flight: dict[str, tuple[int, int]] | None = None
        self._woken = False
        self._task: asyncio.Task[None] | None = None

    async def read(self, key: str, after: str, timeout: float) -> list[Event]:
        """The events of log `key` after id `after`, waiting up to `timeout` seconds for one."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(parse_id(after), loop.create_future())
        self._waiters.setdefault(key, []).append(waiter)
        expiry = loop.call_later(timeout, _expire, waiter.future)
        try:
            await self._include(key, waiter.after)
            return await waiter.future
        finally:
            expiry.cancel()
            self._forget(key, waiter)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.delete(self._wake_key)

    async def _include(self, key: str, after: tuple[int, int]) -> None:
        """Make sure an XREAD reads `key` from `after` or before: start the reading task, or
        wake the XREAD in flight if it does not."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._pump())
            return
        in_flight = self._in_flight
        if in_flight is None or self._woken:
            return  # the next XREAD is built from the waiters, this one included
        if key not in in_flight or after < in_flight[key]:
            self._woken = True
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(self._wake_key, {"w": 1}, maxlen=1)
            pipe.expire(self._wake_key, WAKE_TTL)
            await pipe.execute()

    def _forget(self, key: str, waiter: _Waiter) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[key]

    async def _pump(self) -> None:
        while self._waiters:
            cursors = {key: min(w.after for w in waiters) for key, waiters in self._waiters.items()}
            streams = {self._wake_key: self._wake_id}
            streams.update((key, f"{ms}-{seq}") for key, (ms, seq) in cursors.items())
            self._in_flight, self._woken = cursors, False
            try:
                found = await self._client.xread(streams, count=READ_COUNT, block=BLOCK_MS)
            except Exception as error:  # Redis unreachable: each stream ends, its client resumes
                self._fail_all(error)
                return
            finally:
                self._in_flight = None
            for raw_key, entries in found or ():
                self._hand_over(raw_key.decode(), entries)

    def _hand_over(self, key: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        if key == self._wake_key:
            self._wake_id = entries[-1][0].decode()
            return
        events = [(entry_id.decode(), json.loads(fields[b"data"])) for entry_id, fields in entries]
        ids = [parse_id(event_id) for event_id, _ in events]
        for waiter in list(self._waiters.get(key, ())):
            newer = [event for event, at in zip(events, ids, strict=True) if at > waiter.after]
            if newer:
                waiter.future.set_result(newer)
                self._forget(key, waiter)  # out of the next XREAD's cursors at once

    def _fail_all(self, error: Exception) -> None:
        waiting, self._waiters = self._waiters, {}
        for waiters in waiting.values():
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(error)


def _expire(future: asyncio.Future[list[Event]]) -> None:
    if not future.done():
        future.set_result([])
