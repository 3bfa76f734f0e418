"""Generations on memory storage: readers follow a switch within the cache time, the live one is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.storage.generations import (
    GenerationalBackend,
    GenerationError,
    MemoryGenerations,
    check_generation_name,
    redis_generation_prefix,
)
from streamfeed.storage.memory import MemoryBackend


def generational(clock):
    return GenerationalBackend(MemoryGenerations(), lambda name: MemoryBackend(), ttl=1.0, clock=clock)


def pin(n: int) -> Activity:
    return Activity("alice", "add", f"pin{n}", "board1", datetime(2026, 11, 2, 9, n, tzinfo=UTC))


def test_readers_follow_a_switch_within_the_cache_time():
    now = [0.0]
    backend = generational(lambda: now[0])
    live = Manager(backend)
    live.follow_user("bob", "alice")
    live.add_user_activity("alice", pin(1))
    rebuilt = Manager(backend.backend_of("g2"))
    backend.store.create("g2")
    rebuilt.follow_user("bob", "alice")
    rebuilt.add_user_activity("alice", pin(1))
    rebuilt.add_user_activity("alice", pin(2))
    reader = Manager(backend).get_feed("normal", "bob")
    assert [a.object_id for a in reader[:]] == ["pin1"]

    backend.store.switch("g2")
    now[0] = 0.5  # within the cache time the old generation may still be seen
    assert [a.object_id for a in reader[:]] == ["pin1"]
    now[0] = 1.0
    assert [a.object_id for a in reader[:]] == ["pin2", "pin1"]


def test_switch_needs_a_created_generation_and_forget_refuses_the_live_one():
    store = MemoryGenerations()
    with pytest.raises(GenerationError, match="no generation g2"):
        store.switch("g2")
    store.create("g2")
    store.switch("g2")
    with pytest.raises(GenerationError, match="g2 is live"):
        store.forget("g2")
    assert store.known() == ["", "g2"]  # the default generation exists until it is dropped
    store.forget("")  # the default one is not live any more
    assert store.known() == ["g2"]  # dropped: listed no more, and never switched back to
    with pytest.raises(GenerationError, match="no generation default"):
        store.switch("")
    with pytest.raises(GenerationError, match="no generation default"):
        store.forget("")
    with pytest.raises(GenerationError, match="no generation nope"):
        store.forget("nope")


@pytest.mark.parametrize("name", ["G2", "2g", "a-b", "x" * 25, "gen:1"])
def test_generation_names_that_cannot_be_keys_or_keyspaces_are_refused(name):
    with pytest.raises(GenerationError, match="lowercase letters"):
        check_generation_name(name)


def test_the_default_generation_keeps_the_keys_from_before_generations():
    assert redis_generation_prefix("sf:", "") == "sf:"
    assert redis_generation_prefix("sf:", "g2") == "sf:gen.g2:"


def test_every_storage_a_backend_declares_is_the_live_generations():
    """A storage added to Backend must be reachable through the generational backend too (the
    workers' and the API's): reactions once were not."""
    from streamfeed.storage.base import Backend

    generations = MemoryGenerations()
    opened: dict[str, MemoryBackend] = {}
    backend = GenerationalBackend(generations, lambda name: opened.setdefault(name, MemoryBackend()))
    live = backend.current()
    for name in Backend.__annotations__:
        if name == "name":
            continue
        assert getattr(backend, name) is getattr(live, name), name
