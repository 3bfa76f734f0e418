"""What every agent does around its step: decode, retry storage, dead-letter, count.

An agent takes a batch of events, decodes each (bad ones become dead
letters), runs the step for the good ones in a worker thread (storage
clients block), and waits until storage has acknowledged before the batch's
offsets may be committed. A storage outage is retried with backoff: the
agent stalls rather than losing or skipping anything. Bad input found while
applying (a ValidationError, corrupt stored data) is narrowed to the event
that caused it, which becomes a dead letter.

Anything else is a bug or a state nobody planned for, and the process is
crash-only: it logs the error and exits at once, before Faust can ack the
batch, so nothing is committed that was not applied and the restarted worker
(or the one the group hands the partitions to) applies the batch again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import redis
from cassandra import (
    CoordinationFailure,
    OperationTimedOut,
    ReadFailure,
    ReadTimeout,
    Unavailable,
    WriteFailure,
    WriteTimeout,
)
from cassandra.cluster import NoHostAvailable
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from consumers.dead_letters import DeadLetters
from pipeline.exceptions import BadInput, SerializationException

log = logging.getLogger(__name__)

#: Errors that mean "storage is not there right now", not "this record is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,  # a replica was promoted: the client reconnects
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    NoHostAvailable,
    CoordinationFailure,  # WriteFailure and ReadFailure too: replicas failed, not the record
    WriteFailure,
    ReadFailure,
    OperationTimedOut,
    Unavailable,
    ReadTimeout,
    WriteTimeout,
    ConnectionError,
    TimeoutError,
)


#: Errors that mean "this record is bad": it becomes a dead letter, the agent goes on.
BAD_INPUT: tuple[type[BaseException], ...] = (BadInput, SerializationException)

#: Exit status of a worker that stopped on an unexpected error (EX_SOFTWARE).
CRASH_STATUS = 70


def crash(agent: str, error: BaseException) -> None:
    """Stop the process now, without committing: the batch in hand is applied again after restart."""
    log.critical("%s: unexpected error, exiting without committing: %r", agent, error, exc_info=error)
    logging.shutdown()
    sys.stderr.flush()
    os._exit(CRASH_STATUS)


class Stats:
    """Events processed per agent, and the last offset per partition (for lag)."""

    def __init__(self) -> None:
        self.processed: dict[str, int] = defaultdict(int)
        self.last_offsets: dict[Any, int] = {}
        self.started = time.monotonic()

    def record(self, agent: str, events: Sequence[Any]) -> None:
        self.processed[agent] += len(events)
        for event in events:
            self.last_offsets[event.message.tp] = event.message.offset


class AgentRuntime:
    def __init__(self, dead_letters: DeadLetters, max_backoff: float = 10.0) -> None:
        self.dead_letters = dead_letters
        self.max_backoff = max_backoff
        self.stats = Stats()

    async def storage(self, work: Callable[[], Any]) -> Any:
        """Run blocking storage work in a thread, retrying while storage is unavailable."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            wait=wait_exponential(multiplier=0.1, max=self.max_backoff),
            before_sleep=lambda state: log.warning(
                "storage unavailable (%s); retrying in %.1fs",
                state.outcome.exception(),
                state.next_action.sleep,
            ),
            reraise=True,
        ):
            with attempt:
                return await asyncio.to_thread(work)
        raise AssertionError("unreachable")

    async def process(
        self,
        agent: str,
        events: Sequence[Any],
        decode: Callable[[bytes], Any],
        handle: Callable[[Any], Any],
        handle_all: Callable[[list[Any]], None] | None = None,
    ) -> list[Any]:
        """Decode and handle a batch; returns handle's results for the events that succeeded.

        handle_all, if given, handles the whole batch at once (results are then
        not collected); if it fails, events are retried one by one with handle.
        """
        decoded, pending = [], []
        for event in events:
            try:
                decoded.append((event, decode(event.value)))
            except Exception as error:  # every decode failure is a bad record
                pending.append(await self.dead_letters.send(event.message, error))
        try:
            if handle_all is not None:
                await self.storage(lambda: handle_all([item for _, item in decoded]))
                results = []
            else:
                results = await self.storage(lambda: [handle(item) for _, item in decoded])
        except BAD_INPUT as error:
            log.warning("%s: bad input in a batch (%s); applying event by event", agent, error)
            results = []
            for event, item in decoded:
                try:
                    results.append(await self.storage(lambda item=item: handle(item)))
                except BAD_INPUT as bad:
                    pending.append(await self.dead_letters.send(event.message, bad))
        if pending:
            await asyncio.gather(*pending)
        self.stats.record(agent, events)
        return results
