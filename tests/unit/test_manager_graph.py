"""The follow graph as data (issue 30): batch follows checked whole before any is published,
followers and following paged by user id, counts, and "does A follow B" for many pairs."""

from __future__ import annotations

import pytest

from streamfeed.app.manager import Manager
from streamfeed.domain.exceptions import ValidationError
from streamfeed.storage.memory import MemoryBackend


@pytest.fixture
def manager() -> Manager:
    return Manager(MemoryBackend())


def test_batch_follows_then_lists_counts_and_checks(manager):
    fans = [f"fan{n:02d}" for n in range(30)]
    assert manager.follow_pairs([(fan, "star") for fan in fans] + [("fan00", "other")]) == 31
    assert manager.followers("star", limit=25) == fans[:25]
    assert manager.followers("star", limit=25, after="fan24") == fans[25:]
    assert manager.followers("star", after=fans[-1]) == []
    assert manager.following("fan00") == ["other", "star"]
    assert manager.follow_counts("star") == (30, 0)
    assert manager.follow_counts("fan00") == (0, 2)
    asked = [("fan00", "star"), ("star", "fan00"), ("fan29", "star"), ("fan01", "other")]
    assert manager.is_following(asked) == [True, False, True, False]

    assert manager.unfollow_pairs([("fan00", "star"), ("fan01", "star")]) == 2
    assert manager.followers("star", limit=2) == ["fan02", "fan03"]
    assert manager.follow_counts("star") == (28, 0)
    assert manager.is_following([("fan00", "star")]) == [False]


def test_a_bad_pair_fails_the_whole_batch_and_publishes_nothing(manager):
    with pytest.raises(ValidationError, match="followed"):
        manager.follow_pairs([("ann", "bob"), ("ann", "not a user id")])
    assert manager.following("ann") == []
    with pytest.raises(ValidationError, match="limit"):
        manager.followers("ann", limit=0)
    with pytest.raises(ValidationError, match="after"):
        manager.followers("ann", after="bad id!")
