"""Convergence: any schedule Kafka allows, with redeliveries and crashes, stores what inline mode stores.

Hypothesis draws the world and the schedule; a failure prints both seeds, and
``python -m tests.simulation --world W --schedule S`` replays it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.simulation.sim import (
    first_difference,
    generate,
    reaction_view,
    reactions_reversed,
    run_inline,
    run_pipeline,
    stored,
    visible,
    without_switches,
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world_seed=seeds, schedule_seed=seeds, events=st.integers(min_value=5, max_value=60))
def test_any_schedule_stores_what_inline_mode_stores(world_seed, schedule_seed, events):
    world = generate(world_seed, events=events)
    oracle = run_inline(world)
    pipeline, _ = run_pipeline(world, schedule_seed)
    difference = first_difference(visible(oracle, world.users), visible(pipeline, world.users))
    assert difference is None, f"world {world_seed}, schedule {schedule_seed}: {difference}"
    assert stored(pipeline) == stored(oracle), f"world {world_seed}, schedule {schedule_seed}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    world_seed=seeds,
    schedule_seed=seeds,
    events=st.integers(min_value=5, max_value=60),
    reactions=st.integers(min_value=1, max_value=30),
)
def test_reactions_under_any_schedule_equal_the_sequential_oracle(
    world_seed, schedule_seed, events, reactions
):
    """Reactions (adds, likes of comments, re-adds of an id with other data, updates, removals,
    tied versions) interleaved with activity removals, crashes and redeliveries: every count,
    list and own reaction equals inline mode applying them one by one, and so do the feeds;
    and inline mode applying the reactions in the opposite order stores the same (a fold that
    let a late add revive a removed reaction fails this for 86 of 100 worlds)."""
    world = generate(world_seed, events=events, reactions=reactions)
    oracle = run_inline(world)
    assert stored(run_inline(reactions_reversed(world))) == stored(oracle), f"world {world_seed}"
    pipeline, _ = run_pipeline(world, schedule_seed)
    assert reaction_view(pipeline, world) == reaction_view(oracle, world), (
        f"world {world_seed}, schedule {schedule_seed}"
    )
    assert stored(pipeline) == stored(oracle), f"world {world_seed}, schedule {schedule_seed}"


def test_an_unfollow_consumed_after_activities_published_later_converges_with_trimmed_feeds():
    """Schedules once kept the follows topic ahead of the activities topic for worlds with
    trimmed feeds: an unfollow consumed late took out the deliveries it should have stopped,
    but what they had pushed past max_length stayed out. The trim slack refills it. Found with
    --seed 30 (u-activities ahead of an unfollow in a 4-entry feed); without the slack it
    diverges."""
    world = generate(1893292141, events=34)
    expected = visible(run_inline(world), world.users)
    pipeline, _ = run_pipeline(world, 129674851)
    assert first_difference(expected, visible(pipeline, world.users)) is None
    assert stored(pipeline) == stored(run_inline(world))

    short_feed = world.manager_class.feed_classes["normal"]
    short_feed.trim_slack, slack = 0, short_feed.trim_slack
    try:
        without, _ = run_pipeline(world, 129674851)
        assert first_difference(expected, visible(without, world.users)) is not None  # u3 one short
    finally:
        short_feed.trim_slack = slack


def test_a_late_member_of_a_group_pushed_out_joins_it_aside_instead_of_starting_it_again():
    """u1's 3-group aggregated feed: the comments of 2026-11-01 are pushed out by newer groups
    in event order, then u3's late, back-dated comment joins them. Without the trim slack it
    started the group again holding only itself (in event order) where a schedule that
    delivered it before the group was pushed out shows both comments. Found with --seed 30
    once aggregated feeds were short enough to trim."""
    world = generate(3192092534, events=31)
    expected = visible(run_inline(world), world.users)
    pipeline, _ = run_pipeline(world, 3997244070)
    assert first_difference(expected, visible(pipeline, world.users)) is None
    assert stored(pipeline) == stored(run_inline(world))
    groups = {name: members for name, members, *_ in expected["aggregated", "u1"][0][0]}
    assert len(groups["2-2026-11-01"]) == 2  # u0's comment of that day came back with u3's

    aggregated = world.manager_class.feed_classes["aggregated"]
    aggregated.trim_slack, slack = 0, aggregated.trim_slack
    try:
        without, _ = run_pipeline(world, 3997244070)
        assert first_difference(visible(run_inline(world), world.users), visible(without, world.users))
    finally:
        aggregated.trim_slack = slack


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    world_seed=seeds,
    schedule_seed=seeds,
    events=st.integers(min_value=5, max_value=60),
    switches=st.integers(min_value=1, max_value=4),
)
def test_hybrid_worlds_read_like_fully_pushed_ones_under_any_schedule(
    world_seed, schedule_seed, events, switches
):
    """Authors switched to pull and back at any time, the switches met anywhere in the stream:
    every feed reads as if every activity had been pushed (streamfeed.feeds.hybrid)."""
    world = generate(world_seed, events=events, switches=switches)
    pushed = visible(run_inline(without_switches(world)), world.users)
    difference = first_difference(pushed, visible(run_inline(world), world.users))
    assert difference is None, f"inline, world {world_seed}: {difference}"
    pipeline, _ = run_pipeline(world, schedule_seed)
    difference = first_difference(pushed, visible(pipeline, world.users))
    assert difference is None, f"world {world_seed}, schedule {schedule_seed}: {difference}"


@settings(max_examples=40, deadline=None)
@given(world_seed=seeds, first=seeds, second=seeds)
def test_a_replay_into_empty_storage_stores_the_same_bytes(world_seed, first, second):
    """Two runs of the same topics in different interleavings, each into empty storage."""
    world = generate(world_seed, events=60)
    live, _ = run_pipeline(world, first)
    replay, _ = run_pipeline(world, second, crash_rate=0.0)
    assert stored(replay) == stored(live)


def test_the_simulation_explores_crashes_and_redeliveries():
    """The schedules are not all the happy path: a check that the harness itself is not idle."""
    world = generate(11, events=60)
    totals = [run_pipeline(world, seed)[1] for seed in range(20)]
    assert sum(s.crashes for s in totals) > 10
    assert sum(s.redelivered for s in totals) > 10
    assert len({tuple(sorted(stored(run_pipeline(world, s)[0])["timelines"])) for s in range(3)}) == 1
