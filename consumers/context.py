"""What the agents share: the manager, settings, codec, Faust topics and runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consumers.runtime import AgentRuntime, crash
from pipeline.events import FanoutBatch, FanoutPriority
from pipeline.manager import Manager
from pipeline.settings import Settings
from pipeline.steps import partition_for
from pipeline.topics import TopicNames
from schemas.catalog import FANOUT_BATCH
from schemas.codec import AvroCodec


@dataclass
class PipelineContext:
    manager: Manager
    settings: Settings
    codec: AvroCodec
    names: TopicNames
    topics: dict[str, Any]
    runtime: AgentRuntime
    _materialize_lock: asyncio.Lock | None = None

    @property
    def materialize_lock(self) -> asyncio.Lock:
        """Created on first use, inside the worker's event loop."""
        if self._materialize_lock is None:
            self._materialize_lock = asyncio.Lock()
        return self._materialize_lock

    @property
    def partitions(self) -> int:
        return self.settings.partitions

    def encode_batch(self, batch: FanoutBatch) -> tuple[Any, int, bytes]:
        """(feed-ops topic of the batch's lane, partition of its recipients, bytes)."""
        name = self.names.feed_ops_low if batch.priority is FanoutPriority.LOW else self.names.feed_ops_high
        partition = partition_for(batch.recipients[0], self.partitions)
        return self.topics[name], partition, self.codec.encode(FANOUT_BATCH, batch.to_record())

    def register_planner(
        self,
        app: Any,
        topic_name: str,
        agent_name: str,
        decode: Callable[[bytes], Any],
        plan: Callable[[Any], list[FanoutBatch]],
    ) -> Any:
        """An agent that turns each input event into feed-ops batches (fanout and follows).

        The batches are sent and acknowledged before the agent takes its next
        events, so a committed input offset always has its batches on feed-ops.
        """

        def handle(item: Any) -> list[tuple[Any, int, bytes]]:
            return [self.encode_batch(b) for b in plan(item)]

        async def planner(stream: Any) -> None:
            async for events in stream.take_events(
                self.settings.worker_batch_size, within=self.settings.worker_batch_wait
            ):
                try:
                    results = await self.runtime.process(agent_name, events, decode, handle)
                    futures = await self.send_batches([item for batches in results for item in batches])
                    await asyncio.gather(*futures)
                except Exception as error:  # a failed send included: never ack what was not sent
                    crash(agent_name, error)

        return app.agent(self.topics[topic_name], name=agent_name)(planner)

    async def send_batches(self, encoded: list[tuple[Any, int, bytes]]) -> list[Any]:
        """Publish encoded batches; returns their delivery futures."""
        futures = []
        for topic, partition, value in encoded:
            futures.append(await topic.send(value=value, partition=partition))
        return futures
