"""One user's feeds rebuilt from the activities that concern them and the followed users' user feeds."""

from __future__ import annotations

import pytest

from streamfeed.app.steps import plan_user_rebuild
from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import snapshot
from streamfeed.demo.world import generate_world
from streamfeed.domain.events import ActivityEvent


def forget_feeds(manager, user_id: str) -> None:
    """Lose every feed of one user, as a deleted key or a corrupted row would."""
    backend = manager.backend
    for feed_class in manager.all_feed_classes().values():
        key = feed_class.key_for(user_id)
        backend.timelines.timelines.pop(key, None)
        backend.aggregated.groups.pop(key, None)
        backend.aggregated.metas.pop(key, None)


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_a_users_feeds_come_back_exactly_from_the_activities_and_the_follow_graph(seed):
    world = generate_world(users=40, events=500, seed=seed)
    manager = run_inline(world)
    before = snapshot(manager, world.users)
    activities = [e.activity for e in world.events if isinstance(e, ActivityEvent)]
    # A user who follows others, posts, and is notified: every kind of feed is exercised.
    user = max(
        world.users,
        key=lambda u: (
            len(manager.backend.follows.following(u)) > 0,
            sum(a.actor_id == u for a in activities) > 0,
            sum(f"notification:{u}" in a.to for a in activities),
        ),
    )
    assert any(
        before[(name, user)] != ([], None) and before[(name, user)] != [] for name in ("notification",)
    )
    forget_feeds(manager, user)
    assert snapshot(manager, [user]) != {key: value for key, value in before.items() if key[1] == user}

    manager.driver.deliver(user, plan_user_rebuild(manager, user, activities))
    assert snapshot(manager, world.users) == before
