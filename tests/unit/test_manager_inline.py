"""The pipeline's steps through the Manager in inline mode, on memory storage."""

from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.app.manager import Manager
from streamfeed.app.steps import apply_follow, fanout_activity, materialize, partition_for
from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import snapshot
from streamfeed.demo.world import generate_world
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp, FanoutPriority, FollowEvent, FollowOp
from streamfeed.domain.exceptions import ValidationError
from streamfeed.storage.memory import MemoryBackend

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def act(actor, obj, minutes=0, verb="add", **kwargs):
    return Activity(actor, verb, obj, time=T0 + timedelta(minutes=minutes), **kwargs)


@pytest.fixture
def manager():
    return Manager(MemoryBackend())


def ids(feed):
    return [a.id for a in feed[:]]


def test_add_reaches_user_feed_and_every_follower_feed(manager):
    manager.follow_many_users("fan", ["star", "other"])
    manager.follow_user("fan2", "star")
    pin = act("star", "p1")
    manager.add_user_activity("star", pin)
    assert ids(manager.get_user_feed("star")) == [pin.id]
    for user in ("fan", "fan2"):
        feeds = manager.get_feeds(user)
        assert ids(feeds["normal"]) == [pin.id]
        assert [g.activities for g in feeds["aggregated"][:]] == [[pin]]
    assert manager.get_feeds("star")["normal"].count() == 0  # not following themselves
    assert manager.backend.follows.followers("star") == ["fan", "fan2"]


def test_follow_copies_history_up_to_the_limit_and_unfollow_takes_it_out(manager):
    history = [act("star", f"p{n}", n) for n in range(5)]
    for activity in history:
        manager.add_user_activity("star", activity)
    manager.add_user_activity("other", act("other", "q", 9))
    manager.follow_user("fan", "other")
    manager.follow_user("fan", "star", activity_copy_limit=3)
    normal = manager.get_feeds("fan")["normal"]
    assert ids(normal) == [act("other", "q", 9).id, *[a.id for a in reversed(history)][:3]]
    manager.unfollow_user("fan", "star")
    assert ids(normal) == [act("other", "q", 9).id]
    assert manager.get_feeds("fan")["aggregated"].count() == 1
    manager.follow_user("fan", "star", activity_copy_limit=0)
    assert ids(normal) == [act("other", "q", 9).id]


def test_remove_reaches_every_feed_including_notifications(manager):
    manager.follow_user("fan", "star")
    love = act("star", "p1", verb="love", to=["notification:owner"])
    keep = act("star", "p2")
    manager.add_user_activity("star", love)
    manager.add_user_activity("star", keep)
    notifications = manager.get_feed("notification", "owner")
    assert notifications.count_unseen() == 1
    manager.remove_user_activity("star", love)
    assert ids(manager.get_user_feed("star")) == [keep.id]
    assert ids(manager.get_feeds("fan")["normal"]) == [keep.id]
    assert [g.group for g in manager.get_feeds("fan")["aggregated"][:]] == [f"1-{T0.date()}"]
    assert notifications.count() == 0 and notifications.count_unseen() == 0
    assert manager.backend.activities.get_many([love.id]) == {}


def test_update_changes_extra_context_everywhere_and_keeps_the_id(manager):
    manager.follow_user("fan", "star")
    original = act("star", "p1", extra_context={"title": "old"}, to=["notification:owner"])
    manager.add_user_activity("star", original)
    updated = original.with_extra_context({"title": "new"})
    manager.update_user_activity("star", updated)
    fan = manager.get_feeds("fan")
    assert fan["normal"][0].extra_context == {"title": "new"} and fan["normal"][0].id == original.id
    assert fan["aggregated"][0].activities[0].extra_context == {"title": "new"}
    assert manager.get_feed("notification", "owner")[0].activities[0].extra_context == {"title": "new"}
    assert manager.get_user_feed("star")[0].extra_context == {"title": "new"}


