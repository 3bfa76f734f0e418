"""Dead letters through the CLI: listed with their reason and origin, replayed after the fix."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from streamfeed.consumers.processes import settings_env, wait_until_drained
from streamfeed.domain.activity import Activity
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.schemas.catalog import ACTIVITY_EVENT
from tests.e2e.conftest import storage_manager

pytestmark = pytest.mark.integration


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
