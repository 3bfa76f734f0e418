"""The API process's Prometheus series, served at /metrics: requests by route and status, their
latency, open realtime streams, rate-limit refusals, and the process's own figures.

Measured by a plain ASGI middleware (no extra task per request) and labelled by the route's
template (`/v1/feeds/{feed}/{user_id}`), never the raw path, so a series per user id never
appears. Each app has a registry of its own: a test process builds many apps.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamfeed.consumers.build_info import register_build_info

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Streams hold their request open for minutes: their latency would drown the reads'.
_STREAMING = "/v1/realtime/{user_id}"


class ApiMetrics:
    def __init__(self, streams_open: Any) -> None:
        """streams_open: a callable giving the realtime streams open now (read when scraped)."""
        self.registry = CollectorRegistry()
        register_build_info(self.registry)
        self.requests = Counter(
            "streamfeed_api_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "streamfeed_api_request_seconds",
            "HTTP request latency by route template (realtime streams left out)",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StreamsCollector(streams_open))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StreamsCollector:
    def __init__(self, streams_open: Any) -> None:
        self.streams_open = streams_open

    def collect(self) -> Any:
        gauge = GaugeMetricFamily("streamfeed_api_streams_open", "Realtime streams this process holds open")
        gauge.add_metric([], float(self.streams_open()))
        yield gauge


class MeasureRequests:
    """Pure ASGI middleware: counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, scope["method"], str(status)).inc()
            if template != _STREAMING:
                self.metrics.seconds.labels(template).observe(time.perf_counter() - start)