def test_bad_input_is_refused_with_the_field_named(manager):
    with pytest.raises(ValidationError, match="actor: does not match user 'someone'"):
        manager.add_user_activity("someone", act("star", "p"))
    with pytest.raises(ValidationError, match="to: names feed 'inbox'"):
        manager.add_user_activity("star", act("star", "p", to=["inbox:9"]))
    with pytest.raises(ValidationError, match="followed: a user cannot follow themselves"):
        manager.follow_user("me", "me")
    assert manager.get_user_feed("star").count() == 0


class LaneManager(Manager):
    fanout_chunk_size = 2

    def get_user_follower_ids(self, user_id):
        followers = self.backend.follows.followers(user_id)
        return {
            FanoutPriority.HIGH: [f for f in followers if f.startswith("active")],
            FanoutPriority.LOW: [f for f in followers if not f.startswith("active")],
        }


def test_fanout_batches_by_partition_lane_and_chunk():
    manager = LaneManager(MemoryBackend())
    followers = [f"active{n}" for n in range(7)] + [f"idle{n}" for n in range(5)]
    for follower in followers:
        manager.backend.follows.follow(follower, "star")
    event = ActivityEvent(ActivityOp.ADD, act("star", "p"), None, None)
    batches = fanout_activity(manager, event, partitions=4)
    assert all(len(b.recipients) <= 2 for b in batches)
    for batch in batches:
        assert len({partition_for(u, 4) for u in batch.recipients}) == 1
        lane = FanoutPriority.HIGH if batch.recipients[0].startswith("active") else FanoutPriority.LOW
        assert batch.priority is lane
    assert sorted(u for b in batches for u in b.recipients) == sorted(followers)
    forced = fanout_activity(manager, ActivityEvent(ActivityOp.ADD, act("star", "q"), FanoutPriority.LOW), 4)
    assert {b.priority for b in forced} == {FanoutPriority.LOW}


def test_partition_for_matches_kafkas_default_partitioner():
    # Reference values of the Java client's murmur2 partitioner for these keys over 8 partitions.
    from aiokafka.partitioner import murmur2

    for key in ("user000", "u1", "alice", "42"):
        assert partition_for(key, 8) == (murmur2(key.encode()) & 0x7FFFFFFF) % 8
    assert len({partition_for(f"user{n}", 8) for n in range(100)}) == 8


def test_every_step_twice_equals_once():
    world = generate_world(users=25, events=250, seed=3)
    once = run_inline(world)
    twice = Manager(MemoryBackend())
    for phase in world.phases:
        for event in phase:
            for _ in range(2):
                if isinstance(event, ActivityEvent):
                    batches = fanout_activity(twice, event, partitions=3)
                else:
                    batches = apply_follow(twice, event)
                for batch in batches:
                    materialize(twice, batch)
                    materialize(twice, batch)
    assert snapshot(once, world.users) == snapshot(twice, world.users)


def test_partitioned_fanout_equals_single_partition():
    world = generate_world(users=25, events=250, seed=5)
    single = run_inline(world)
    split = Manager(MemoryBackend())
    for phase in world.phases:
        for event in phase:
            if isinstance(event, FollowEvent):
                batches = apply_follow(split, event)
            else:
                batches = fanout_activity(split, event, partitions=8)
            for batch in batches:
                materialize(split, batch)
    assert snapshot(single, world.users) == snapshot(split, world.users)


def test_world_is_deterministic_and_shaped():
    a, b = generate_world(40, 400, seed=11), generate_world(40, 400, seed=11)
    assert [e.to_record() for e in a.events] == [e.to_record() for e in b.events]
    assert generate_world(40, 400, seed=12).events != a.events
    follows = [e for e in a.events if isinstance(e, FollowEvent)]
    assert any(e.op is FollowOp.UNFOLLOW for e in follows)
    assert any(isinstance(e, ActivityEvent) and e.op is ActivityOp.REMOVE for e in a.events)
    counts = {}
    for e in follows:
        counts[e.followed] = counts.get(e.followed, 0) + 1
    assert max(counts.values()) >= 4 * (sum(counts.values()) / len(a.users))  # skewed


