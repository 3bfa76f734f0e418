"""Hybrid push/pull on memory storage: reads of followers of pulled authors equal fully pushed
reads, whatever the switches and wherever they sit in the stream; less is stored.

The same worlds run on Redis, a Redis Cluster and Cassandra in
tests/contract/test_hybrid_contract.py, and under every Kafka schedule in
tests/simulation.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from streamfeed.app.manager import Manager
from streamfeed.app.steps import fanout_many
from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import differences, snapshot
from streamfeed.demo.world import World, generate_world, with_pulled_authors
from streamfeed.domain.activity import Activity
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent, ActivityOp
from streamfeed.feeds.flat import Feed, UserFeed
from streamfeed.storage.memory import MemoryBackend


def scattered(world: World, seed: int) -> World:
    """The world's switches moved to random places in random phases."""
    rng = random.Random(seed)
    switches = [e for phase in world.phases for e in phase if isinstance(e, AuthorModeEvent)]
    phases = [[e for e in phase if not isinstance(e, AuthorModeEvent)] for phase in world.phases]
    for switch in switches:
        phase = phases[rng.randrange(len(phases))]
        phase.insert(rng.randint(0, len(phase)), switch)
    return World(world.users, phases)


@pytest.mark.parametrize("seed", range(6))
def test_followers_of_pulled_authors_read_what_a_fully_pushed_world_gives(seed):
    rng = random.Random(seed)
    world = generate_world(users=rng.choice([8, 20]), events=rng.choice([300, 600]), seed=seed)
    hybrid = scattered(with_pulled_authors(world, authors=rng.randint(1, 3)), seed)
    pushed = snapshot(run_inline(world), world.users)
    assert differences(pushed, snapshot(run_inline(hybrid), world.users)) == []


def flat_entries(manager: Manager) -> dict[str, list[str]]:
    timelines = manager.backend.timelines.timelines
    return {key: ids for key, ids in timelines.items() if key.startswith("feed:")}


def test_pulled_activities_are_not_stored_in_followers_flat_feeds_but_are_read():
    world = generate_world(users=20, events=500, seed=3)
    hybrid_world = with_pulled_authors(world, authors=2, crossing=False)
    pulled = {e.author for e in hybrid_world.phases[0] if isinstance(e, AuthorModeEvent)}
    by_pulled = {
        e.activity.id for e in world.events if isinstance(e, ActivityEvent) and e.activity.actor_id in pulled
    }
    pushed, hybrid = run_inline(world), run_inline(hybrid_world)
    stored = {i for ids in flat_entries(hybrid).values() for i in ids}
    assert by_pulled and not stored & by_pulled
    shown = {i for ids in snapshot(hybrid, world.users).values() if isinstance(ids, list) for i in ids}
    assert shown & by_pulled, "followers read the pulled authors' activities"
    # Fewer entries stored (feeds full at max_length keep others in their places instead).
    assert sum(map(len, flat_entries(hybrid).values())) < sum(map(len, flat_entries(pushed).values()))


def test_pages_filters_order_and_count_match_on_a_merged_feed():
    world = generate_world(users=10, events=600, seed=5)
    pushed, hybrid = run_inline(world), run_inline(with_pulled_authors(world, authors=3))
    readers = [u for u in world.users if pushed.get_feed("normal", u).count() > 30][:5]
    assert readers
    for user in readers:
        a, b = pushed.get_feed("normal", user), hybrid.get_feed("normal", user)
        assert b.count() == a.count()
        middle = a[10].id
        for read in (
            lambda f, _: f[:25],
            lambda f, _: f[7:19],
            lambda f, m: f.filter(activity_id__lt=m)[:6],
            lambda f, m: f.filter(activity_id__gte=m)[:50],
            lambda f, _: f.order_by("activity_id")[:9],
            lambda f, m: f.order_by("activity_id").filter(activity_id__gt=m)[2:5],
        ):
            assert [x.id for x in read(b, middle)] == [x.id for x in read(a, middle)]


class ThresholdManager(Manager):
    feed_classes: ClassVar = {"normal": Feed}
    pull_threshold = 3


def activity(actor: str, minutes: int) -> Activity:
    when = datetime.now(UTC) + timedelta(hours=1, minutes=minutes)  # after any switch made now
    return Activity(actor, "add", f"pin{minutes}", "board", when, {})


def test_the_threshold_switches_an_author_to_pull_and_back_through_events():
    hybrid, pushed = ThresholdManager(MemoryBackend()), Manager(MemoryBackend())
    pushed.feed_classes = {"normal": Feed}
    fans = [f"fan{n}" for n in range(4)]

    def both(action) -> None:
        action(hybrid)
        action(pushed)

    for fan in fans:
        both(lambda m, fan=fan: m.follow_user(fan, "star"))
    first, second, third = activity("star", 1), activity("star", 2), activity("star", 3)
    both(lambda m: m.add_user_activity("star", first))  # pushed; its fanout saw 4 followers
    assert hybrid.backend.follows.author_modes()["star"][-1][1] is True
    both(lambda m: m.add_user_activity("star", second))  # pulled: only the user feed has it
    assert second.id not in hybrid.backend.timelines.timelines["feed:{fan0}"]
    assert [a.id for a in hybrid.get_feed("normal", "fan0")[:]] == [second.id, first.id]

    for fan in fans[:2]:  # 2 followers left: below 0.9 x 3, back to push
        both(lambda m, fan=fan: m.unfollow_user(fan, "star"))
    both(lambda m: m.add_user_activity("star", third))
    changes = hybrid.backend.follows.author_modes()["star"]
    assert [pulled for _, pulled in changes] == [True, False]
    # The switch back covers `second` (later than it): it was delivered then, as pushing would have.
    assert second.id in hybrid.backend.timelines.timelines["feed:{fan3}"]
    for fan in fans:
        assert [a.id for a in hybrid.get_feed("normal", fan)[:]] == [
            a.id for a in pushed.get_feed("normal", fan)[:]
        ]


