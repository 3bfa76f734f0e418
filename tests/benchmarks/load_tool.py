"""Vegeta, the HTTP load tool the API benchmark drives: found on PATH, or built once.

Vegeta holds a request rate constant whatever the server's latency (an open
model), which is what "p99 at 500 reads/s" means; a closed-loop client
would slow down with the server and hide the queueing. It is a Go module,
built with the machine's Go toolchain into the stack's cache.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.go_tools import go_tool

VEGETA = "github.com/tsenart/vegeta/v12@v12.13.0"


def vegeta() -> str:
    return go_tool("vegeta", VEGETA)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    rate: float  # requests sent per second
    throughput: float  # successful responses per second
    success: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_codes: dict[str, int]

    def line(self) -> str:
        return (
            f"{self.throughput:>7,.0f} reads/s ok ({self.success:.1%} of {self.requests:,}), "
            f"p50 {self.p50_ms:.2f} ms, p90 {self.p90_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
            f"max {self.max_ms:.1f} ms"
        )


def attack(targets: Path, rate: int, duration: float, workers: int | None = None) -> LoadResult:
    """Send the targets (vegeta's JSON lines, round robin) at `rate` per second (0: as fast as
    `workers` connections go) for `duration` seconds; the latencies of every request."""
    command = [vegeta(), "attack", "-format=json", f"-targets={targets}", f"-duration={duration}s"]
    command.append(f"-rate={rate}/s" if rate else "-rate=0")
    if workers is not None:
        command += [f"-workers={workers}", f"-max-workers={workers}"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    report = subprocess.run([vegeta(), "report", "-type=json"], input=raw, check=True, capture_output=True)
    data = json.loads(report.stdout)
    latency = data["latencies"]
    return LoadResult(
        requests=data["requests"],
        rate=data["rate"],
        throughput=data["throughput"],
        success=data["success"],
        p50_ms=latency["50th"] / 1e6,
        p90_ms=latency["90th"] / 1e6,
        p99_ms=latency["99th"] / 1e6,
        max_ms=latency["max"] / 1e6,
        status_codes=data["status_codes"],
    )
