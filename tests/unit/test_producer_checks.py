"""The Python producer refuses what a worker would dead-letter, before anything is sent."""

import pytest

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import ValidationError
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.settings import get_settings
from streamfeed.storage.memory import MemoryBackend


@pytest.fixture
def producer():
    settings = get_settings().model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})  # nothing is sent
    made = StreamfeedProducer(settings, manager=Manager(MemoryBackend()))
    sent = []
    made._produce = lambda *args: sent.append(args)
    yield made
    assert sent == []  # every call below was refused before reaching the client


@pytest.mark.parametrize("bad", [None, True, "a b", "x" * 201])
def test_follow_refuses_what_is_not_a_user_id(producer, bad):
    with pytest.raises(ValidationError, match="follower"):
        producer.follow(bad, "ann")
    with pytest.raises(ValidationError, match="followed"):
        producer.unfollow("ann", bad)


def test_to_is_checked_against_the_apps_feeds(producer):
    with pytest.raises(ValidationError, match="`to` may name only: notification"):
        producer.add_activity(Activity("ann", "love", "p1", to=["normal:bob"]))


@pytest.mark.parametrize("bad", [None, True, 1.5, "a b"])
def test_manager_follow_refuses_what_is_not_a_user_id(bad):
    manager = Manager(MemoryBackend())
    with pytest.raises(ValidationError, match="follower"):
        manager.follow_user(bad, "ann")
    with pytest.raises(ValidationError, match="followed"):
        manager.follow_user("ann", bad)
    assert manager.backend.follows.followers("ann") == [] and manager.backend.follows.following("ann") == []
