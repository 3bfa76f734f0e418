"""The simulation's property on the real storage servers: fewer schedules, same answer as inline mode,
reactions among the events."""

from __future__ import annotations

import pytest

from streamfeed.settings import get_settings
from tests.simulation.sim import first_difference, generate, reaction_view, run_inline, run_pipeline, visible

pytestmark = pytest.mark.integration

SCHEDULES = [(world, world * 31 + 7) for world in (3, 8, 21, 34, 55, 89)]


@pytest.mark.parametrize(("world_seed", "schedule_seed"), SCHEDULES)
def test_redis_converges_like_inline(redis_client, unique_name, world_seed, schedule_seed):
    from streamfeed.storage.redis import RedisBackend

    backend = RedisBackend.from_url(get_settings().redis_url, prefix=f"{unique_name}:")
    try:
        world = generate(world_seed, events=50, reactions=20)
        pipeline, _ = run_pipeline(world, schedule_seed, backend=backend)
        oracle = run_inline(world)
        difference = first_difference(visible(oracle, world.users), visible(pipeline, world.users))
        assert difference is None, difference
        assert reaction_view(pipeline, world) == reaction_view(oracle, world)
    finally:
        keys = list(redis_client.scan_iter(f"{unique_name}:*"))
        if keys:
            redis_client.delete(*keys)
        backend.close()


def test_cassandra_converges_like_inline(cassandra_session, unique_name):
    from streamfeed.storage.cassandra import CassandraBackend

    backend = CassandraBackend.connect(get_settings(), keyspace=unique_name)
    try:
        for world_seed, schedule_seed in SCHEDULES[:3]:
            world = generate(world_seed, events=40, prefix=f"w{world_seed}", reactions=20)
            pipeline, _ = run_pipeline(world, schedule_seed, backend=backend)
            oracle = run_inline(world)
            difference = first_difference(visible(oracle, world.users), visible(pipeline, world.users))
            assert difference is None, f"world {world_seed}: {difference}"
            assert reaction_view(pipeline, world) == reaction_view(oracle, world), f"world {world_seed}"
    finally:
        backend.close()
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")


def test_a_late_unfollow_refills_trimmed_feeds_on_redis_and_cassandra(
    redis_client, cassandra_session, unique_name
):
    """The world whose late unfollow takes out what pushed an entry of u3's 4-entry feed into
    the trim slack (tests/simulation/test_convergence.py): the Lua and CQL refills agree."""
    from streamfeed.storage.cassandra import CassandraBackend
    from streamfeed.storage.redis import RedisBackend

    world = generate(1893292141, events=34)
    expected = visible(run_inline(world), world.users)
    redis = RedisBackend.from_url(get_settings().redis_url, prefix=f"{unique_name}:")
    cassandra = CassandraBackend.connect(get_settings(), keyspace=unique_name)
    try:
        for backend in (redis, cassandra):
            pipeline, _ = run_pipeline(world, 129674851, backend=backend)
            assert first_difference(expected, visible(pipeline, world.users)) is None, type(backend).__name__
    finally:
        keys = list(redis_client.scan_iter(f"{unique_name}:*"))
        if keys:
            redis_client.delete(*keys)
        redis.close()
        cassandra.close()
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")