def test_batch_import_goes_through_low_priority_fanout(manager):
    manager.follow_user("fan", "star")
    manager.batch_import("star", [act("star", f"p{n}", -n) for n in range(3)])
    assert len(ids(manager.get_feeds("fan")["normal"])) == 3


def test_materialize_many_equals_one_by_one():
    from streamfeed.app.steps import materialize_many

    world = generate_world(users=25, events=250, seed=8)
    expected = run_inline(world)
    grouped = Manager(MemoryBackend())
    for phase in world.phases:
        batches = []
        for event in phase:
            if isinstance(event, FollowEvent):
                materialize_many(grouped, batches)
                batches = []
                for batch in apply_follow(grouped, event):
                    materialize(grouped, batch)
            else:
                batches += fanout_activity(grouped, event, partitions=2)
        materialize_many(grouped, batches)
    assert snapshot(expected, world.users) == snapshot(grouped, world.users)


def test_a_run_writes_an_authors_burst_to_each_feed_once_and_trims_as_one_by_one_would():
    """Coalescing: one add per feed for every activity of the run, the same feeds as applying
    the batches one at a time (max_length 2 keeps the two newest either way)."""
    from streamfeed.app.steps import materialize_many
    from streamfeed.feeds.flat import Feed

    class Short(Feed):
        max_length = 2

    class ShortManager(Manager):
        feed_classes = {"normal": Short}  # noqa: RUF012

    one_by_one, coalesced = ShortManager(MemoryBackend()), ShortManager(MemoryBackend())
    for m in (one_by_one, coalesced):
        m.follow_many_users("fan", ["star"])
        m.follow_user("fan2", "star")
    pins = [act("star", f"p{n}", n) for n in (3, 1, 4, 2)]
    runs = {}
    for m in (one_by_one, coalesced):
        events = [ActivityEvent(ActivityOp.ADD, p) for p in pins]
        runs[m] = [b for e in events for b in fanout_activity(m, e, partitions=1)]
    assert len(runs[coalesced]) == 4
    for batch in runs[one_by_one]:
        materialize(one_by_one, batch)
    writes = []
    add_batches = coalesced.backend.timelines.add_batches
    coalesced.backend.timelines.add_batches = lambda batches, *a, **k: (
        writes.append([(list(keys), sorted(s.id for s in states)) for keys, states in batches]),
        add_batches(batches, *a, **k),
    )
    materialize_many(coalesced, runs[coalesced])
    assert writes == [[(Short.keys_for(["fan", "fan2"]), sorted(p.id for p in pins))]]
    for user in ("fan", "fan2"):
        newest = [p.id for p in sorted(pins, key=lambda p: p.time, reverse=True)[:2]]
        assert ids(coalesced.get_feeds(user)["normal"]) == newest
        assert ids(one_by_one.get_feeds(user)["normal"]) == newest


def test_late_deliveries_lose_to_removals_and_unfollows(manager):
    """Orders the pipeline can produce across topics, applied by hand: the removal wins."""
    pin = act("star", "p1")
    manager.follow_user("fan", "star")
    add = ActivityEvent(ActivityOp.ADD, pin)
    delivery = fanout_activity(manager, add, partitions=1)  # planned, not yet applied
    manager.unfollow_user("fan", "star")  # the unfollow's removal lands first...
    for batch in delivery:
        materialize(manager, batch)  # ...then the delivery arrives: dropped
    assert manager.get_feeds("fan")["normal"].count() == 0

    manager.follow_user("fan2", "star", activity_copy_limit=0)
    copy = apply_follow(manager, FollowEvent(FollowOp.FOLLOW, "fan3", "star", T0))  # copy planned
    manager.remove_user_activity("star", pin)  # removal processed before the copy lands
    for batch in copy:
        materialize(manager, batch)
    assert manager.get_feeds("fan3")["normal"].count() == 0
    manager.add_user_activity("star", pin)  # the producer adds it again: delivered again
    assert [a.id for a in manager.get_feeds("fan3")["normal"][:]] == [pin.id]
