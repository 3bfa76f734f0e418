"""Fanout in pages of followers: the first page planned with the run, the rest a page at a time,
and feeds the same as a fanout that read every follower at once."""

from __future__ import annotations

from datetime import UTC, datetime

from streamfeed.app.manager import Manager
from streamfeed.app.steps import FanoutRest, expand_rests, fanout_activity
from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import differences, snapshot
from streamfeed.demo.world import generate_world
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityEvent, ActivityOp
from streamfeed.storage.memory import MemoryBackend


class PagedManager(Manager):
    follower_page_size = 3


def test_an_author_with_more_followers_than_a_page_is_planned_a_page_at_a_time():
    manager = PagedManager(MemoryBackend())
    fans = [f"fan{n:02d}" for n in range(10)]
    for fan in fans:
        manager.follow_user(fan, "star")
    pin = Activity("star", "add", "pin1", None, datetime(2026, 3, 1, tzinfo=UTC), {})
    planned = fanout_activity(manager, ActivityEvent(ActivityOp.ADD, pin), partitions=2)
    first = [b for b in planned if not isinstance(b, FanoutRest)]
    rests = [b for b in planned if isinstance(b, FanoutRest)]
    assert len(rests) == 1 and sorted(r for b in first for r in b.recipients) == fans[:3]
    batches = list(expand_rests(manager, planned, 2))
    assert sorted(r for b in batches for r in b.recipients) == fans


def test_paged_fanouts_give_the_feeds_of_whole_ones():
    world = generate_world(users=25, events=400, seed=12)
    whole = snapshot(run_inline(world), world.users)
    assert differences(whole, snapshot(run_inline(world, manager_class=PagedManager), world.users)) == []


def test_every_batch_a_world_plans_encodes_as_the_worker_sends_it():
    """Inline mode never encodes batches; workers do: each planned batch must fit its schema."""
    from streamfeed.app.steps import apply_follow, fanout_many
    from streamfeed.domain.events import FanoutBatch, FollowEvent
    from streamfeed.schemas.catalog import FANOUT_BATCH
    from streamfeed.schemas.codec import AvroCodec

    codec, manager = AvroCodec(), PagedManager(MemoryBackend())
    world = generate_world(users=15, events=200, seed=4)
    planned: list = []
    for event in world.events:
        if isinstance(event, FollowEvent):
            planned += apply_follow(manager, event)
        else:
            planned += expand_rests(manager, fanout_many(manager, [event], 3)[0], 3)
    batches = [b for b in planned if isinstance(b, FanoutBatch)]
    assert len(batches) > 100 and any(b.feeds for b in batches)  # targets too
    for batch in batches:
        assert FanoutBatch.from_record(
            codec.decode(FANOUT_BATCH, codec.encode(FANOUT_BATCH, batch.to_record()))
        )
