"""Reactions through the Manager in inline mode (issue 30): like, comment, reply, counts, pages,
"did I like this", removal for good; the Kafka driver refuses them until they have a topic."""

from __future__ import annotations

import pytest

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import ValidationError
from streamfeed.storage.memory import MemoryBackend


def test_like_comment_reply_count_page_own_and_remove():
    manager = Manager(MemoryBackend())
    pin = Activity("ann", "add", "pin:42")
    manager.add_user_activity("ann", pin)
    likes = [manager.add_reaction("like", f"fan{n}", pin.id) for n in range(5)]
    comment = manager.add_reaction("comment", "bob", pin.id, {"text": "lovely"}, reaction_id="c1")
    manager.add_reaction("comment", "bob", pin.id, {"text": "lovely"}, reaction_id="c1")  # again: once
    reply = manager.add_reaction("reply", "ann", pin.id, {"text": "thanks"}, parent_id=comment)
    assert manager.reaction_counts([pin.id]) == [{"comment": 1, "like": 5}]
    assert manager.reaction_counts([pin.id], parent_id=comment) == [{"reply": 1}]

    first = manager.reactions(pin.id, "like", limit=3)
    rest = manager.reactions(pin.id, "like", limit=3, before=first[-1])
    assert [s.reaction_id for s in first + rest] == likes[::-1]
    assert [s.reaction_id for s in manager.reactions(pin.id, "reply", parent_id=comment)] == [reply]

    manager.update_reaction(comment, pin.id, {"text": "lovely light"})
    (shown,) = manager.reactions(pin.id, "comment")
    assert shown.data == {"text": "lovely light"} and shown.identity.user_id == "bob"
    mine = manager.own_reactions("fan2", [pin.id, Activity("cat", "add", "x").id])
    assert [[s.reaction_id for s in states] for states in mine] == [[likes[2]], []]

    manager.remove_reaction(likes[2], pin.id)
    manager.add_reaction("like", "fan2", pin.id, reaction_id=likes[2])  # a late add: removed stays removed
    assert manager.reaction_counts([pin.id]) == [{"comment": 1, "like": 4}]
    assert manager.own_reactions("fan2", [pin.id]) == [[]]


def test_bad_reactions_are_refused_before_anything_is_stored():
    manager = Manager(MemoryBackend())
    pin = Activity("ann", "add", "pin:42")
    with pytest.raises(ValidationError, match="kind"):
        manager.add_reaction("Like!", "bob", pin.id)
    with pytest.raises(ValidationError, match="activity_id"):
        manager.add_reaction("like", "bob", "pin:42")
    with pytest.raises(ValidationError, match="target_feeds"):
        manager.add_reaction("like", "bob", pin.id, target_feeds=["nofeed"])
    assert manager.reaction_counts([pin.id]) == [{}]
