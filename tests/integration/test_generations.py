"""Generations on Redis and Cassandra: the pointer lives in the backend, switch is seen within a
second by another process's reader, drop deletes only its own generation and refuses the live one."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.settings import get_settings
from streamfeed.storage.generations import GenerationalBackend, GenerationError
from streamfeed.storage.registry import drop_generation, generation_store

pytestmark = pytest.mark.integration


def pin(n: int) -> Activity:
    return Activity("alice", "add", f"pin{n}", "board1", datetime(2026, 11, 2, 9, n, tzinfo=UTC))


def open_redis(prefix: str):
    from streamfeed.storage.generations import redis_generation_prefix
    from streamfeed.storage.redis import RedisBackend

    url = get_settings().redis_url
    return lambda name: RedisBackend.from_url(url, prefix=redis_generation_prefix(prefix, name))


def open_cassandra(keyspace: str):
    from streamfeed.storage.cassandra import CassandraBackend
    from streamfeed.storage.generations import cassandra_generation_keyspace

    settings = get_settings().model_copy(update={"counts_redis_url": None})
    return lambda name: CassandraBackend.connect(settings, cassandra_generation_keyspace(keyspace, name))


def generational(open_generation) -> GenerationalBackend:
    default = open_generation("")
    backend = GenerationalBackend(generation_store(default), open_generation)
    backend._backends[""] = default
    return backend


@pytest.fixture(params=["redis", "cassandra"])
def backends(request, unique_name):
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        opener = open_redis(f"{unique_name}:")
    else:
        request.getfixturevalue("cassandra_session")
        opener = open_cassandra(unique_name.lower())
    writer, reader = generational(opener), generational(opener)  # two processes' worth
    yield writer, reader
    live = writer.store.live()  # a test may have dropped the default: nothing to switch back to
    for name in writer.store.known():
        if name and name != live:
            drop_generation(writer, name)
    default = writer.backend_of("")
    if request.param == "redis":
        keys = list(default.client.scan_iter(f"{unique_name}:*"))  # every generation's keys
        if keys:
            default.client.delete(*keys)
    else:
        from streamfeed.storage.generations import cassandra_generation_keyspace

        for keyspace in {default.keyspace, cassandra_generation_keyspace(default.keyspace, live)}:
            default.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    writer.close()
    reader.close()


def test_a_switch_is_seen_by_another_reader_within_a_second_and_drop_spares_the_others(backends):
    writer, reader = backends
    Manager(writer).follow_user("bob", "alice")
    Manager(writer).add_user_activity("alice", pin(1))
    writer.store.create("g2")
    rebuilt = Manager(writer.backend_of("g2"))
    rebuilt.follow_user("bob", "alice")
    rebuilt.add_user_activity("alice", pin(1))
    rebuilt.add_user_activity("alice", pin(2))
    feed = Manager(reader).get_feed("normal", "bob")
    assert [a.object_id for a in feed[:]] == ["pin1"]

    writer.store.switch("g2")
    switched = time.monotonic()
    while [a.object_id for a in feed[:]] != ["pin2", "pin1"]:
        assert time.monotonic() - switched < 1.5, "the reader did not follow the switch within a second"
        time.sleep(0.05)
    assert reader.store.live() == "g2"

    with pytest.raises(GenerationError, match="g2 is live"):
        drop_generation(writer, "g2")
    assert "dropped generation default" in drop_generation(writer, "")
    assert [a.object_id for a in feed[:]] == ["pin2", "pin1"]  # the live one is untouched
    assert writer.store.known() == ["g2"]  # a dropped default is listed no more
    with pytest.raises(GenerationError, match="no generation default"):
        writer.store.switch("")  # its feeds are gone: nobody is switched to nothing
