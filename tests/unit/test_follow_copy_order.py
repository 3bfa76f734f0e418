"""A follow's copy with a limit counts the history the follow found (issue 26): activities the
followed user published after the follow take no copied entry's place, whether they were
applied before the follow (the activities topic ahead) or after it (the fanout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamfeed.app.inline import InlineDriver
from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp, FollowEvent, FollowOp
from streamfeed.storage.memory import MemoryBackend

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)


def pin(n: int) -> ActivityEvent:
    at = T0 + timedelta(minutes=n)
    return ActivityEvent(ActivityOp.ADD, Activity("ann", "add", f"pin:{n}", "board:1", at), published_at=at)


def feed_after(order: str) -> list[str]:
    manager = Manager(MemoryBackend())
    driver = InlineDriver(manager)
    follow = FollowEvent(FollowOp.FOLLOW, "bob", "ann", T0 + timedelta(minutes=10), activity_copy_limit=2)
    before, after = [pin(n) for n in (1, 2, 3)], [pin(n) for n in (11, 12)]
    for event in before:
        driver.activity(event)
    if order == "follow first":
        driver.follow(follow)
        for event in after:
            driver.activity(event)
    else:  # the activities topic ran ahead of the follows topic
        for event in after:
            driver.activity(event)
        driver.follow(follow)
    return [a.object_id for a in manager.get_feed("normal", "bob")[:10]]


def test_the_copy_is_the_same_whichever_topic_ran_ahead():
    assert feed_after("follow first") == ["pin:12", "pin:11", "pin:3", "pin:2"]
    assert feed_after("activities first") == feed_after("follow first")
