"""A worker's Prometheus series, and its HTTP endpoints: /metrics, /healthz, /readyz.

Counters that the agents already keep (events per agent, retries) are read
at scrape time by a collector, so the hot path pays nothing for them; the
rest are observed where they happen: storage calls (a timing proxy around
the manager's backend), fanout recipients, publish-to-visible latency, dead
letters by reason, and consumer lag per partition (from the group's
committed offsets, refreshed by the worker's stats timer).

The HTTP server runs in a thread from the moment the worker starts, before
it waits for Kafka and storage: an orchestrator sees a live process that is
not ready yet, and why.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from streamfeed.consumers.build_info import register_build_info
from streamfeed.domain.events import FanoutBatch

log = logging.getLogger("streamfeed.worker")

#: Seconds without an event-loop heartbeat after which /healthz says the worker is stuck.
LIVENESS_TIMEOUT = 30.0

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_VISIBLE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
_RECIPIENT_BUCKETS = (0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)


class WorkerMetrics:
    """The series of one worker, in a registry of its own (a test process builds many apps)."""

    def __init__(self, readiness: Any) -> None:
        self.registry = CollectorRegistry()
        self.readiness = readiness
        self.runtime: Any = None
        #: The worker's StorageGuard, set when it has one.
        self.guard: Any = None
        #: (topic, partition) this worker holds now: the lag series it exports.
        self.held: set[tuple[str, int]] = set()
        #: Monotonic time of the event loop's last heartbeat; None until the loop runs.
        self.beat: float | None = None
        self.storage_seconds = Histogram(
            "streamfeed_storage_call_seconds",
            "Storage calls by backend and operation",
            ["backend", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fanout_recipients = Histogram(
            "streamfeed_fanout_recipients",
            "Feeds one activity event was planned for (followers and `to` targets)",
            buckets=_RECIPIENT_BUCKETS,
            registry=self.registry,
        )
        self.visible_seconds = Histogram(
            "streamfeed_publish_to_visible_seconds",
            "From an activity's publication to its feed-ops batch being applied",
            buckets=_VISIBLE_BUCKETS,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "streamfeed_dead_letters",
            "Records sent to the dead-letter topic, by source topic and error type",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "streamfeed_consumer_lag",
            "The group's lag per partition: high-water mark minus committed offset",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.registry.register(_RuntimeCollector(self))
        register_build_info(self.registry)

    # -- what the worker reports ---------------------------------------------------

    def heartbeat(self) -> None:
        self.beat = time.monotonic()

    @property
    def alive(self) -> bool:
        """The event loop turns (or has not started yet: the worker is still waiting for servers)."""
        return self.beat is None or time.monotonic() - self.beat < LIVENESS_TIMEOUT

    def set_lags(self, lags: dict[tuple[str, int], int]) -> None:
        """Export the lag of the partitions this worker holds, and drop the others' series: each
        partition is exported by one worker, so sum() over the workers is the group's lag (every
        worker exporting the whole group's counted it once per replica)."""
        for (topic, partition), lag in lags.items():
            if (topic, partition) in self.held:
                self.lag.labels(topic, str(partition)).set(lag)
            else:
                with contextlib.suppress(KeyError):
                    self.lag.remove(topic, str(partition))

    def observe_visible(self, published_at: Any) -> None:
        if published_at is not None:
            self.visible_seconds.observe(max(0.0, time.time() - published_at.timestamp()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _RuntimeCollector:
    """Counts the agents keep anyway, read when scraped."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        processed = CounterMetricFamily(
            "streamfeed_events_processed", "Events applied (or dead-lettered) per agent", labels=["agent"]
        )
        retries = CounterMetricFamily("streamfeed_storage_retries", "Storage calls retried during outages")
        held = CounterMetricFamily(
            "streamfeed_commits_held",
            "Offset commits cut back because records counted done were not applied (read again)",
        )
        runtime = self.metrics.runtime
        if runtime is not None:
            for agent, count in sorted(runtime.stats.processed.items()):
                processed.add_metric([agent], count)
            retries.add_metric([], runtime.stats.retries)
            held.add_metric([], runtime.applied.holds if runtime.applied is not None else 0)
        yield processed
        yield retries
        yield held
        ready = GaugeMetricFamily("streamfeed_ready", "1 when the worker has partitions and storage")
        ready.add_metric([], 1.0 if self.metrics.readiness.ready else 0.0)
        yield ready
        lost = GaugeMetricFamily(
            "streamfeed_storage_lost",
            "1 while the worker refuses to write: its storage lost the data the group wrote "
            "(run `streamfeed rebuild --switch`)",
        )
        guard = self.metrics.guard
        lost.add_metric([], 1.0 if guard is not None and guard.lost else 0.0)
        yield lost


class TimedBackend:
    """The manager's backend with every storage call timed, by backend and operation.

    Each storage (activities, timelines, aggregated, follows) is wrapped when
    it is first asked for; calls a storage makes on itself are inside the
    outer call, so each operation is timed once. Everything else is the
    backend's own.
    """

    def __init__(self, backend: Any, histogram: Histogram) -> None:
        self._backend = backend
        self._histogram = histogram
        self._wrapped: dict[int, _TimedStorage] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._backend, name)
        if name in ("activities", "timelines", "aggregated", "follows"):
            timed = self._wrapped.get(id(value))
            if timed is None or timed._inner is not value:
                timed = self._wrapped[id(value)] = _TimedStorage(value, self._backend, name, self._histogram)
            return timed
        return value


class _TimedStorage:
    def __init__(self, inner: Any, backend: Any, storage: str, histogram: Histogram) -> None:
        self._inner = inner
        self._backend = backend
        self._storage = storage
        self._histogram = histogram

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or not callable(value):
            return value
        series = self._histogram.labels(getattr(self._backend, "name", "?"), f"{self._storage}.{name}")

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                series.observe(time.perf_counter() - start)

        return timed


def serve_http(metrics: WorkerMetrics, host: str, port: int) -> ThreadingHTTPServer:
    """/metrics, /healthz (liveness) and /readyz (readiness) on one port, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                alive = metrics.alive
                self._send(200 if alive else 503, b"ok\n" if alive else b"event loop stuck\n")
            elif path == "/readyz":
                ready = metrics.readiness.ready
                self._send(200 if ready else 503, f"{metrics.readiness.reason}\n".encode())
            else:
                self._send(404, b"not found: /metrics, /healthz, /readyz\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: not logged
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    log.info("metrics and health on http://%s:%d/metrics, /healthz, /readyz", host, server.server_port)
    return server


def observe_recipients(metrics: WorkerMetrics | None) -> Callable[[list[Any]], list[Any]]:
    """A pass-through for planned batches that records how many feeds they reach."""

    def record(batches: list[Any]) -> list[Any]:
        if metrics is not None:
            # Planned items may also be FanoutRest markers and mode switches: batches only.
            metrics.fanout_recipients.observe(
                sum(len(b.recipients) for b in batches if isinstance(b, FanoutBatch))
            )
        return batches

    return record