def test_when_every_follower_feed_pulls_the_fanout_sends_followers_nothing():
    manager = ThresholdManager(MemoryBackend())
    for fan in ("a", "b"):
        manager.follow_user(fan, "star")
    manager.pull_author("star", at=datetime(2026, 1, 1, tzinfo=UTC))
    pin = Activity("star", "add", "pin1", None, datetime(2026, 2, 1, tzinfo=UTC), {})
    notify = Activity(
        "star", "add", "pin2", None, datetime(2026, 2, 2, tzinfo=UTC), {}, to=["notification:a"]
    )
    plans = fanout_many(manager, [ActivityEvent(ActivityOp.ADD, a) for a in (pin, notify)], 4)
    assert plans[0] == []
    assert [b.feeds for b in plans[1]] == [("notification",)]  # `to` targets are always pushed
    # Nothing to materialize, and yet read at once: the fanout wrote the author's user feed.
    assert [a.id for a in manager.get_feed("normal", "a")[:]] == [notify.id, pin.id]
    assert not manager.backend.timelines.timelines.get("feed:{a}")


class ShortUserFeed(UserFeed):
    max_length = 5


class ShortUserFeedManager(Manager):
    user_feed_class = ShortUserFeed


def test_a_feed_longer_than_the_user_feed_stays_pushed():
    """Pulled entries come from the author's user feed: one that keeps fewer than the follower's
    feed shows would lose entries, so such a feed is pushed whatever the modes say."""
    manager = ShortUserFeedManager(MemoryBackend())
    assert manager.pulling_feed_names() == []
    world = generate_world(users=12, events=400, seed=9)
    hybrid = with_pulled_authors(world, authors=2)
    plain = snapshot(run_inline(world, manager_class=ShortUserFeedManager), world.users)
    merged = run_inline(hybrid, manager_class=ShortUserFeedManager)
    assert differences(plain, snapshot(merged, world.users)) == []
    assert sum(map(len, flat_entries(merged).values())) == sum(
        map(len, flat_entries(run_inline(world, manager_class=ShortUserFeedManager)).values())
    )


def test_following_a_pulled_author_again_shows_what_the_unfollow_hid_as_a_pushed_follow_does():
    """Found by the simulation: the follow came before the switch reached the pipeline, so its copy
    wrote the activity into the feed; the unfollow hid it there; the second follow's copy was
    skipped as pulled, and the feed's own hidden flag won over the merge. Copies are written to
    pulling feeds too (FanoutBatch.history), as a pushed follow writes them."""
    hybrid, pushed = Manager(MemoryBackend()), Manager(MemoryBackend())
    for manager in (hybrid, pushed):
        manager.feed_classes = {"normal": Feed}
    pin = activity("star", 1)
    for manager in (hybrid, pushed):
        manager.add_user_activity("star", pin)
        manager.follow_user("fan", "star")
    hybrid.pull_author("star", at=pin.time - timedelta(minutes=5))  # met after the follow
    for manager in (hybrid, pushed):
        manager.unfollow_user("fan", "star")
        assert manager.get_feed("normal", "fan")[:] == []
        manager.follow_user("fan", "star")
    assert [a.id for a in pushed.get_feed("normal", "fan")[:]] == [pin.id]
    assert [a.id for a in hybrid.get_feed("normal", "fan")[:]] == [pin.id]
    assert hybrid.get_feed("normal", "fan").count() == 1


@pytest.mark.parametrize("with_aggregated", [False, True])
def test_a_pulled_activity_tells_listening_followers_of_its_new_entry(with_aggregated):
    """Flat feeds only: the fanout sends followers nothing and announces it to those listening;
    with an aggregated feed (pushed) the batch goes out and the materializer announces the flat
    entry it does not write."""
    from streamfeed.feeds.aggregated import AggregatedFeed

    manager = Manager(MemoryBackend())
    manager.feed_classes = {"normal": Feed, **({"aggregated": AggregatedFeed} if with_aggregated else {})}
    for fan in ("fan", "quiet", "gone"):
        manager.follow_user(fan, "star")
    manager.unfollow_user("gone", "star")
    manager.pull_author("star", at=datetime.now(UTC))
    publisher = manager.backend.publisher
    for user in ("fan", "gone", "stranger"):
        publisher.listen(user, 60)
    pin = activity("star", 1)
    manager.add_user_activity("star", pin)
    assert pin.id not in manager.backend.timelines.timelines.get("feed:{fan}", {})  # pulled
    flat = [m for _, m in publisher.read("fan", "0", 0) if m["type"] == "entries" and m["name"] == "normal"]
    assert flat == [
        {
            "type": "entries",
            "user_id": "fan",
            "feed": "feed:{fan}",
            "name": "normal",
            "activity_ids": [pin.id],
        }
    ]
    for user in ("quiet", "gone", "stranger"):  # not listening, not following any more, never
        assert not [m for _, m in publisher.read(user, "0", 0) if m.get("name") == "normal"]
