"""What every agent does around its step: decode, retry storage, dead-letter, count.

An agent takes a batch of events, decodes each (bad ones become dead
letters), runs the step for the good ones in a worker thread (storage
clients block), and waits until storage has acknowledged before the batch's
offsets may be committed. A storage outage is retried with backoff: the
agent stalls rather than losing or skipping anything. Bad input found while
applying (a ValidationError, corrupt stored data) is narrowed to the event
that caused it, which becomes a dead letter.

Any other error is narrowed the same way, record by record: a record that
fails every time (a bug in an app's feed class, a value nobody planned for)
is a poison record. It is tried worker_poison_attempts times, its count kept
in storage (storage.base.FailureLedger) so restarts are bounded too, then
dead-lettered with the error and where it was raised, and the partition goes
on. Records failing in a row (worker_poison_streak, 100, across batches) are
a bug, not bad records: the worker exits instead of dead-lettering the topic.

When the worker exits (that bug, an outage past the retry deadline, a stop
mid-batch), it exits at once, before Faust can ack the batch, so nothing is
committed that was not applied or dead-lettered, and the restarted worker (or
the one the group hands the partitions to) applies the batch again.
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
from dataclasses import dataclass
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

from streamfeed.consumers.applied_offsets import AppliedOffsets
from streamfeed.consumers.dead_letters import DeadLetters
from streamfeed.consumers.log_throttle import ThrottledLog
from streamfeed.consumers.storage_guard import GenerationMoved, StorageGuard, StorageLost
from streamfeed.consumers.transport import attach_commit_guard
from streamfeed.domain.exceptions import BadInput, SerializationException, StreamfeedError
from streamfeed.storage.base import FailureLedger
from streamfeed.storage.memory import MemoryFailureLedger

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


class FailingInARow(StreamfeedError):
    """Many records in a row failed unexpectedly: a bug or a broken deployment, not bad records;
    the worker stops rather than dead-letter everything."""


#: What ends a batch's processing at once: never narrowed to a record, never a dead letter.
STOPS_THE_BATCH: tuple[type[BaseException], ...] = (OutageTooLong, StoppedMidBatch, FailingInARow)

#: Seconds between the tries of a record that failed unexpectedly (then the last one repeats).
POISON_BACKOFF = (0.1, 0.5, 1.0)


def crash(agent: str, error: BaseException) -> None:
    """Stop the process now, without committing: the batch in hand is applied again after restart.

    os._exit skips Faust's shutdown on purpose: a clean stop would ack and
    commit the batch whose effects are not (all) in storage.
    """
    if isinstance(error, StoppedMidBatch):
        log.warning("%s: %s; exiting without committing the batch, it is applied again", agent, error)
        status = 0
    elif isinstance(error, GenerationMoved):
        log.warning("%s: %s; exiting to be restarted onto it", agent, error)
        status = OUTAGE_STATUS
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
        failures: Callable[[], FailureLedger] | None = None,
        group: str = "streamfeed",
        poison_attempts: int = 3,
        poison_streak: int = 100,
        durable: Callable[[], None] | None = None,
        guard: StorageGuard | None = None,
        applied: AppliedOffsets | None = None,
    ) -> None:
        self.dead_letters = dead_letters
        self.retry_deadline = retry_deadline
        self.max_backoff = max_backoff
        self.stats = Stats()
        self.outage_log = ThrottledLog(log, report_interval)
        self.narrowing_log = ThrottledLog(log, report_interval)
        #: Where poison records' failures are counted (the backend's ledger, looked up each time:
        #: a generational backend's may change).
        own = MemoryFailureLedger()
        self.failures = failures or (lambda: own)
        self.group = group
        self.poison_attempts = poison_attempts
        self.poison_streak = poison_streak
        #: Poison records in a row per agent, across batches (a record applied resets it).
        self.streaks: dict[str, int] = defaultdict(int)
        #: Waits until storage's replicas hold the batch's writes (the backend's make_durable):
        #: only then may its offsets be committed.
        self.durable = durable
        #: Refuses writes into storage that lost the group's data (consumers.storage_guard).
        self.guard = guard
        #: The offsets the agents applied: the consumer commits no further (consumers.transport).
        self.applied = applied
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
        before that finally can run (crash-only). An applied batch is recorded
        before that ack: Faust may ack records no agent applied (around a
        rebalance), and the consumer commits only what is recorded.
        """
        if self.applied is not None:
            attach_commit_guard(stream.app, self.applied)
        async for events in stream.take_events(batch_size, within=wait):
            try:
                await apply(events)
            except asyncio.CancelledError:
                crash(agent, StoppedMidBatch("stopped while applying a batch"))
            except Exception as error:
                crash(agent, error)
            if self.applied is not None:
                record_applied(self.applied, events)

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
            if decoded:
                self.streaks[agent] = 0
        except STOPS_THE_BATCH:
            raise
        except Exception as error:
            kind = "bad input" if isinstance(error, BAD_INPUT) else "an unexpected error"
            self.narrowing_log.warning(
                (agent, kind),
                "%s: %s in a batch of %d (%r); applying record by record",
                agent,
                kind,
                len(decoded),
                error,
            )
            results = await self._record_by_record(agent, decoded, handle, pending)
        if self.durable is not None:
            await self.storage(self.durable)
        if self.guard is not None:
            await self._still_our_storage(self.guard)
        if pending:
            await asyncio.gather(*pending)
        self.stats.record(agent, events)
        return results

    async def _still_our_storage(self, guard: StorageGuard) -> None:
        """Before a batch's offsets may be committed: the storage must still be the one the
        group wrote. If it lost its data, wait (not ready, saying why) until it has an identity
        again; the batch is then committed, or applied again after a restart."""
        try:
            await self.storage(guard.check)
            return
        except StorageLost as lost:
            reason = str(lost)
        while True:
            if self.readiness is not None:
                self.readiness.waiting("storage lost")
            self.outage_log.error("storage lost", "storage lost, writing nothing: %s", reason)
            await self._sleep(self.max_backoff)
            if await self.storage(guard.adopt):
                if self.readiness is not None:
                    self.readiness.serving()
                return

    async def _record_by_record(
        self, agent: str, decoded: list[tuple[Any, Any]], handle: Callable[[Any], Any], pending: list[Any]
    ) -> list[Any]:
        """Apply each record alone: bad input and poison records become dead letters (sent only
        once the batch is through, so a worker that stops on a streak sends none), the rest is
        applied in order."""
        results: list[Any] = []
        set_aside: list[tuple[Any, BaseException, int | None]] = []
        for event, item in decoded:
            try:
                results.append(await self.storage(functools.partial(handle, item)))
                self.streaks[agent] = 0
                continue
            except STOPS_THE_BATCH:
                raise
            except BAD_INPUT as bad:
                set_aside.append((event, bad, None))
                continue
            except Exception as error:
                outcome = await self._try_poison(agent, event, item, handle, error)
            if isinstance(outcome, _SetAside):
                self.streaks[agent] += 1
                streak = self.streaks[agent]
                if self.poison_streak and streak >= self.poison_streak:
                    raise FailingInARow(
                        f"{streak} records in a row failed unexpectedly, the last with {outcome.error!r}: "
                        "a bug or a broken deployment, not bad records; fix it and restart (this "
                        "batch's records were not dead-lettered: they are applied again)"
                    ) from outcome.error
                set_aside.append((event, outcome.error, outcome.attempts))
            else:
                results.append(outcome)
                self.streaks[agent] = 0
        for event, reason, attempts in set_aside:
            pending.append(await self.dead_letters.send(event.message, reason, attempts))
        return results

    async def _try_poison(
        self, agent: str, event: Any, item: Any, handle: Callable[[Any], Any], error: BaseException
    ) -> Any:
        """Try a record that just failed unexpectedly again, counting each failure in storage,
        until it succeeds (its result) or reaches poison_attempts (_SetAside)."""
        record = f"{self.group}/{event.message.topic}:{event.message.partition}:{event.message.offset}"
        for backoff in (*POISON_BACKOFF, *[POISON_BACKOFF[-1]] * self.poison_attempts):
            attempts = await self.storage(lambda: self.failures().failed(record))
            if attempts >= self.poison_attempts:
                log.error(
                    "%s: %s[%s]@%s failed %d times, the last with %r: set aside as a dead letter",
                    agent,
                    event.message.topic,
                    event.message.partition,
                    event.message.offset,
                    attempts,
                    error,
                    exc_info=error,
                )
                await self.storage(lambda: self.failures().forget(record))
                return _SetAside(error, attempts)
            await self._sleep(backoff)
            try:
                result = await self.storage(functools.partial(handle, item))
            except STOPS_THE_BATCH:
                raise
            except BAD_INPUT as bad:
                await self.storage(lambda: self.failures().forget(record))
                return _SetAside(bad, None)
            except Exception as again:
                error = again
                continue
            await self.storage(lambda: self.failures().forget(record))
            return result
        raise AssertionError("unreachable: the attempts run out first")


def record_applied(applied: AppliedOffsets, events: Sequence[Any]) -> None:
    """Record a batch's offsets as applied, before Faust acknowledges them."""
    by_partition: dict[Any, list[int]] = defaultdict(list)
    for event in events:
        by_partition[event.message.tp].append(event.message.offset)
    for tp, offsets in by_partition.items():
        applied.add(tp, offsets)


@dataclass(frozen=True, slots=True)
class _SetAside:
    """A record that is to become a dead letter (attempts: None for bad input)."""

    error: BaseException
    attempts: int | None
