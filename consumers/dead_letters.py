"""Dead letters: a record the pipeline cannot accept, kept with the reason, never dropped.

The record goes to the dead-letter topic as an io.streamfeed.DeadLetter with
its original bytes, so it can be inspected, fixed and re-published; the agent
then goes on with the next record.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from streamfeed.consumers.log_throttle import ThrottledLog
from streamfeed.schemas.catalog import DEAD_LETTER
from streamfeed.schemas.codec import AvroCodec

log = logging.getLogger(__name__)

#: Innermost frames of an unexpected error's traceback kept in its dead letter.
STACK_FRAMES = 8


def stack_summary(error: BaseException) -> str:
    """Where an unexpected error was raised: the innermost frames, one line each, enough to find
    the app's code at fault without the whole traceback in every letter."""
    frames = traceback.extract_tb(error.__traceback__)[-STACK_FRAMES:]
    return "\n".join(f"{f.filename}:{f.lineno} in {f.name}: {f.line or ''}".rstrip(": ") for f in frames)


def dead_letter_record(message: Any, error: BaseException, attempts: int | None = None) -> dict[str, Any]:
    """The DeadLetter record for a consumed message (anything with topic, partition, offset...).
    attempts: given for a record set aside after failing unexpectedly that many times; its
    letter then carries the stack summary too."""
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": message.key,
        "value": message.value,
        "error_type": type(error).__name__,
        "error": str(error)[:2000] or repr(error),
        "failed_at": datetime.now(UTC),
        "stack": stack_summary(error) if attempts is not None else None,
        "attempts": attempts,
    }


class DeadLetters:
    """Sends dead letters to the topic and counts them."""

    def __init__(self, topic: Any, codec: AvroCodec, report_interval: float = 5.0) -> None:
        self.topic = topic
        self.codec = codec
        self.count = 0
        #: One line per source topic and reason per interval: 5,000 bad records are not 5,000 lines.
        self.log = ThrottledLog(log, report_interval)
        #: Called with (source topic, error type) for each letter: the worker's metrics.
        self.on_letter: Any = None

    async def send(self, message: Any, error: BaseException, attempts: int | None = None) -> Any:
        """Publish and return the delivery future (await it before acking the source)."""
        self.count += 1
        record = dead_letter_record(message, error, attempts)
        if self.on_letter is not None:
            self.on_letter(message.topic, record["error_type"])
        self.log.warning(
            (message.topic, record["error_type"]),
            "dead letter: %s[%s]@%s: %s: %s",
            message.topic,
            message.partition,
            message.offset,
            record["error_type"],
            record["error"],
        )
        return await self.topic.send(key=message.key, value=self.codec.encode(DEAD_LETTER, record))
