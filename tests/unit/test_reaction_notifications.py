"""A reaction naming target feeds tells them (issue 30): a notification activity in each target's
notification feed, gone when the reaction is removed, sent again on redelivery, never doubled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.app.manager import Manager
from streamfeed.app.steps import materialize, react_and_notify
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.reactions import add_event, reaction_identity, remove_event
from streamfeed.storage.memory import MemoryBackend

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.fixture
def manager() -> Manager:
    manager = Manager(MemoryBackend())
    manager.add_user_activity("ann", Activity("ann", "add", "pin:1", "board:1", T0))
    return manager


def pin_id(manager: Manager) -> str:
    return manager.get_user_feed("ann")[:1][0].id


def notifications(manager: Manager, user: str) -> list:
    return [a for group in manager.get_feed("notification", user)[:10] for a in group.activities]


def test_a_like_naming_the_author_s_notification_feed_reaches_it_and_its_removal_takes_it_out(manager):
    pin = pin_id(manager)
    like = manager.add_reaction("like", "bob", pin, target_feeds=["notification:ann"])
    comment = manager.add_reaction("comment", "eve", pin, {"text": "wow"}, target_feeds=["notification:ann"])
    manager.add_reaction("like", "joe", pin)  # names no feed: tells nobody
    shown = notifications(manager, "ann")
    assert sorted((a.actor_id, a.verb.infinitive, a.object_id) for a in shown) == [
        ("bob", "love", f"reaction:{like}"),
        ("eve", "comment", f"reaction:{comment}"),
    ]
    assert all(a.target_id == f"activity:{pin}" for a in shown)
    assert {a.extra_context["reaction_kind"] for a in shown} == {"like", "comment"}
    assert manager.get_feed("notification", "ann").count_unseen() >= 1

    manager.remove_reaction(like, pin)
    assert [a.actor_id for a in notifications(manager, "ann")] == ["eve"]


def test_a_redelivered_batch_sends_the_notification_again_and_it_is_stored_once(manager):
    pin = pin_id(manager)
    event = add_event("r1", reaction_identity("like", "bob", pin, None, T0, ("notification:ann",)), {}, T0)
    first = react_and_notify(manager, [event], 1)
    again = react_and_notify(manager, [event], 1)  # a worker that died before sending
    assert [b.to_record() for b in first] == [b.to_record() for b in again] and len(first) == 1
    assert first[0].feeds == ("notification",) and first[0].recipients == ["ann"]


def test_target_feeds_naming_a_feed_the_app_lacks_are_refused_at_the_edge(manager):
    with pytest.raises(ValidationError, match=r"target_feeds.*names feed 'normal'"):
        manager.add_reaction("like", "bob", pin_id(manager), target_feeds=["normal:ann"])


def test_listening_followers_and_the_author_learn_the_new_counts_and_nobody_else(manager):
    pin = pin_id(manager)
    manager.follow_user("bob", "ann")
    publisher = manager.backend.publisher
    for user in ("bob", "ann", "eve"):
        publisher.listen(user, 60)
    like = manager.add_reaction("like", "joe", pin)
    manager.add_reaction("like", "joe", pin, reaction_id=like)  # again: no change, no event
    manager.remove_reaction(like, pin)

    def reaction_events(user):
        return [e for _, e in publisher.read(user, "0", 0) if e["type"] == "reactions"]

    expected = [{"like": 1}, {}]
    assert [e["counts"] for e in reaction_events("bob")] == expected
    assert [e["counts"] for e in reaction_events("ann")] == expected
    assert reaction_events("eve") == []
    assert reaction_events("bob")[0] == {
        "type": "reactions",
        "user_id": "bob",
        "activity_id": pin,
        "counts": {"like": 1},
    }


def test_a_removal_applied_before_its_add_leaves_the_notification_feed_as_the_other_order_does():
    def feed_after(order: list[str]) -> tuple:
        manager = Manager(MemoryBackend())
        pinned = Activity("ann", "add", "pin:1", "board:1", T0)
        manager.driver.activity(ActivityEvent(ActivityOp.ADD, pinned, published_at=T0))  # one version
        pin = pinned.id
        identity = reaction_identity("like", "bob", pin, None, T0, ("notification:ann",))
        events = {
            "add": add_event("r1", identity, {}, T0),
            "remove": remove_event("r1", pin, T0 + timedelta(seconds=1)),
        }
        for name in order:
            for batch in react_and_notify(manager, [events[name]], 1):
                materialize(manager, batch)
        return manager.backend.dump()

    assert feed_after(["remove", "add"]) == feed_after(["add", "remove"])
