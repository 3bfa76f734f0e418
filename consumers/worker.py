"""Starting and stopping a worker: wait for the servers, throttle client noise, stop within seconds.

A worker started while Kafka or storage is down waits for them (saying so
once per interval, not ready meanwhile) instead of exiting, so an
orchestrator that starts everything at once does not need an ordering.
SIGTERM reaches the agents' runtime first: a batch stuck retrying an outage
is given up at once (uncommitted, so it is applied again) instead of
holding the process until the retry deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import faust
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streamfeed.consumers.log_throttle import ThrottledLog, throttle_kafka_client_logs
from streamfeed.consumers.runtime import TRANSIENT_ERRORS, AgentRuntime
from streamfeed.consumers.storage_guard import StorageLost
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.kafka.clients import client_config
from streamfeed.kafka.offsets import committed_offsets
from streamfeed.kafka.topics import TopicNames, topic_specs
from streamfeed.settings import Settings

log = logging.getLogger("streamfeed.worker")

T = TypeVar("T")


class Readiness:
    """Whether the worker does its job yet, and if not, what it waits for."""

    def __init__(self) -> None:
        self.ready = False
        self.reason = "starting"

    def waiting(self, reason: str) -> None:
        self.ready, self.reason = False, reason

    def serving(self) -> None:
        self.ready, self.reason = True, "serving"


def kafka_reachable(bootstrap: str, timeout: float = 5.0) -> None:
    """Raise ConnectionError unless a broker answers a metadata request within the timeout."""

    with AdminClient({**client_config(bootstrap), "log_level": 0}) as admin:
        try:
            admin.list_topics(timeout=timeout)
        except KafkaException as error:
            raise ConnectionError(f"Kafka at {bootstrap}: {error.args[0].str()}") from None


class TopicsMissing(StreamfeedError, ConnectionError):
    """The pipeline's topics are not (yet) in the broker's metadata: waited for, like an outage."""


def topics_present(settings: Settings, timeout: float = 5.0) -> None:
    """Raise TopicsMissing unless every topic the agents consume is known to the broker.

    A worker that joins its group before the topics exist is assigned
    nothing and only looks again when its metadata expires (minutes): it
    waits here instead, saying which topics are missing.
    """

    with AdminClient({**client_config(settings.kafka_bootstrap), "log_level": 0}) as admin:
        existing = admin.list_topics(timeout=timeout).topics
    missing = [spec.name for spec in topic_specs(settings) if spec.name not in existing]
    if missing:
        raise TopicsMissing(f"topics {', '.join(missing)} do not exist: run `streamfeed topics create`")


def group_progress(settings: Settings) -> bool:
    """Whether the worker group ever committed an offset on its input topics: a storage
    without identity is then one that lost the group's data, not a new one."""
    names = TopicNames.from_settings(settings)
    partitions = [(topic, p) for topic in names.inputs for p in range(settings.partitions)]
    return any(offset > 0 for offset in committed_offsets(settings, settings.app_id, partitions).values())


#: What a starting worker waits out: an outage, topics not created yet, a storage that lost its
#: data (until it is rebuilt or claimed).
WAITED_OUT: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, TopicsMissing, StorageLost)


def wait_for(
    what: str,
    attempt: Callable[[], T],
    readiness: Readiness,
    report_interval: float = 10.0,
    max_backoff: float = 5.0,
    give_up_after: float | None = None,
) -> T:
    """Call attempt until it stops raising a connection error; returns its result.

    Only outages are waited out; anything else (a typo in the app path, a bad
    setting) raises at once, because waiting cannot fix it.
    """
    throttled = ThrottledLog(log, report_interval)
    start = time.monotonic()
    delay = 0.2
    while True:
        try:
            result = attempt()
        except WAITED_OUT as error:
            waited = time.monotonic() - start
            if give_up_after is not None and waited > give_up_after:
                raise
            readiness.waiting(f"waiting for {what}")
            throttled.warning(what, "not ready: waiting for %s for %.0fs (%s)", what, waited, error)
            time.sleep(delay)
            delay = min(delay * 2, max_backoff)
            continue
        if time.monotonic() - start > 1:
            log.info("%s is reachable after %.1fs", what, time.monotonic() - start)
        return result


class StreamfeedWorker(faust.Worker):
    """Faust's worker, told about SIGTERM early and quiet about repeated client errors."""

    def __init__(self, app: faust.App, runtime: AgentRuntime, settings: Settings, **kwargs: Any) -> None:
        self.runtime = runtime
        self.streamfeed_settings = settings
        super().__init__(app, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        throttle_kafka_client_logs(logger, self.streamfeed_settings.stats_interval)

    def _on_sigterm(self) -> None:
        self.runtime.stopping.set()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self.runtime.stopping.set()
        super()._on_sigint()
