"""One backend per parameter: memory always; Redis and Cassandra on the local stack.

Each test gets fresh, isolated storage: Redis keys under a unique prefix
(deleted afterwards), a Cassandra keyspace for the session with unique feed
keys per test.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests import services

KEYSPACE = f"sf_contract_{os.getpid()}"


@pytest.fixture(scope="session")
def cassandra_backend_session():
    services.cassandra().require()
    from streamfeed.settings import get_settings
    from streamfeed.storage.cassandra import CassandraBackend

    settings = get_settings().model_copy(update={"counts_redis_url": None})
    backend = CassandraBackend.connect(settings, keyspace=KEYSPACE)
    yield backend
    backend.session.execute(f"DROP KEYSPACE IF EXISTS {KEYSPACE}")
    backend.close()


@pytest.fixture(params=["memory", "redis", "redis-cluster", "cassandra"])
def backend(request):
    if request.param == "memory":
        from streamfeed.storage.memory import MemoryBackend

        yield MemoryBackend()
    elif request.param == "redis":
        services.redis().require()
        from streamfeed.settings import get_settings
        from streamfeed.storage.redis import RedisBackend

        prefix = f"test:{uuid.uuid4().hex[:8]}:"
        backend = RedisBackend.from_url(get_settings().redis_url, prefix=prefix)
        yield backend
        keys = list(backend.client.scan_iter(f"{prefix}*", count=1000))
        if keys:
            backend.client.delete(*keys)
        backend.close()
    elif request.param == "redis-cluster":
        services.redis_cluster().require()
        from streamfeed.storage.redis import RedisBackend

        prefix = f"test:{uuid.uuid4().hex[:8]}:"
        backend = RedisBackend.from_url(services.REDIS_CLUSTER_URL, prefix=prefix)
        yield backend
        for key in backend.client.scan_iter(f"{prefix}*", count=1000):  # keys span slots
            backend.client.delete(key)
        backend.close()
    else:
        yield request.getfixturevalue("cassandra_backend_session")


@pytest.fixture
def user():
    """A user id no other test uses, so Cassandra tests can share a keyspace."""
    return f"u{uuid.uuid4().hex[:12]}"
