"""The storage guard's decisions: a new storage is claimed, a storage without identity after the
group made progress is lost, an identity that goes or changes while running is lost, and a
claim made meanwhile is adopted."""

from __future__ import annotations

import pytest

from streamfeed.consumers.storage_guard import GenerationMoved, StorageGuard, StorageLost
from streamfeed.storage.memory import MemoryStorageMarker


def guard(marker: MemoryStorageMarker, progress: bool) -> StorageGuard:
    return StorageGuard(lambda: marker, lambda: progress)


def test_a_new_storage_of_a_new_group_is_claimed() -> None:
    marker = MemoryStorageMarker()
    identity = guard(marker, progress=False).open()
    assert marker.read() == identity


def test_a_storage_without_identity_after_progress_is_lost_until_claimed() -> None:
    marker = MemoryStorageMarker()
    checker = guard(marker, progress=True)
    with pytest.raises(StorageLost, match="rebuild --switch"):
        checker.open()
    assert checker.lost and marker.read() is None  # nothing claimed on the worker's own
    marker.claim("by-the-operator")
    assert checker.open() == "by-the-operator" and not checker.lost


def test_an_identity_that_goes_or_changes_while_running_is_lost_and_a_new_one_adopted() -> None:
    marker = MemoryStorageMarker()
    checker = guard(marker, progress=False)
    checker.open()
    checker.check()
    marker.identity = None
    with pytest.raises(StorageLost, match="is gone"):
        checker.check()
    assert checker.adopt() is False
    marker.identity = "rebuilt"
    with pytest.raises(StorageLost, match="changed to rebuilt"):
        checker.check()
    assert checker.adopt() is True and not checker.lost
    checker.check()


def test_a_worker_waiting_on_a_lost_generation_stops_once_a_rebuild_switched_away_from_it() -> None:
    marker, live = MemoryStorageMarker(), [""]
    checker = StorageGuard(lambda: marker, lambda: True, pinned="", live=lambda: live[0])
    with pytest.raises(StorageLost):
        checker.open()
    assert checker.adopt() is False
    live[0] = "g20261207"
    with pytest.raises(GenerationMoved, match="g20261207 is live now"):
        checker.adopt()


def test_a_rebuilds_worker_writing_a_generation_not_live_yet_is_never_moved() -> None:
    marker = MemoryStorageMarker()
    marker.claim("the rebuild's")
    checker = StorageGuard(lambda: marker, lambda: True, pinned="g2", live=lambda: "")
    assert checker.open() == "the rebuild's"
    checker.check()


def test_finding_the_storage_lost_starts_the_rebuild_at_start_and_while_waiting() -> None:
    marker, calls = MemoryStorageMarker(), []
    checker = StorageGuard(lambda: marker, lambda: True, when_lost=lambda: calls.append(1))
    with pytest.raises(StorageLost):
        checker.open()
    assert checker.adopt() is False
    assert len(calls) == 2  # idempotent on the rebuild's side (ops.auto_rebuild)
    marker.claim("rebuilt")
    assert checker.adopt() is True and len(calls) == 2
