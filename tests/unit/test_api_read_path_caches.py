"""What the API's read path remembers between requests, and why it never serves something stale:
decoded activities by their stored bytes, verified tokens until they expire, and the garbage
collector's steward that keeps long-lived objects out of every collection's walk."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from datetime import UTC, datetime

import jwt
import pytest
from fastapi.testclient import TestClient

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.api.gc_steward import steward, sweep
from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.storage.memory import MemoryBackend
from streamfeed.storage.serialization import CorruptStoredData, StoredForms

KEY = "test-signing-key-0123456789abcdef"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def state(extra: dict, version: int = 1) -> ActivityState:
    return ActivityState(Activity("thierry", "add", "pin:42", "board:7", WHEN, extra), version, 1)


def test_remembered_activities_are_shared_by_bytes_and_an_update_is_a_new_entry() -> None:
    forms = StoredForms()
    first = forms.state_bytes(state({"title": "lagoon"}))
    updated = forms.state_bytes(state({"title": "blue lagoon"}, version=2))
    assert forms.state(first, Activity, "a") is not forms.state(first, Activity, "a")  # off by default
    forms.remember_decoded(100)
    shared = forms.state(first, Activity, "a")
    assert forms.state(bytes(first), Activity, "a") is shared
    newer = forms.state(updated, Activity, "a")
    assert newer.version == 2 and newer.activity.extra_context == {"title": "blue lagoon"}
    assert forms.state(first, Activity, "a").activity.extra_context == {"title": "lagoon"}
    activity_bytes = forms.activity_bytes(shared.activity)
    assert forms.activity(activity_bytes, Activity, "a") is forms.activity(activity_bytes, Activity, "a")


def test_remembering_never_hides_corrupt_bytes() -> None:
    forms = StoredForms()
    forms.remember_decoded(100)
    for _ in range(2):
        with pytest.raises(CorruptStoredData, match="redis key k"):
            forms.state(b"\xc3\x01garbage", Activity, "redis key k")


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    client = TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY))
    expires = int(time.time()) + 2
    headers = {"Authorization": f"Bearer {jwt.encode({'sub': 'bob', 'exp': expires}, KEY)}"}
    assert client.get("/v1/feeds/normal/bob", headers=headers).status_code == 200
    assert client.get("/v1/feeds/normal/bob", headers=headers).status_code == 200  # remembered
    assert client.get("/v1/feeds/normal/eve", headers=headers).status_code == 403  # still bob's
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    answer = client.get("/v1/feeds/normal/bob", headers=headers)
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]


def test_a_token_with_a_bad_signature_is_refused_even_beside_a_remembered_one() -> None:
    client = TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY))
    token = jwt.encode({"sub": "bob", "exp": int(time.time()) + 300}, KEY)
    assert client.get("/v1/feeds/normal/bob", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    answer = client.get("/v1/feeds/normal/bob", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401


class Cycle:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_the_steward_freezes_survivors_and_its_sweep_reclaims_frozen_garbage() -> None:
    """Followed by weak references, not by freeze counts: other threads of the test process
    allocate meanwhile, which moved the counts by more than the margin once (a full CI run)."""
    try:
        sweep()
        before = gc.get_freeze_count()
        held = [Cycle() for _ in range(1_000)]
        refs = [weakref.ref(cycle) for cycle in held]

        async def until_frozen() -> None:
            task = asyncio.create_task(steward(freeze_every=0.01, sweep_every=3600))
            deadline = time.monotonic() + 10
            while gc.get_freeze_count() <= before and time.monotonic() < deadline:  # a freeze ran
                await asyncio.sleep(0.01)
            task.cancel()

        asyncio.run(until_frozen())
        del held
        gc.collect()
        assert all(ref() is not None for ref in refs)  # frozen: out of every collection's walk
        sweep()
        assert all(ref() is None for ref in refs)  # the sweep freed the dead cycles
    finally:
        gc.unfreeze()


def test_every_generation_remembers_decoded_activities_those_opened_later_included() -> None:
    from streamfeed.storage.generations import GenerationalBackend, MemoryGenerations

    backend = GenerationalBackend(MemoryGenerations(), lambda name: MemoryBackend())
    before = backend.current()
    backend.remember_decoded(10)
    backend.store.create("g2")
    backend.store.switch("g2")
    later = backend.backend_of("g2")
    for generation in (before, later):
        raw = generation.forms.state_bytes(state({"n": 1}))
        assert generation.forms.state(raw, Activity, "a") is generation.forms.state(raw, Activity, "a")
