"""Seen and read by what the user saw, not by clocks (issue 26).

A mark names the member ids it covers, resolved from the feed when it is made
and carried by the mark event, so a producer's clock ahead or behind changes
nothing, and marks and deliveries applied in any order (a replay) give the
same groups. Each test failed on the code before: a mark was a time compared
with each member's arrival stamp, the producer's publish time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.app.manager import Manager
from streamfeed.app.steps import fanout_activity, materialize_many
from streamfeed.demo.snapshot import snapshot
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp, mark_batch
from streamfeed.storage.memory import MemoryBackend


class HeldDriver:
    """Records marks: the test decides when each is consumed."""

    def __init__(self) -> None:
        self.marks: list = []

    def mark(self, user_id, spec) -> None:
        self.marks.append(mark_batch(user_id, spec))


def held_manager() -> Manager:
    return Manager(MemoryBackend(), driver=HeldDriver())


def notice(actor: str, when: datetime, obj: str = "pin1") -> ActivityEvent:
    """An activity for bob's notification feed, published by a service whose clock says `when`."""
    activity = Activity(actor, "love", obj, time=when, to=["notification:bob"])
    return ActivityEvent(ActivityOp.ADD, activity, None, when)


def notify(manager: Manager, actor: str, when: datetime, obj: str = "pin1") -> list:
    return fanout_activity(manager, notice(actor, when, obj), 1)


@pytest.mark.parametrize("skew", [timedelta(minutes=10), timedelta(minutes=-10)], ids=["ahead", "behind"])
def test_a_producer_clock_ahead_or_behind_changes_nothing_and_a_replay_agrees(skew):
    now = datetime.now(UTC)
    live = held_manager()
    events = [notice("ann", now + skew), notice("cat", now - skew)]
    materialize_many(live, fanout_activity(live, events[0], 1))  # a service whose clock is off
    feed = live.get_feed("notification", "bob")
    feed.mark_all(seen=True)  # the user opened the menu: everything shown is seen
    marks = list(live.driver.marks)
    materialize_many(live, marks)
    assert [g.is_seen() for g in feed[:]] == [True]
    assert feed.count_unseen() == 0
    materialize_many(live, fanout_activity(live, events[1], 1))  # after the mark, the other clock
    assert feed.count_unseen() == 1  # something new: unseen, whatever its date says
    assert not feed[0].is_seen()

    replay = held_manager()  # the same events, the mark first (a rebuild may consume so)
    materialize_many(replay, marks)
    for event in reversed(events):
        materialize_many(replay, fanout_activity(replay, event, 1))
    assert snapshot(replay, ["bob"]) == snapshot(live, ["bob"])


def test_a_mark_applied_before_its_group_exists_waits_for_it():
    """Was a known limit: the mark of a group not materialized yet was lost."""
    live = held_manager()
    when = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    materialize_many(live, notify(live, "ann", when))
    live.get_feed("notification", "bob").mark_all(read=True)

    replay = held_manager()
    materialize_many(replay, live.driver.marks)  # no group yet: the mark waits in the feed's meta
    feed = replay.get_feed("notification", "bob")
    assert feed[:] == [] and replay.backend.aggregated.meta(feed.key).pending
    materialize_many(replay, notify(replay, "ann", when))
    assert [(g.is_seen(), g.is_read()) for g in feed[:]] == [(True, True)]
    assert (feed.count_unseen(), feed.count_unread()) == (0, 0)
    assert replay.backend.aggregated.meta(feed.key).pending == ()  # taken by the group
    materialize_many(replay, notify(replay, "cat", when + timedelta(seconds=1)))
    assert (feed.count_unseen(), feed.count_unread()) == (1, 1)


def test_what_the_client_did_not_display_stays_unseen_whatever_its_date():
    manager = Manager(MemoryBackend())
    when = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def publish(actor: str, obj: str, minutes: int) -> None:
        activity = Activity(
            actor, "love", obj, time=when + timedelta(minutes=minutes), to=["notification:bob"]
        )
        manager.driver.activity(ActivityEvent(ActivityOp.ADD, activity, None, when))

    publish("u1", "pin1", 0)
    feed = manager.get_feed("notification", "bob")
    page = feed[:]  # what the client displays
    publish("u2", "pin1", -30)  # arrives after the page, dated earlier (a slow clock)
    publish("u3", "pin2", 5)
    feed.mark_activities(page)  # the groups as the client holds them
    assert [(g.actor_ids, g.is_seen()) for g in feed[:]] == [(["u3"], False), (["u1", "u2"], False)]
    feed.mark_all(displayed=[a.id for g in feed[:] for a in g.activities if a.actor_id != "u3"])
    assert [(g.actor_ids, g.is_seen()) for g in feed[:]] == [(["u3"], False), (["u1", "u2"], True)]
    assert feed.count_unseen() == 1


def test_marks_by_time_from_older_producers_still_apply():
    """A mark record without covers (an older producer's) is judged by its time, as before."""
    manager = Manager(MemoryBackend())
    when = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    manager.driver.activity(
        ActivityEvent(
            ActivityOp.ADD, Activity("ann", "love", "p", time=when, to=["notification:bob"]), None, when
        )
    )
    feed = manager.get_feed("notification", "bob")
    feed.mark_all(when=when + timedelta(minutes=1))
    assert feed.count_unseen() == 0 and feed[0].seen_ids == set()
