"""Hybrid push/pull on the real backends: the flat feeds of followers of pulled authors read
exactly as fully pushed feeds do (memory is the oracle), pages, filters and counts included.

A world runs inline on the backend with its most followed authors pulled and one author
switched to pull and back mid-stream (streamfeed.demo.world.with_pulled_authors); the same world
without switches runs on memory. Redis, a Redis Cluster and Cassandra each merge with their own
windows() and follow_states() implementations.
"""

from __future__ import annotations

import uuid

import pytest

from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import differences, snapshot
from streamfeed.demo.world import generate_world, with_pulled_authors
from tests import services

pytestmark = pytest.mark.integration


@pytest.fixture(params=["redis", "redis-cluster", "cassandra"])
def fresh_backend(request):
    """Empty storage of each kind: the world's user ids and the author modes are its own."""
    from streamfeed.settings import get_settings

    if request.param == "cassandra":
        services.cassandra().require()
        from streamfeed.storage.cassandra import CassandraBackend

        keyspace = f"sf_hybrid_{uuid.uuid4().hex[:10]}"
        settings = get_settings().model_copy(update={"counts_redis_url": None})
        backend = CassandraBackend.connect(settings, keyspace=keyspace)
        yield backend
        backend.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        backend.close()
        return
    from streamfeed.storage.redis import RedisBackend

    if request.param == "redis":
        services.redis().require()
        url = get_settings().redis_url
    else:
        services.redis_cluster().require()
        url = services.REDIS_CLUSTER_URL
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    backend = RedisBackend.from_url(url, prefix=prefix)
    yield backend
    for key in backend.client.scan_iter(f"{prefix}*", count=1000):  # keys may span slots
        backend.client.delete(key)
    backend.close()


def test_merged_reads_equal_fully_pushed_reads(fresh_backend):
    world = generate_world(users=10, events=250, seed=21)
    pushed = run_inline(world)
    hybrid = run_inline(with_pulled_authors(world, authors=2), fresh_backend)
    assert differences(snapshot(pushed, world.users), snapshot(hybrid, world.users)) == []
    readers = [u for u in world.users if pushed.get_feed("normal", u).count() > 12]
    assert readers
    for user in readers:
        a, b = pushed.get_feed("normal", user), hybrid.get_feed("normal", user)
        middle = a[6].id
        assert b.count() == a.count()
        assert [x.id for x in b[3:11]] == [x.id for x in a[3:11]]
        assert [x.id for x in b.filter(activity_id__lt=middle)[:5]] == [
            x.id for x in a.filter(activity_id__lt=middle)[:5]
        ]
        ascending = [x.id for x in b.order_by("activity_id").filter(activity_id__gte=middle)[:4]]
        assert ascending == [x.id for x in a.order_by("activity_id").filter(activity_id__gte=middle)[:4]]
    modes = fresh_backend.follows.author_modes()
    assert len(modes) == 3 and any(len(changes) == 2 for changes in modes.values())
