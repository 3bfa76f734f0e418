"""The workers' Kafka transport: Faust's aiokafka transport, committing only what was applied.

Faust commits the offsets its streams acknowledged, and around a rebalance
it can count records as done that no agent ever applied:

- aiokafka seeks a newly assigned partition to its committed offset only
  when one above 0 exists. A partition the group never committed (the
  first seconds of a new group: its first follows and activities) keeps the
  fetch position of the generation before, past records that generation
  fetched and dropped in the rebalance; the next commit is then beyond
  them, and they are never read again. The chaos suite caught exactly that
  (tests/chaos, worker_kills and cassandra_outage: the first records of a
  partition lost);
- a stream skips records of an old generation and acknowledges them, and a
  jump in fetched offsets is counted as acknowledged (meant for compacted
  topics): faust-streaming issues 216, 221 and 606.

So this consumer seeks uncommitted partitions to the log's start itself,
and it commits no further than the agents applied (AppliedOffsets): a
commit that would skip records is cut back to the first one, and the
partition is read again from there. Offsets that hold no record at all
(transaction markers, compaction) are confirmed with the log before they
count as done (streamfeed.kafka.records).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from streamfeed.consumers.applied_offsets import AppliedOffsets
from streamfeed.consumers.log_throttle import ThrottledLog
from streamfeed.kafka.records import offsets_with_records

log = logging.getLogger(__name__)

#: URL scheme of this transport in a Faust broker URL (registered as a `faust.transports` entry point).
SCHEME = "streamfeed"

#: Commits held at the same offset, after reading again from it each time, before asking the log
#: whether records exist there at all.
HOLDS_BEFORE_ASKING_THE_LOG = 3


class GuardedConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, committing only offsets the agents applied."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Set by the agents' runtime (attach_commit_guard); until then nothing is guarded.
        self.applied = AppliedOffsets()
        #: The group's committed offset per partition as last seen: kept across revocations,
        #: which empty Faust's own record of it.
        self.bases: dict[TP, int] = {}
        #: Partitions whose commit was cut back: (the offset held at, how many times in a row).
        self.held: dict[TP, tuple[int, int]] = {}
        self._held_log = ThrottledLog(log, 5.0)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned partition to the group's committed offset, and the partitions the
        group never committed to the log's start (aiokafka leaves those where they were)."""
        committed = await super().seek_to_committed()
        unset = [tp for tp, offset in committed.items() if offset is None or offset <= 0]
        if unset:
            earliest = await self.earliest_offsets(*unset)
            for tp in unset:
                await self.seek(tp, earliest.get(tp, 0))
                self.bases.setdefault(tp, earliest.get(tp, 0))
        for tp, offset in committed.items():
            if offset is not None and offset > 0:
                self.bases[tp] = max(self.bases.get(tp, 0), offset)
        return committed

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        """Commit each partition only as far as the agents applied it from the committed offset."""
        allowed = dict(offsets)
        for tp, wanted in offsets.items():
            if tp.topic not in self.applied.topics:
                continue
            base = await self._base(tp)
            reach = self.applied.reach(tp, base)
            if reach >= wanted:
                self.held.pop(tp, None)
                continue
            if reach > base:
                allowed[tp] = reach
            else:
                del allowed[tp]
            await self._hold(tp, reach, wanted)
        if not allowed:
            return False
        committed = await super()._commit_offsets(allowed, start_new_transaction)
        for tp in allowed:
            offset = self._committed_offset.get(tp)
            if offset is not None and tp.topic in self.applied.topics:
                self.bases[tp] = max(self.bases.get(tp, 0), offset)
                self.applied.forget_before(tp, self.bases[tp])
        return committed

    async def _base(self, tp: TP) -> int:
        """The group's committed offset of a partition: Faust's record of it, or ours across a
        revocation, or the log's start when the group never committed it."""
        seen = self._committed_offset.get(tp)
        if seen is not None:
            self.bases[tp] = max(self.bases.get(tp, 0), seen)
        if tp not in self.bases:
            self.bases[tp] = (await self.earliest_offsets(tp)).get(tp, 0)
        return self.bases[tp]

    async def _hold(self, tp: TP, reach: int, wanted: int) -> None:
        """A commit cut back at `reach`: read the partition again from there, or, when re-reading
        keeps not delivering that offset, ask the log whether it holds records there at all."""
        previous = self.held.get(tp)
        times = previous[1] + 1 if previous is not None and previous[0] == reach else 1
        self.held[tp] = (reach, times)
        self.applied.holds += 1
        if tp not in self.assignment() or self.app.rebalancing:
            return  # the next owner starts from the committed offset anyway
        end = self.applied.next_applied(tp, reach) or wanted
        if times >= HOLDS_BEFORE_ASKING_THE_LOG:
            present = await asyncio.to_thread(
                offsets_with_records, self._bootstrap(), tp.topic, tp.partition, reach, end
            )
            first = present[0] if present else end
            if first > reach:
                log.info(
                    "%s[%d]: offsets %d to %d hold no record (transaction markers or compaction)",
                    tp.topic,
                    tp.partition,
                    reach,
                    first - 1,
                )
                self.applied.add_range(tp, reach, first)
                self.held.pop(tp, None)
                return
        self._held_log.warning(
            ("held", tp),
            "%s[%d]: records %d to %d were counted done but not applied (skipped in a rebalance); "
            "committing up to %d only and reading them again",
            tp.topic,
            tp.partition,
            reach,
            end - 1,
            reach,
        )
        await self.seek(tp, reach)

    def _bootstrap(self) -> str:
        return ",".join(
            aiokafka_driver.server_list(self.transport.url, aiokafka_driver.Transport.default_port)
        )


class Transport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the guarded consumer (broker URL `streamfeed://host:port`)."""

    Consumer = GuardedConsumer


def attach_commit_guard(app: faust.App, applied: AppliedOffsets) -> None:
    """Have the app's consumer commit only what `applied` records; refuse an app without this
    transport, whose commits nothing would guard."""
    consumer = app.consumer
    if not isinstance(consumer, GuardedConsumer):
        raise RuntimeError(
            f"the worker's Faust app must use the {SCHEME}:// broker transport (its consumer is "
            f"{type(consumer).__name__}): only it commits no record the agents did not apply"
        )
    consumer.applied = applied
