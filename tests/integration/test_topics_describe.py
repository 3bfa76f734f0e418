"""`streamfeed topics describe` and `topics create --json` (issue 28): the topics as the cluster
has them, what differs from the settings named, `--check` exiting 4 for a Job or a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka.admin import NewTopic
from jsonschema import validate

from streamfeed.domain.events import FollowEvent, FollowOp
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, topic_specs
from streamfeed.settings import get_settings

pytestmark = pytest.mark.integration

TOPIC = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "name",
        "exists",
        "partitions",
        "replication_factor",
        "retention_ms",
        "max_message_bytes",
        "records",
        "co_partitioned",
        "purpose",
        "problems",
    ],
    "properties": {
        "name": {"type": "string"},
        "exists": {"type": "boolean"},
        "partitions": {"type": ["integer", "null"], "minimum": 1},
        "replication_factor": {"type": ["integer", "null"], "minimum": 1},
        "retention_ms": {"type": ["integer", "null"]},
        "max_message_bytes": {"type": ["integer", "null"]},
        "records": {"type": ["integer", "null"], "minimum": 0},
        "co_partitioned": {"type": "boolean"},
        "purpose": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
}
DESCRIBE = {
    "type": "object",
    "required": ["topics"],
    "properties": {"topics": {"type": "array", "items": TOPIC}},
}
CREATE = {
    "type": "object",
    "required": ["created", "topics"],
    "additionalProperties": False,
    "properties": {
        "created": {"type": "array", "items": {"type": "string"}},
        "topics": DESCRIBE["properties"]["topics"],
    },
}


def topics(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STREAMFEED_TOPIC_PREFIX": settings.topic_prefix, "STREAMFEED_PARTITIONS": "3"}
    command = [sys.executable, "-m", "streamfeed.cli", "topics", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_describe_names_what_differs_and_check_exits_4(kafka_bootstrap, kafka_admin, unique_name):
    settings = get_settings().model_copy(update={"topic_prefix": f"{unique_name}.", "partitions": 3})
    names = TopicNames.from_settings(settings)
    try:
        before = topics(settings, "describe", "--check", "--json")
        assert before.returncode == 4, before.stderr
        report = json.loads(before.stdout)
        validate(report, DESCRIBE)
        every = len(topic_specs(settings))
        assert every == 7  # the inputs (activities, follows, marks, reactions), two lanes, dead letters
        assert [t["exists"] for t in report["topics"]] == [False] * every
        assert f"{every} of {every} topics differ" in before.stderr

        created = topics(settings, "create", "--json")
        assert created.returncode == 0, created.stderr
        report = json.loads(created.stdout)
        validate(report, CREATE)
        assert sorted(report["created"]) == sorted([*names.consumed, names.dead_letters])
        assert all(t["problems"] == [] and t["partitions"] == 3 for t in report["topics"])

        producer = StreamfeedProducer(settings)
        for n in range(5):
            producer.send_follow_event(FollowEvent(FollowOp.FOLLOW, f"u{n}", "ann", datetime.now(UTC)))
        producer.flush()
        described = topics(settings, "describe", "--check", "--json")
        assert described.returncode == 0, described.stderr
        by_name = {t["name"]: t for t in json.loads(described.stdout)["topics"]}
        assert by_name[names.follows]["records"] == 5
        assert by_name[names.activities]["retention_ms"] == -1  # kept for replay

        # A co-partitioned topic made by hand with another count, and a short retention.
        kafka_admin.delete_topics([names.marks])[names.marks].result(10)
        wait_gone(kafka_admin, names.marks)
        spec = NewTopic(names.marks, 5, 1, config={"retention.ms": "3600000"})
        kafka_admin.create_topics([spec])[names.marks].result(10)
        drifted = topics(settings, "describe", "--check")
        assert drifted.returncode == 4, drifted.stdout + drifted.stderr
        assert "5 partitions, expected 3 (one user's events would reach two workers)" in drifted.stdout
        assert "retention.ms 3600000, expected -1" in drifted.stdout
        assert f"1 of {every} topics differ from the settings" in drifted.stderr
    finally:
        doomed = [t for t in kafka_admin.list_topics(timeout=10).topics if t.startswith(unique_name)]
        if doomed:
            for future in kafka_admin.delete_topics(doomed).values():
                future.result(10)


def wait_gone(admin, topic: str) -> None:
    deadline = time.monotonic() + 30
    while topic in admin.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.2)
