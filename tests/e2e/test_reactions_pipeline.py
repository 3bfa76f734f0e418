"""Reactions through Kafka (issue 30): published by a Manager on the Kafka driver and by a raw
producer, shuffled and sent twice, folded by a worker into Redis or Cassandra: the same states,
counts, pages and own reactions as inline mode, and the same notifications in the feed some of
them name (target_feeds); bad records go to the dead-letter topic; a new
group replaying the topic into empty storage rebuilds the same reactions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.app.manager import Manager
from streamfeed.consumers.processes import wait_until_drained
from streamfeed.domain.activity import Activity
from streamfeed.domain.reactions import (
    ReactionEvent,
    add_event,
    reaction_identity,
    remove_event,
    update_event,
)
from streamfeed.kafka.driver import KafkaDriver
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import TopicNames, create_topics
from streamfeed.ops.dead_letters import read_dead_letters
from streamfeed.ops.teardown import remove_run
from streamfeed.schemas.catalog import REACTION_EVENT
from streamfeed.schemas.codec import AvroCodec
from streamfeed.storage.memory import MemoryBackend
from tests.e2e.conftest import storage_manager

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
USERS = [f"fan{n}" for n in range(6)]
KINDS = ["like", "comment", "love"]


def reaction_events(activity_ids: list[str], seed: int) -> list[ReactionEvent]:
    """Adds, likes of comments, updates and removals over the activities, in publish order."""
    rng = random.Random(seed)
    events: list[ReactionEvent] = []
    made: list[tuple[str, str]] = []
    for n in range(240):
        at = T0 + timedelta(seconds=n)
        activity = rng.choice(activity_ids)
        roll = rng.random()
        if made and roll < 0.15:
            rid, on = rng.choice(made)
            events.append(update_event(rid, on, {"text": f"edit {n}"}, at))
        elif made and roll < 0.25:
            rid, on = rng.choice(made)
            events.append(remove_event(rid, on, at))
        else:
            comments = [rid for rid, on in made if on == activity and rid.startswith("comment")]
            parent = rng.choice(comments) if comments and roll > 0.85 else None
            kind = "like" if parent else rng.choice(KINDS)
            rid = f"{kind}{n}"
            told = ("notification:fan0",) if n % 5 == 0 and parent is None else ()  # fan0 hears of some
            identity = reaction_identity(kind, rng.choice(USERS), activity, parent, at, told)
            events.append(add_event(rid, identity, {"text": f"said {n}"}, at))
            made.append((rid, activity))
    return events


def view(manager: Manager, activity_ids: list[str]) -> dict:
    """Everything a reader sees of the activities' reactions, paged three at a time."""
    seen: dict = {"counts": manager.reaction_counts(activity_ids)}
    for activity_id in activity_ids:
        for kind in KINDS:
            pages, before = [], None
            while page := manager.reactions(activity_id, kind, limit=3, before=before):
                pages += [(s.reaction_id, s.identity.user_id, s.identity.parent_id, s.data) for s in page]
                before = page[-1]
            seen[(activity_id, kind)] = pages
    for user in USERS:
        seen[user] = [[s.reaction_id for s in own] for own in manager.own_reactions(user, activity_ids)]
    told = manager.get_feed("notification", "fan0")
    seen["notified"] = [sorted(a.object_id for a in group.activities) for group in told[:100]]
    seen["notified unseen"] = told.count_unseen()
    return seen


@pytest.mark.parametrize("storage", ["redis", "cassandra"])
def test_reactions_through_kafka_equal_inline_and_replay(stack, isolated, worker_factory, storage):
    activity_ids = [Activity(f"author{n}", "add", f"pin:{n}", time=T0).id for n in range(4)]
    events = reaction_events(activity_ids, seed=30)
    inline = Manager(MemoryBackend())
    for event in events:
        inline.driver.reaction(event)
    expected = view(inline, activity_ids)
    assert sum(sum(c.values()) for c in expected["counts"]) > 100  # a world worth comparing
    assert sum(len(group) for group in expected["notified"]) > 10  # reactions that told fan0

    settings = isolated(storage)
    names = TopicNames.from_settings(settings)
    create_topics(settings)
    worker = worker_factory(settings)
    producer = StreamfeedProducer(settings)
    # Shuffled (an update before its add, a removal before both) and many sent twice: the state
    # is a join, so neither order nor redelivery shows. Some through a Manager on the Kafka driver.
    shuffled = [e for e in events for _ in range(random.Random(7).randint(1, 2))]
    random.Random(8).shuffle(shuffled)
    writer = Manager(MemoryBackend(), driver=KafkaDriver(producer))
    bad_kind = dict(events[0].to_record(), identity=dict(events[0].to_record()["identity"], kind="Like!"))
    for n, event in enumerate(shuffled):
        if n == 40:
            producer.send_raw(names.reactions, b"bad", b"not avro at all")
            producer.send_raw(names.reactions, b"bad", AvroCodec().encode(REACTION_EVENT, bad_kind))
        (writer.driver.reaction if n % 3 == 0 else producer.send_reaction)(event)
    producer.flush()
    wait_until_drained(settings, timeout=180, workers=[worker])

    assert view(storage_manager(settings), activity_ids) == expected
    letters = list(read_dead_letters(settings))
    assert sorted((letter.topic, letter.error_type) for letter in letters) == [
        (names.reactions, "SerializationException"),
        (names.reactions, "ValidationError"),
    ]
    assert any("kind" in letter.error for letter in letters)
    assert worker.running

    # A new group over the same topics into empty storage: the reactions come back the same.
    replay = settings.model_copy(
        update={
            "app_id": f"{settings.app_id}-replay",
            "redis_prefix": f"{settings.redis_prefix}replay:",
            "cassandra_keyspace": f"{settings.cassandra_keyspace}_replay",
            "internal_topic_prefix": f"{settings.topic_prefix}replay.",
        }
    )
    create_topics(replay)
    replayer = worker_factory(replay, "replay")
    try:
        wait_until_drained(replay, timeout=180, workers=[replayer])
        assert view(storage_manager(replay), activity_ids) == expected
    finally:
        replayer.stop(timeout=15)
        remove_run(replay)
