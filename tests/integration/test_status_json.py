"""`streamfeed status --json` and `--fail-on-lag` (issue 28): one JSON object a script can read,
validated against its schema, with counts where it said "nothing committed yet", and exit 4
past a threshold. Before: no --json, and status exited 0 whatever the lag."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from jsonschema import validate

from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.settings import get_settings

pytestmark = pytest.mark.integration

STATUS_SCHEMA = {
    "type": "object",
    "required": [
        "group",
        "state",
        "members",
        "lag",
        "total_lag",
        "uncommitted_topics",
        "dead_letters",
        "storage",
    ],
    "additionalProperties": False,
    "properties": {
        "group": {"type": "string"},
        "state": {"type": "string"},
        "members": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["client_id", "host", "partitions"],
                "properties": {
                    "partitions": {
                        "type": "array",
                        "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
                    }
                },
            },
        },
        "lag": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "total_lag": {"type": "integer", "minimum": 0},
        "uncommitted_topics": {"type": "array", "items": {"type": "string"}},
        "dead_letters": {"type": "integer", "minimum": 0},
        "storage": {
            "type": "object",
            "required": ["kind", "identity", "lost", "line"],
            "properties": {"lost": {"type": "boolean"}, "kind": {"enum": ["memory", "redis", "cassandra"]}},
        },
    },
}


def status(settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "STREAMFEED_TOPIC_PREFIX": settings.topic_prefix,
        "STREAMFEED_APP_ID": settings.app_id,
        "STREAMFEED_PARTITIONS": str(settings.partitions),
    }
    command = [sys.executable, "-m", "streamfeed.cli", "status", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_status_json_counts_what_was_never_consumed_and_fails_past_a_threshold(stack, unique_name):
    settings = get_settings().model_copy(
        update={"topic_prefix": f"{unique_name}-", "app_id": unique_name, "partitions": 2}
    )
    create_topics(settings)
    producer = StreamfeedProducer(settings)
    for n in range(3):
        activity = Activity("ann", "add", f"pin{n}", time=None)
        producer.send_activity_event(ActivityEvent(ActivityOp.ADD, activity, None, activity.time))
    producer.flush()

    result = status(settings, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    validate(report, STATUS_SCHEMA)
    assert report["lag"][f"{unique_name}-activities"] == 3
    assert report["total_lag"] == 3 and report["uncommitted_topics"] == [f"{unique_name}-activities"]
    assert report["members"] == [] and report["dead_letters"] == 0

    assert status(settings, "--fail-on-lag", "2").returncode == 4
    assert status(settings, "--fail-on-lag", "3").returncode == 0
    text = status(settings).stdout
    assert f"lag {unique_name}-activities: 3 (nothing committed yet)" in text
