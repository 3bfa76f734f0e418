"""Notification counts reach realtime clients over Redis pub/sub, as docs/http-api.md documents."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregation import Delivery
from streamfeed.feeds.aggregated import NotificationFeed
from streamfeed.settings import get_settings
from streamfeed.storage.redis import RedisBackend

pytestmark = pytest.mark.integration


@pytest.fixture
def backend(redis_client):
    """A Redis backend under a prefix of its own, every key of it deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend.from_url(get_settings().redis_url, prefix=prefix)
    yield backend
    keys = list(backend.client.scan_iter(f"{prefix}*"))
    if keys:
        backend.client.delete(*keys)
    backend.close()


@pytest.fixture
def subscribed(redis_client, backend):
    """Subscribe to users' count channels; returns the next n messages, decoded."""
    pubsub = redis_client.pubsub()

    def subscribe(*users: str):
        pubsub.subscribe(*(f"{backend.prefix}notifications:{u}" for u in users))
        for _ in users:
            assert pubsub.get_message(timeout=5)["type"] == "subscribe"

        def next_messages(count: int) -> list[dict]:
            messages = []
            while len(messages) < count:
                message = pubsub.get_message(timeout=5)
                assert message is not None, f"only {messages} arrived"
                messages.append(json.loads(message["data"]))
            return messages

        return next_messages

    yield subscribe
    pubsub.close()


def test_counts_are_published_on_the_users_channel(backend, subscribed):
    next_messages = subscribed("42")
    feed = NotificationFeed("42", backend=backend)
    feed.add_many([Activity("a", "love", "p"), Activity("b", "comment", "p")])
    feed.mark_all(read=True)
    assert next_messages(2) == [
        {"user_id": "42", "feed": "notification:{42}", "unseen": 2, "unread": 2},
        {"user_id": "42", "feed": "notification:{42}", "unseen": 0, "unread": 0},
    ]


def test_new_entries_and_counts_are_kept_on_the_users_stream_in_order(backend):
    """What the HTTP API's realtime endpoint reads: every event of one user, resumable by id."""
    manager = Manager(backend)
    manager.follow_user("bob", "ann")
    manager.follow_user("dan", "ann")
    backend.publisher.listen("bob", 60)  # bob has a realtime client; dan has none
    pinned = Activity("ann", "add", "p1")
    noticed = Activity("carl", "love", "p2", to=["notification:bob"])
    manager.add_user_activity("ann", pinned)
    manager.add_user_activity("carl", noticed)
    kept = backend.publisher.read("bob", "0", 0.1)
    events = [(data["type"], data.get("name"), data.get("activity_ids")) for _, data in kept]
    assert events == [
        ("entries", "normal", [pinned.id]),
        ("entries", "aggregated", [pinned.id]),
        ("counts", None, None),
        ("entries", "notification", [noticed.id]),
    ]
    assert backend.publisher.read("bob", kept[1][0], 0.1) == kept[2:]
    assert backend.publisher.read("ann", "0", 0.1) == []  # her own user feed tells nobody
    assert backend.publisher.read("dan", "0", 0.1) == []  # nobody listens for dan


def test_inline_writes_from_many_threads_are_applied_one_at_a_time(backend):
    """The HTTP API writes inline from its request threads: an aggregated feed is read, merged
    and written, so two interleaved writes would lose one. On Redis every step waits on the
    network, so unserialized threads do interleave."""
    manager = Manager(backend)

    def publish(n: int) -> None:
        actor = f"fan{n}"
        manager.add_user_activity(actor, Activity(actor, "love", f"pin:{n}", to=["notification:bob"]))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(publish, range(90)))
    feed = manager.get_feed("notification", "bob")
    groups = feed[:]
    assert sum(group.activity_count for group in groups) == 90
    assert feed.count_unseen() == len(groups)  # the count is merged with the groups


def test_a_runs_count_changes_go_out_together_on_every_users_channel_and_stream(backend, subscribed):
    next_messages = subscribed("u1", "u2")
    state = ActivityState(Activity("a", "love", "p"), 10, 10)
    backend.activities.apply([state])
    NotificationFeed.deliver_to_many(backend, [("u1", [Delivery(state, 10)]), ("u2", [Delivery(state, 10)])])
    messages = next_messages(2)
    assert sorted((m["user_id"], m["unseen"]) for m in messages) == [("u1", 1), ("u2", 1)]
    for user in ("u1", "u2"):
        kept = backend.publisher.read(user, "0", 0.1)
        assert [(data["type"], data.get("unseen")) for _, data in kept] == [("counts", 1)]
