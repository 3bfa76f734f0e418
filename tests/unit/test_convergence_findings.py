"""One test per finding of the convergence review: each failed on the main before this change.

They use the real steps on memory storage, delivering batches in the order
each finding needs (what Kafka allows: topics and lanes are independent).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from streamfeed.app.manager import Manager
from streamfeed.app.steps import apply_follow, fanout_activity, materialize_many
from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregators import RecentVerbAggregator
from streamfeed.domain.events import (
    ActivityEvent,
    ActivityOp,
    FanoutPriority,
    FollowEvent,
    FollowOp,
    mark_batch,
)
from streamfeed.domain.exceptions import ValidationError
from streamfeed.storage.memory import MemoryBackend
from tests.simulation.sim import TrimManager, run_inline, run_pipeline, stored

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def add(actor, obj, when, **kwargs) -> ActivityEvent:
    return ActivityEvent(ActivityOp.ADD, Activity(actor, "love", obj, time=when, **kwargs), None, when)


class HeldDriver:
    """A driver that only records: the test decides when each message is consumed."""

    def __init__(self) -> None:
        self.marks: list = []

    def mark(self, user_id, spec) -> None:
        self.marks.append(mark_batch(user_id, spec))


def pipeline_manager(cls=Manager) -> Manager:
    return cls(MemoryBackend(), driver=HeldDriver())


def follow(manager, follower, followed, when):
    return apply_follow(manager, FollowEvent(FollowOp.FOLLOW, follower, followed, when))


def test_1_marks_are_events_applied_by_the_feeds_owner_and_counts_never_drift():
    manager = pipeline_manager()
    first = fanout_activity(manager, add("ann", "pin1", at(1), to=["notification:bob"]), 1)
    materialize_many(manager, first)
    feed = manager.get_feed("notification", "bob")
    feed.mark_all(seen=True, read=True, when=at(2))
    assert feed.count_unseen() == 1  # published, not written by the caller
    second = fanout_activity(manager, add("cat", "pin2", at(3), to=["notification:bob"]), 1)
    materialize_many(manager, [*manager.driver.marks, *second])  # the mark lands between the two
    groups = feed[:]
    assert [g.is_seen() for g in groups] == [False, True]
    assert (feed.count_unseen(), feed.count_unread()) == (1, 1)


def test_2_a_late_add_never_reverts_an_update():
    manager = pipeline_manager()
    materialize_many(manager, follow(manager, "bob", "ann", at(0)))
    original = Activity("ann", "love", "pin1", time=at(1), extra_context={"title": "old"})
    low = fanout_activity(manager, ActivityEvent(ActivityOp.ADD, original, FanoutPriority.LOW, at(1)), 1)
    updated = original.with_extra_context({"title": "new"})
    high = fanout_activity(manager, ActivityEvent(ActivityOp.UPDATE, updated, None, at(2)), 1)
    redelivered = fanout_activity(manager, ActivityEvent(ActivityOp.ADD, original, None, at(1)), 1)
    materialize_many(manager, [*high, *low, *redelivered])
    # The redelivered ADD is delivered again (its first run may have died before sending),
    # with the stored, newest body: never the old one.
    assert [a.extra_context for b in redelivered for a in b.activities] == [{"title": "new"}]
    for feed in (manager.get_user_feed("ann"), manager.get_feeds("bob")["normal"]):
        assert [a.extra_context for a in feed[:]] == [{"title": "new"}]
    assert manager.get_feeds("bob")["aggregated"][0].activities[0].extra_context == {"title": "new"}


class LaneManager(Manager):
    def get_user_follower_ids(self, user_id):
        followers = self.backend.follows.followers(user_id)
        return {FanoutPriority.LOW: followers}


def test_3_an_unfollow_wins_over_a_late_delivery_whatever_the_lanes_hook_does():
    manager = pipeline_manager(LaneManager)
    materialize_many(manager, follow(manager, "bob", "ann", at(0)))
    late = fanout_activity(manager, add("ann", "pin1", at(1)), 1)
    unfollow = apply_follow(manager, FollowEvent(FollowOp.UNFOLLOW, "bob", "ann", at(2)))
    materialize_many(manager, [*unfollow, *late])
    assert manager.get_feeds("bob")["normal"].count() == 0
    assert manager.get_feeds("bob")["aggregated"].count() == 0


def test_4_a_late_activity_makes_its_group_unseen_whatever_the_lag():
    manager = pipeline_manager()
    materialize_many(manager, fanout_activity(manager, add("ann", "pin1", at(1), to=["notification:bob"]), 1))
    feed = manager.get_feed("notification", "bob")
    feed.mark_all(when=at(5))
    late = fanout_activity(manager, add("cat", "pin1", at(2), to=["notification:bob"]), 1)  # published at 2
    materialize_many(manager, manager.driver.marks)
    newer = fanout_activity(manager, add("dan", "pin1", at(9), to=["notification:bob"]), 1)
    materialize_many(manager, late)
    assert feed[0].is_seen()  # published before the mark: seen, though it arrived after
    materialize_many(manager, newer)
    assert not feed[0].is_seen() and feed.count_unseen() == 1


def test_5_groups_hold_member_sets_so_copies_and_live_deliveries_agree():
    manager = pipeline_manager()
    materialize_many(manager, follow(manager, "live", "ann", at(0)))
    events = [add("ann", f"pin{n}", at(n + 1)) for n in range(40)]
    for event in events:
        materialize_many(manager, fanout_activity(manager, event, 1))
    copied = follow(manager, "late", "ann", at(100))
    for batch in copied:  # copies come newest first
        materialize_many(manager, [batch])
    materialize_many(manager, fanout_activity(manager, events[3], 1))  # a redelivered old add
    live, late = manager.get_feeds("live")["aggregated"][0], manager.get_feeds("late")["aggregated"][0]
    assert live.activity_count == late.activity_count == 40
    assert live.live_ids == late.live_ids and len(live.activities) == 15
    removal = ActivityEvent(ActivityOp.REMOVE, events[39].activity, None, at(200))
    materialize_many(manager, fanout_activity(manager, removal, 1))
    assert manager.get_feeds("live")["aggregated"][0].activity_count == 39
    assert len(manager.get_feeds("live")["aggregated"][0].activities) == 15  # the next one shown in full


def test_6_remove_and_update_reach_recorded_targets_without_to():
    manager = Manager(MemoryBackend())
    activity = Activity("ann", "love", "pin1", time=at(1), to=["notification:dave"])
    manager.add_user_activity("ann", activity)
    bare = Activity("ann", "love", "pin1", time=at(1), extra_context={"title": "new"})
    assert bare.id == activity.id
    manager.update_user_activity("ann", bare)
    notifications = manager.get_feed("notification", "dave")
    assert notifications[0].activities[0].extra_context == {"title": "new"}
    manager.remove_user_activity("ann", Activity("ann", "love", "pin1", time=at(1)))
    assert notifications.count() == 0 and notifications.count_unseen() == 0
    manager.update_user_activity("ann", bare)  # an update of a removed activity stays removed
    assert manager.get_user_feed("ann").count() == 0 and notifications.count() == 0


@pytest.mark.parametrize("target", ["user:victim", "normal:victim", "aggregated:victim"])
def test_7_to_names_only_feeds_meant_for_it(target):
    manager = Manager(MemoryBackend())
    with pytest.raises(ValidationError, match="`to` may name only: notification"):
        manager.add_user_activity("ann", Activity("ann", "love", "pin1", time=at(1), to=[target]))
    assert manager.get_feed("user", "victim").count() == 0


@pytest.mark.parametrize("bad", ["a b", "a}", "x\x00", "y" * 201, ""])
def test_8_a_bad_user_id_is_refused_where_the_event_is_built(bad):
    record = {"op": "FOLLOW", "follower": bad, "followed": "ann", "time": at(0)}
    with pytest.raises(ValidationError, match="follower"):
        FollowEvent.from_record(record)
    with pytest.raises(ValidationError, match="to"):
        Activity("ann", "love", "pin1", to=[f"notification:{bad}"])


def test_9_seen_is_judged_by_arrival_not_by_the_activitys_own_time():
    manager = Manager(MemoryBackend())
    now = datetime.now(UTC)
    future = Activity("ann", "love", "pin1", time=now + timedelta(minutes=5), to=["notification:bob"])
    manager.add_user_activity("ann", future)
    feed = manager.get_feed("notification", "bob")
    feed.mark_all()
    assert feed[0].is_seen() and feed.count_unseen() == 0
    old = Activity("cat", "love", "pin1", time=now - timedelta(minutes=1), to=["notification:bob"])
    time.sleep(0.002)  # published strictly after the mark, whatever the clock's resolution
    manager.add_user_activity("cat", old)  # dated before the mark, arrives after it
    (joined,) = [g for g in feed[:] if old in g]  # near midnight the two are in two groups
    assert not joined.is_seen() and feed.count_unseen() == 1


def test_10_merge_ranks_new_groups_newest_first():
    aggregator = RecentVerbAggregator()
    activities = [Activity("ann", verb, "p", time=at(n * 86_400)) for n, verb in enumerate(["love", "add"])]
    new, changed, deleted = aggregator.merge([], activities)
    assert [g.group for g in new] == [g.group for g in aggregator.aggregate(activities)]
    assert new[0].last_activity.time > new[1].last_activity.time and changed == deleted == []


def test_11_trimming_does_not_depend_on_when_a_removal_arrives():
    from tests.simulation.sim import World

    events = [FollowEvent(FollowOp.FOLLOW, "bob", "ann", at(0))]
    events += [add("ann", f"pin{n}", at(n + 1)) for n in range(6)]
    events.append(ActivityEvent(ActivityOp.REMOVE, events[-1].activity, None, at(10)))
    world = World(["ann", "bob"], events, TrimManager)
    expected = stored(run_inline(world))
    for seed in range(40):
        assert stored(run_pipeline(world, seed)[0]) == expected
    feed = run_inline(world).get_feeds("bob")["normal"]
    assert feed.count() == 3  # 4 slots, one held by the removed activity


def test_12_storage_stays_bounded():
    clock = [1_000.0]
    manager = Manager(MemoryBackend(clock=lambda: clock[0]))
    manager.follow_user("bob", "ann")
    activity = Activity("ann", "love", "pin1", time=at(1))
    manager.add_user_activity("ann", activity)
    backend = manager.backend
    assert list(backend.activities.data) == [activity.id]  # no removal marker written per ADD
    manager.remove_user_activity("ann", activity)
    assert backend.activities.get_states([activity.id])[activity.id].removed
    clock[0] += backend.activities.removed_ttl + 1
    assert backend.activities.get_states([activity.id]) == {}  # the removal expired
    assert manager.get_feeds("bob")["normal"].count() == 0


def test_13_unfollow_and_trimming_commute():
    """bob's short feed (4 slots): alice's four activities push carol's out, then bob unfollows alice.

    Applied in event order, carol's entry was trimmed before the unfollow;
    with alice's fanout consumed after the unfollow (topics are independent),
    it used to survive. Hidden slots make both orders store the same feeds.
    """

    def run(alice_after_unfollow: bool) -> dict:
        manager = TrimManager(MemoryBackend())
        for followed in ("alice", "carol"):
            materialize_many(manager, follow(manager, "bob", followed, at(1)))
        materialize_many(manager, fanout_activity(manager, add("carol", "c1", at(2)), 1))
        alice = [
            add("alice", f"a{n}", at(3 + n)) for n in range(TrimManager.feed_classes["normal"].max_length)
        ]
        unfollow = FollowEvent(FollowOp.UNFOLLOW, "bob", "alice", at(10))
        steps = [*alice, unfollow] if not alice_after_unfollow else [unfollow, *alice]
        for event in steps:
            if isinstance(event, FollowEvent):
                materialize_many(manager, apply_follow(manager, event))
            else:
                materialize_many(manager, fanout_activity(manager, event, 1))
        return stored(manager), manager.get_feeds("bob")["normal"].count()

    (late, late_count), (in_order, in_order_count) = run(True), run(False)
    assert late == in_order
    assert late_count == in_order_count == 0  # carol's entry was pushed out; alice's are hidden
    assert len(in_order["hidden"]["feed:{bob}"]) == 4


def test_14_an_emptied_group_keeps_its_place():
    """A removal that empties a group leaves it dormant: max_length still counts it, so the
    groups kept do not depend on whether the removal came before or after newer groups."""

    class TwoGroups(TrimManager):
        class Aggregated(TrimManager.feed_classes["aggregated"]):
            max_length = 2

        feed_classes: ClassVar = {**TrimManager.feed_classes, "aggregated": Aggregated}

    def run(love_late: bool) -> dict:
        manager = TwoGroups(MemoryBackend())
        materialize_many(manager, follow(manager, "bob", "ann", at(0)))
        events = [
            ActivityEvent(ActivityOp.ADD, Activity("ann", verb, "p", time=at(n + 1)), lane, at(n + 1))
            for n, (verb, lane) in enumerate([("love", FanoutPriority.LOW), ("add", None), ("comment", None)])
        ]
        removal = ActivityEvent(ActivityOp.REMOVE, events[2].activity, None, at(5))
        love, *rest = [fanout_activity(manager, e, 1) for e in [*events, removal]]
        for ops in [*rest, love] if love_late else [love, *rest]:  # the LOW lane lags, or not
            materialize_many(manager, ops)
        return stored(manager), [g.verb.infinitive for g in manager.get_feeds("bob")["aggregated"][:]]

    (late, late_shown), (in_order, in_order_shown) = run(True), run(False)
    assert late == in_order
    assert late_shown == in_order_shown == ["add"]  # love pushed out by the emptied comment group
    assert len(late["dormant"]["aggregated:{bob}"]) == 1


def _late_unfollow_run(manager_class: type[Manager], unfollow_first: bool, later: int) -> Manager:
    """bob follows carol and alice; carol fills bob's short feed (4 slots); bob unfollows alice,
    then alice publishes `later` activities: consumed after the unfollow (event order) or
    before it (the follows topic behind the activities topic)."""
    manager = manager_class(MemoryBackend())
    for followed in ("alice", "carol"):
        materialize_many(manager, follow(manager, "bob", followed, at(1)))
    for n in range(4):
        materialize_many(manager, fanout_activity(manager, add("carol", f"c{n}", at(2 + n)), 1))
    unfollow = FollowEvent(FollowOp.UNFOLLOW, "bob", "alice", at(10))
    alice = [add("alice", f"a{n}", at(11 + n)) for n in range(later)]
    for event in [unfollow, *alice] if unfollow_first else [*alice, unfollow]:
        if isinstance(event, FollowEvent):
            materialize_many(manager, apply_follow(manager, event))
        else:
            materialize_many(manager, fanout_activity(manager, event, 1))
    return manager


def _bobs_feed(manager: Manager) -> list[str]:
    return [a.object_id for a in manager.get_feeds("bob")["normal"][:]]


def test_15_an_unfollow_behind_activities_published_after_it_leaves_trimmed_feeds_as_in_event_order():
    """Alice's deliveries, consumed before the unfollow that should have stopped them, push
    carol's entries past max_length; the unfollow takes them out and the trimmed entries come
    back from the feed's trim slack, so both orders show and store the same feed."""
    for later in (1, 3, 6):
        in_order = _late_unfollow_run(TrimManager, True, later)
        late = _late_unfollow_run(TrimManager, False, later)
        assert _bobs_feed(late) == _bobs_feed(in_order) == ["c3", "c2", "c1", "c0"]
        assert stored(late) == stored(in_order)


def test_15_beyond_the_trim_slack_the_oldest_entries_stay_out():
    """The bound: a feed refills at most trim_slack entries; each delivery beyond that many
    before the unfollow costs the feed its oldest entry (shorter, never wrong)."""

    class OneSlack(TrimManager.feed_classes["normal"]):
        trim_slack = 1

    class OneSlackManager(TrimManager):
        feed_classes: ClassVar = {**TrimManager.feed_classes, "normal": OneSlack}

    late = _late_unfollow_run(OneSlackManager, False, 3)
    assert _bobs_feed(late) == ["c3", "c2"]  # three pushed out, one kept aside: two short
    assert _bobs_feed(_late_unfollow_run(OneSlackManager, True, 3)) == ["c3", "c2", "c1", "c0"]
