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
import functools
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
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from streamfeed.consumers.dead_letters import DeadLetters
from streamfeed.consumers.log_throttle import ThrottledLog
from streamfeed.domain.exceptions import BadInput, SerializationException, StreamfeedError

log = logging.getLogger(__name__)

#: Errors that mean "storage is not there right now", not "this record is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,  # a replica was promoted: the client reconnects
    redis.exceptions.AskError,  # MOVED / ASK: slots moved in a failover; the slot map is reloaded
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
#: Exit status of a worker that gave up on an outage longer than its retry deadline (EX_TEMPFAIL).
OUTAGE_STATUS = 75


class OutageTooLong(StreamfeedError):
    """Storage stayed unavailable past the retry deadline: the worker must let its partitions go."""


class StoppedMidBatch(StreamfeedError):
    """The worker was told to stop while a batch was not yet applied."""


def crash(agent: str, error: BaseException) -> None:
    """Stop the process now, without committing: the batch in hand is applied again after restart.

    os._exit skips Faust's shutdown on purpose: a clean stop would ack and
    commit the batch whose effects are not (all) in storage.
    """
    if isinstance(error, StoppedMidBatch):
        log.warning("%s: %s; exiting without committing the batch, it is applied again", agent, error)
        status = 0
    elif isinstance(error, OutageTooLong):
        log.error("%s: %s; exiting so the group gives the partitions to a live worker", agent, error)
        status = OUTAGE_STATUS
    else:
        log.critical("%s: unexpected error, exiting without committing: %r", agent, error, exc_info=error)
        status = CRASH_STATUS
    logging.shutdown()
    sys.stderr.flush()
    os._exit(status)


class Stats:
    """Events processed per agent (lag comes from the group's committed offsets, not from here)."""

    def __init__(self) -> None:
        self.processed: dict[str, int] = defaultdict(int)
        self.retries = 0
        self.started = time.monotonic()

    def record(self, agent: str, events: Sequence[Any]) -> None:
        self.processed[agent] += len(events)


class AgentRuntime:
    """Retries storage within a deadline, dead-letters bad input, and runs the agents' batch loop.

    The deadline is shorter than the consumer's session timeout: a worker
    that cannot reach storage for that long exits, so no worker holding a
    stale batch writes after the group gave its users to another one.
    """

    def __init__(
        self,
        dead_letters: DeadLetters,
        retry_deadline: float = 8.0,
        max_backoff: float = 2.0,
        report_interval: float = 5.0,
    ) -> None:
        self.dead_letters = dead_letters
        self.retry_deadline = retry_deadline
        self.max_backoff = max_backoff
        self.stats = Stats()
        self.outage_log = ThrottledLog(log, report_interval)
        #: The worker's Readiness, told about storage outages (set by the worker).
        self.readiness: Any = None
        self._stopping: asyncio.Event | None = None

    @property
    def stopping(self) -> asyncio.Event:
        """Set when the worker is told to stop; created on first use, in the worker's loop."""
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    async def _sleep(self, seconds: float) -> None:
        """Back off, unless the worker is stopping: then give up the batch at once."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            return
        raise StoppedMidBatch("told to stop during a storage outage")

    async def storage(self, work: Callable[[], Any]) -> Any:
        """Run blocking storage work in a thread, retrying while storage is unavailable."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            wait=wait_exponential(multiplier=0.05, max=self.max_backoff),
            stop=stop_after_delay(self.retry_deadline),
            sleep=self._sleep,
            before_sleep=self._retrying,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result = await asyncio.to_thread(work)
                outcome = attempt.retry_state.outcome
                if outcome is not None and outcome.failed:  # a transient error: tenacity sleeps, tries again
                    continue
                if attempt.retry_state.attempt_number > 1:
                    log.info("storage is back after %.1fs", attempt.retry_state.seconds_since_start)
                    if self.readiness is not None:
                        self.readiness.serving()
                return result
        except TRANSIENT_ERRORS as error:
            raise OutageTooLong(
                f"storage unavailable for more than {self.retry_deadline:.0f}s: {error!r}"
            ) from error
        raise AssertionError("unreachable")

    def _retrying(self, state: Any) -> None:
        self.stats.retries += 1
        if self.readiness is not None:
            self.readiness.waiting("storage unavailable")
        self.outage_log.warning(
            "storage unavailable",
            "storage unavailable for %.1fs (%s); retrying up to %.0fs",
            state.seconds_since_start,
            state.outcome.exception(),
            self.retry_deadline,
        )

    async def consume(
        self, agent: str, stream: Any, batch_size: int, wait: float, apply: Callable[[list[Any]], Any]
    ) -> None:
        """The loop of every agent: take a batch, apply it, and never let Faust ack a batch not applied.

        Faust acks a batch in take_events' finally, which also runs when the
        body raises or is cancelled; so anything but success ends the process
        before that finally can run (crash-only).
        """
        async for events in stream.take_events(batch_size, within=wait):
            try:
                await apply(events)
            except asyncio.CancelledError:
                crash(agent, StoppedMidBatch("stopped while applying a batch"))
            except Exception as error:
                crash(agent, error)

    async def process(
        self,
        agent: str,
        events: Sequence[Any],
        decode: Callable[[bytes], Any],
        handle: Callable[[Any], Any],
        handle_all: Callable[[list[Any]], list[Any] | None] | None = None,
    ) -> list[Any]:
        """Decode and handle a batch; returns handle's results for the events that succeeded.

        handle_all, if given, handles the whole batch at once and returns the
        results (or None); if it fails on bad input, events are retried one by
        one with handle.
        """
        decoded, pending = [], []
        for event in events:
            try:
                decoded.append((event, decode(event.value)))
            except Exception as error:  # every decode failure is a bad record
                pending.append(await self.dead_letters.send(event.message, error))
        try:
            if handle_all is not None:
                results = await self.storage(lambda: handle_all([item for _, item in decoded])) or []
            else:
                results = await self.storage(lambda: [handle(item) for _, item in decoded])
        except BAD_INPUT as error:
            log.warning("%s: bad input in a batch (%s); applying event by event", agent, error)
            results = []
            for event, item in decoded:
                try:
                    results.append(await self.storage(functools.partial(handle, item)))
                except BAD_INPUT as bad:
                    pending.append(await self.dead_letters.send(event.message, bad))
        if pending:
            await asyncio.gather(*pending)
        self.stats.record(agent, events)
        return results
