"""Every benchmark at a smoke size, so none can rot: each runs to the end on the local stack and
prints its figures (the figures at this size mean nothing; that they come out does).

bench_storage had rotted unseen: Feed.add_to_many_users took states and it passed activities.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SMOKE = {
    "bench_api": (
        ["--seconds", "1", "--rate", "50", "--readers", "20", "--processes", "1", "--idle-streams", "20"],
        ["at 50 reads/s:", "20 idle streams open", "1 connection(s), flat out", "ceiling:", "storage only"],
    ),
    "bench_storage": (["--rounds", "3", "--reads", "30"], ["of the ceiling", "Redis memory at max_length"]),
    "bench_codec": (["--seconds", "0.1"], ["encode:", "decode:"]),
    "bench_produce": (["--lines", "300"], ["produce --jobs 1:", "produce (--jobs", "of the ceiling"]),
    "bench_memory": (["--users", "5", "--per-feed", "5"], ["bytes per entry", "everything:"]),
    "bench_redis_add": (["--feeds", "10", "--adds", "5", "--rounds", "1"], ["script:", "plain:"]),
    "bench_hybrid": (
        ["--reads", "20", "--followers", "100", "--rounds", "1"],
        ["pulled authors", "Redis PING"],
    ),
    "bench_pipeline": (["--activities", "10", "--rate", "5", "--seconds", "1"], ["of the ceiling", "p99"]),
    "bench_scale": (["--events", "100", "--workers", "1"], ["events/s end to end", "a worker leaves"]),
    "bench_rebuild": (
        ["--events", "150", "--users", "30", "--workers", "1"],
        ["rebuilt entries equal live entries: True"],
    ),
    "bench_ranked": (
        ["--candidates", "60", "--reads", "20"],
        ["ranked page (popular)", "chronological page, same feed", "ranked / chronological p99"],
    ),
    "bench_reactions": (
        ["--events", "200", "--reads", "20", "--cassandra"],
        ["redis step:", "of the ceiling", "page of 25", "cassandra step:"],
    ),
    "bench_celebrity": (["--followers", "100", "--inserts", "500", "--skip-pulled"], ["CPU us per insert"]),
}


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_the_benchmark_runs_and_prints_its_figures(name, stack) -> None:
    args, expected = SMOKE[name]
    command = [sys.executable, "-m", f"tests.benchmarks.{name}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout, result.stdout[-3000:]
