"""What the agents share: the manager, settings, codec, Faust topics and runtime."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from consumers.runtime import AgentRuntime
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

    async def send_batches(self, encoded: list[tuple[Any, int, bytes]]) -> list[Any]:
        """Publish encoded batches; returns their delivery futures."""
        futures = []
        for topic, partition, value in encoded:
            futures.append(await topic.send(value=value, partition=partition))
        return futures
