"""A command that cannot reach a server says so in one line (the server, the address tried, the
setting to change) and exits 3; no traceback, no librdkafka log line (issue 28). Each failed
before: a 109-line Redis traceback (exit 1), 631 lines for `topics create`, a confusing count
from `produce`, `status` without a hint before the topics exist.

The addresses are closed ports on this machine: nothing to start. Kafka's are tried for 30 s (a
command waits out a broker that is starting), so these sit with the integration tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLOSED = "127.0.0.1:1"


def streamfeed(*args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "streamfeed.cli", *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def assert_one_line(result: subprocess.CompletedProcess, *expected: str) -> None:
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 3, output
    assert len(output) <= 2, output
    assert "Traceback" not in result.stderr and "%3|" not in result.stderr, output
    for text in expected:
        assert text in result.stderr, output


def test_redis_away():
    result = streamfeed(
        "feed",
        "show",
        "normal",
        "julie",
        STREAMFEED_STORAGE="redis",
        STREAMFEED_REDIS_URL=f"redis://{CLOSED}/0",
    )
    assert_one_line(result, "Redis at redis://127.0.0.1:1/0 is not reachable", "STREAMFEED_REDIS_URL")


def test_kafka_away_for_topics_create():
    result = streamfeed("topics", "create", STREAMFEED_KAFKA_BOOTSTRAP=CLOSED)
    assert_one_line(result, f"Kafka at {CLOSED} is not reachable", "STREAMFEED_KAFKA_BOOTSTRAP")


def test_kafka_away_for_produce(tmp_path: Path):
    lines = tmp_path / "events.jsonl"
    event = '{"type": "activity", "actor": "a", "verb": "add", "object": "o", "time": "2026-01-01T00:00:00Z"}'
    lines.write_text(event + "\n" + event.replace('"o"', '"p"') + "\n")
    result = streamfeed("produce", str(lines), STREAMFEED_KAFKA_BOOTSTRAP=CLOSED)
    assert_one_line(result, "0 of 2 published; 2 records not delivered", f"Kafka at {CLOSED}")


def test_cassandra_away():
    result = streamfeed(
        "feed", "show", "normal", "julie", STREAMFEED_STORAGE="cassandra", STREAMFEED_CASSANDRA_PORT="1"
    )
    assert_one_line(result, "Cassandra at 127.0.0.1:1 is not reachable", "STREAMFEED_CASSANDRA_PORT")


def test_status_before_the_topics_exist_says_to_create_them(stack):
    result = streamfeed("status", STREAMFEED_TOPIC_PREFIX="never-created-", STREAMFEED_APP_ID="never")
    assert_one_line(result, "no such topic or partition", "streamfeed topics create")
