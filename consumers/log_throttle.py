"""Say a recurring condition once per interval, with how often it recurred, not once per attempt.

During a broker or storage outage every client retries many times a second;
one line per attempt buries the log (a 15 s Kafka outage once wrote 86,681
lines) and hides the one line that matters: that the outage is still on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class _Throttle:
    """Decides, per key, whether to say it now and how many repeats were held back since."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}

    def admit(self, key: object) -> int | None:
        """None to hold this one back; else how many were held back before it."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


class ThrottledLog:
    """A logger's warning() that says each kind of message at most once per interval."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self.logger = logger
        self._throttle = _Throttle(interval)

    def warning(self, key: object, message: str, *args: object) -> None:
        self.log(logging.WARNING, key, message, *args)

    def error(self, key: object, message: str, *args: object) -> None:
        self.log(logging.ERROR, key, message, *args)

    def log(self, level: int, key: object, message: str, *args: object) -> None:
        held = self._throttle.admit(key)
        if held is None:
            return
        if held:
            message += " (%d similar since the last report)"
            args = (*args, held)
        self.logger.log(level, message, *args)


class ThrottleFilter(logging.Filter):
    """Lets a noisy client library's warnings and errors through once per interval per message.

    Keyed by logger and message template, so "Unable connect to node 1" is
    said every interval while the broker is gone, and every other message
    still gets through the first time it happens.
    """

    def __init__(
        self, prefixes: tuple[str, ...], interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.prefixes = prefixes
        self._throttle = _Throttle(interval, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.prefixes):
            return True
        if _expected_at_start(record):
            return False
        held = self._throttle.admit((record.name, str(record.msg)))
        if held is None:
            return False
        if held:
            record.msg = f"{record.msg} ({held} similar since the last report)"
        return True


def _expected_at_start(record: logging.LogRecord) -> bool:
    """Faust creates its assignor's leader topic lazily, and aiokafka says at ERROR that it
    is not there yet: on every start of a healthy worker, so it is not an error."""
    return (
        record.name == "aiokafka.cluster"
        and record.msg == "Topic %s not found in cluster metadata"
        and isinstance(record.args, tuple)
        and str(record.args[0] if record.args else "").endswith("__assignor-__leader")
    )


#: The loggers that repeat a line per connection attempt while Kafka is away.
KAFKA_CLIENT_LOGGERS = ("aiokafka", "kafka", "faust.transport", "faust.sensors")


def throttle_kafka_client_logs(handler_owner: logging.Logger, interval: float) -> ThrottleFilter:
    """Install the filter on every handler of a logger (the root, as Faust's worker sets it up)."""
    throttle = ThrottleFilter(KAFKA_CLIENT_LOGGERS, interval)
    for handler in handler_owner.handlers:
        handler.addFilter(throttle)
    return throttle
