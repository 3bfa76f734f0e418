"""The API benchmark at a smoke size, so it cannot rot: every phase runs (world, fixed rate with
idle streams, flat out, the ceiling, storage only) and prints its figures."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_bench_api_runs_every_phase_and_prints_its_figures(redis_client) -> None:
    command = [sys.executable, "-m", "tests.benchmarks.bench_api", "--seconds", "1", "--rate", "50"]
    command += ["--readers", "20", "--processes", "1", "--idle-streams", "20"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    phases = ("at 50 reads/s:", "20 idle streams open", "1 connection(s), flat out", "ceiling:")
    phases += ("storage only",)
    for phase in phases:
        assert phase in out, out
    assert "100.0% of" in out, out
