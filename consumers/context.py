"""What the agents share: the manager, settings, codec, Faust topics and runtime."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamfeed.app.manager import Manager
from streamfeed.app.steps import FanoutRest, fanout_rest, partition_for
from streamfeed.consumers.runtime import AgentRuntime
from streamfeed.consumers.worker import Readiness
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import FanoutBatch, FanoutPriority
from streamfeed.kafka.sizing import split_to_fit
from streamfeed.kafka.topics import TopicNames
from streamfeed.schemas.catalog import AUTHOR_MODE_EVENT, FANOUT_BATCH
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings

#: Events planned in one storage round by the fanout and follows agents: a batch of 500 events
#: by an author with a thousand followers is half a million deliveries, and planning them all
#: before sending any kept the materializers idle meanwhile.
PLANNING_RUN = 50


@dataclass
class PipelineContext:
    manager: Manager
    settings: Settings
    codec: AvroCodec
    names: TopicNames
    topics: dict[str, Any]
    runtime: AgentRuntime
    readiness: Readiness = field(default_factory=Readiness)
    metrics: Any = None
    _partition_locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def partition_lock(self, partition: int) -> asyncio.Lock:
        """One lock per feed-ops partition number, shared by both lanes (they are co-partitioned).

        The users of partition p live on p in both lanes: holding p's lock
        keeps one read-merge-write per user at a time, while other
        partitions (and the other lane's other partitions) go on.
        """
        lock = self._partition_locks.get(partition)
        if lock is None:
            lock = self._partition_locks[partition] = asyncio.Lock()
        return lock

    @property
    def partitions(self) -> int:
        return self.settings.partitions

    def encode_batch(self, batch: FanoutBatch | AuthorModeEvent) -> list[tuple[Any, int, bytes]]:
        """(feed-ops topic of the batch's lane, partition of its recipients, bytes) per message.

        A batch bigger than feed_ops_max_bytes once encoded becomes several messages. A
        push/pull switch goes to the follows topic, on the author's partition.
        """
        if isinstance(batch, AuthorModeEvent):
            value = self.codec.encode(AUTHOR_MODE_EVENT, batch.to_record())
            return [(self.topics[self.names.follows], partition_for(batch.author, self.partitions), value)]
        name = self.names.feed_ops_low if batch.priority is FanoutPriority.LOW else self.names.feed_ops_high
        partition = partition_for(batch.recipients[0], self.partitions)
        messages = split_to_fit(
            batch,
            lambda piece: self.codec.encode(FANOUT_BATCH, piece.to_record()),
            self.settings.feed_ops_max_bytes,
        )
        return [(self.topics[name], partition, value) for value in messages]

    def register_planner(
        self,
        app: Any,
        topic_name: str,
        agent_name: str,
        decode: Callable[[bytes], Any],
        plan: Callable[[Any], Sequence[Any]],
        plan_all: Callable[[list[Any]], Sequence[Sequence[Any]]] | None = None,
    ) -> Any:
        """An agent that turns each input event into feed-ops batches (fanout and follows);
        plan_all, if given, plans a whole batch of events at once.

        The batches are sent and acknowledged before the agent takes its next
        events, so a committed input offset always has its batches on feed-ops.
        """

        def encode(planned: Sequence[Any]) -> list[Any]:
            # A FanoutRest stays as it is: apply plans and sends it a page at a time.
            return [
                m
                for item in planned
                for m in ([item] if isinstance(item, FanoutRest) else self.encode_batch(item))
            ]

        def handle(item: Any) -> list[Any]:
            return encode(plan(item))

        def handle_all(items: list[Any]) -> list[list[Any]]:
            assert plan_all is not None
            return [encode(plans) for plans in plan_all(items)]

        async def apply(events: list[Any]) -> None:
            # Planned and sent a run at a time, acknowledged together: the materializers start on
            # the first run's batches while the next is planned.
            futures, rests = [], []
            for start in range(0, len(events), PLANNING_RUN):
                results = await self.runtime.process(
                    agent_name,
                    events[start : start + PLANNING_RUN],
                    decode,
                    handle,
                    handle_all if plan_all is not None else None,
                )
                planned = [item for batches in results for item in batches]
                futures += await self.send_batches([i for i in planned if not isinstance(i, FanoutRest)])
                rests += [item for item in planned if isinstance(item, FanoutRest)]
            await asyncio.gather(*futures)  # a failed send raises: the batch is not acked
            for rest in rests:
                await self.send_rest(rest)

        async def planner(stream: Any) -> None:
            settings = self.settings
            await self.runtime.consume(
                agent_name, stream, settings.worker_batch_size, settings.worker_batch_wait, apply
            )

        return app.agent(self.topics[topic_name], name=agent_name)(planner)

    async def send_rest(self, rest: FanoutRest | None) -> None:
        """The rest of a big fanout, a page at a time: each page's batches are acknowledged before
        the next page is read, so memory holds one page whatever the follower count."""
        while rest is not None:
            batches, rest = await self.runtime.storage(
                functools.partial(fanout_rest, self.manager, rest, self.partitions)
            )
            futures = await self.send_batches([m for batch in batches for m in self.encode_batch(batch)])
            await asyncio.gather(*futures)

    async def send_batches(self, encoded: list[tuple[Any, int, bytes]]) -> list[Any]:
        """Publish encoded batches; returns their delivery futures."""
        futures = []
        for topic, partition, value in encoded:
            futures.append(await topic.send(value=value, partition=partition))
        return futures
