"""`streamfeed_build_info`: which streamfeed and Python a process runs, as Prometheus labels.

A gauge always 1, the usual way to join a version onto other series
(`* on(instance) group_left(version) streamfeed_build_info`). With the
process and platform collectors: what every streamfeed process exports.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Gauge, PlatformCollector, ProcessCollector

from streamfeed import __version__


def register_build_info(registry: CollectorRegistry) -> None:
    """The build-info gauge plus the process (CPU, memory, files) and platform series."""
    info = Gauge(
        "streamfeed_build_info",
        "streamfeed's version and Python's, always 1",
        ["version", "python"],
        registry=registry,
    )
    info.labels(__version__, platform.python_version()).set(1)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
