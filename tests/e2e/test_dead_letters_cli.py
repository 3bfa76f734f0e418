"""Dead letters through the CLI: listed with their reason and origin, replayed after the fix."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import pytest
from jsonschema import validate

from streamfeed.api.models import Page
from streamfeed.consumers.processes import settings_env, wait_until_drained
from streamfeed.domain.activity import Activity
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.schemas.catalog import ACTIVITY_EVENT
from tests.e2e.conftest import storage_manager

pytestmark = pytest.mark.integration

DEAD_LETTERS_SCHEMA = {
    "type": "object",
    "required": ["total", "shown", "letters"],
    "additionalProperties": False,
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "shown": {"type": "integer", "minimum": 0},
        "letters": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "failed_at",
                    "topic",
                    "partition",
                    "offset",
                    "error_type",
                    "error",
                    "attempts",
                    "stack",
                    "key_base64",
                    "value_base64",
                    "dead_letter",
                ],
                "properties": {
                    "failed_at": {"type": "string", "format": "date-time"},
                    "topic": {"type": "string"},
                    "partition": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "error_type": {"type": "string"},
                    "error": {"type": "string"},
                    "attempts": {"type": ["integer", "null"]},
                    "stack": {"type": ["string", "null"]},
                    "key_base64": {"type": ["string", "null"]},
                    "value_base64": {"type": ["string", "null"]},
                    "dead_letter": {
                        "type": "object",
                        "required": ["partition", "offset"],
                        "properties": {"partition": {"type": "integer"}, "offset": {"type": "integer"}},
                    },
                },
            },
        },
    },
}


def cli(settings, *args: str) -> str:
    import os

    env = {**os.environ, **settings_env(settings)}
    done = subprocess.run(
        [sys.executable, "-m", "streamfeed.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for_letters(settings, count: int, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        listing = cli(settings, "dead-letters", "list")
        if listing.splitlines()[-1].startswith(f"{count} dead letters") or time.monotonic() > deadline:
            return listing
        time.sleep(1)


def test_dead_letters_are_listed_and_replayed_after_the_fix(stack, isolated, worker_factory, monkeypatch):
    from datetime import UTC, datetime

    settings = isolated("redis", partitions=2)
    names = TopicNames.from_settings(settings)
    create_topics(settings)
    producer = StreamfeedProducer(settings)
    when = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    producer.follow("bob", "alice", time=when)
    producer.add_activity(Activity("alice", "add", "pin1", "board1", when, {"title": "Fjord"}))
    pinned = producer.codec.encode(
        ACTIVITY_EVENT,
        {
            "op": "ADD",
            "activity": {
                **Activity("alice", "add", "pin2", "board1", when).to_record(),
                "verb": "stash",
                "id": None,
            },
            "priority": None,
            "published_at": datetime.now(UTC),
            "version": None,
        },
    )
    producer.send_raw(names.activities, b"alice", pinned)  # a verb the app does not know yet
    producer.send_raw(names.activities, b"x", b"not avro")  # bad for good: stays a dead letter
    producer.flush()
    worker = worker_factory(settings, "before-fix")
    wait_until_drained(settings, workers=[worker])

    listing = wait_for_letters(settings, 2)
    assert f"{names.activities}[" in listing
    assert "UnknownVerb: verb: unknown verb" in listing and "'stash'" in listing
    assert "SerializationException" in listing and "b'not avro'" in listing
    assert listing.splitlines()[-1] == "2 dead letters"
    assert cli(settings, "dead-letters", "list", "--reason", "unknownverb").splitlines()[-1] == (
        "1 dead letters"
    )
    assert cli(settings, "dead-letters", "list", "--since", "2099-01-01").splitlines()[-1] == "0 dead letters"
    feed = storage_manager(settings).get_feed("normal", "bob")
    assert [a.object_id for a in feed[:]] == ["pin1"]

    # The same, for scripts: one JSON object each, in a documented shape.
    letters = json.loads(cli(settings, "dead-letters", "list", "--json"))
    validate(letters, DEAD_LETTERS_SCHEMA)
    assert (letters["total"], letters["shown"]) == (2, 2)
    by_type = {letter["error_type"]: letter for letter in letters["letters"]}
    assert base64.b64decode(by_type["SerializationException"]["value_base64"]) == b"not avro"
    assert by_type["UnknownVerb"]["topic"] == names.activities
    page = json.loads(cli(settings, "feed", "show", "normal", "bob", "--json", "--storage", "redis"))
    validate(page, Page.model_json_schema())
    assert [entry["object"] for entry in page["results"]] == ["pin1"] and page["next"] is None
    groups = json.loads(cli(settings, "feed", "show", "aggregated", "bob", "--json", "--storage", "redis"))
    validate(groups, Page.model_json_schema())
    assert [group["activities"][0]["object"] for group in groups["results"]] == ["pin1"]

    worker.stop()
    fixed = worker_factory(settings, "after-fix", app="tests.e2e.pin_verb_app:manager")
    dry = cli(settings, "dead-letters", "replay", "--reason", "UnknownVerb", "--dry-run")
    assert dry.strip() == "1 dead letters would be replayed"
    replayed = cli(settings, "dead-letters", "replay", "--reason", "UnknownVerb")
    assert replayed.strip() == "replayed 1 dead letters to their original topics"
    wait_until_drained(settings, workers=[fixed])
    from streamfeed.domain import verbs

    # The reader needs the fix too (it decodes the verb); registered in copies of the
    # registry, so the verb is unknown again for every later test.
    monkeypatch.setattr(verbs, "_by_id", dict(verbs._by_id))
    monkeypatch.setattr(verbs, "_by_infinitive", dict(verbs._by_infinitive))
    import tests.e2e.pin_verb_app  # noqa: F401

    feed = storage_manager(settings).get_feed("normal", "bob")
    assert sorted(a.object_id for a in feed[:]) == ["pin1", "pin2"]
    assert wait_for_letters(settings, 2, timeout=5).splitlines()[-1] == "2 dead letters"
