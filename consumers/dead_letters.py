"""Dead letters: a record the pipeline cannot accept, kept with the reason, never dropped.

The record goes to the dead-letter topic as an io.streamfeed.DeadLetter with
its original bytes, so it can be inspected, fixed and re-published; the agent
then goes on with the next record.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from streamfeed.schemas.catalog import DEAD_LETTER
from streamfeed.schemas.codec import AvroCodec

log = logging.getLogger(__name__)


def dead_letter_record(message: Any, error: BaseException) -> dict[str, Any]:
    """The DeadLetter record for a consumed message (anything with topic, partition, offset...)."""
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": message.key,
        "value": message.value,
        "error_type": type(error).__name__,
        "error": str(error)[:2000] or repr(error),
        "failed_at": datetime.now(UTC),
    }


class DeadLetters:
    """Sends dead letters to the topic and counts them."""

    def __init__(self, topic: Any, codec: AvroCodec) -> None:
        self.topic = topic
        self.codec = codec
        self.count = 0
        #: Called with (source topic, error type) for each letter: the worker's metrics.
        self.on_letter: Any = None

    async def send(self, message: Any, error: BaseException) -> Any:
        """Publish and return the delivery future (await it before acking the source)."""
        self.count += 1
        record = dead_letter_record(message, error)
        if self.on_letter is not None:
            self.on_letter(message.topic, record["error_type"])
        log.warning(
            "dead letter: %s[%s]@%s: %s: %s",
            message.topic,
            message.partition,
            message.offset,
            record["error_type"],
            record["error"],
        )
        return await self.topic.send(key=message.key, value=self.codec.encode(DEAD_LETTER, record))
