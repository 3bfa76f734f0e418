"""The automatic rebuild's election: of the workers that find the storage lost, one rebuilds while
the lease lasts; if it dies, another takes over once the lease lapses; each worker starts it once."""

from __future__ import annotations

import threading

from streamfeed.ops.auto_rebuild import AutoRebuild
from streamfeed.settings import Settings
from streamfeed.storage.memory import MemoryStorageMarker


def test_one_of_the_workers_rebuilds_and_each_starts_its_rebuild_once() -> None:
    marker, ran, release = MemoryStorageMarker(), [], threading.Event()

    def rebuild(name: str):
        def run() -> str:
            ran.append(name)
            release.wait(5)
            return name

        return run

    workers = [
        AutoRebuild(Settings(), lambda: marker, lease_seconds=0.3, rebuild=rebuild(f"w{n}")) for n in range(3)
    ]
    for worker in workers * 3:  # each finds the storage lost again and again
        worker()
    assert all(w._thread is not None for w in workers)
    threading.Event().wait(1.0)  # more than 3 leases long: the holder renews while it rebuilds
    assert len(ran) == 1
    release.set()
    holder = workers[int(ran[0][1])]
    assert holder.done.wait(5)
    assert [w.done.is_set() for w in workers].count(True) == 1  # the others still wait for the switch
    for worker in workers:
        worker.done.set()
    assert len(ran) == 1


def test_another_worker_takes_over_once_a_dead_holders_lease_lapses() -> None:
    marker = MemoryStorageMarker()
    assert marker.lease("a worker that died", 0.3)
    done = threading.Event()
    survivor = AutoRebuild(Settings(), lambda: marker, lease_seconds=0.3, rebuild=lambda: done.set())
    survivor()
    assert done.wait(5), "the survivor never took the lapsed lease"


def test_a_worker_finding_another_generation_live_rebuilds_nothing() -> None:
    ran = []
    late = AutoRebuild(
        Settings(), MemoryStorageMarker, lease_seconds=0.3, rebuild=lambda: ran.append(1), moved=lambda: True
    )
    late()
    assert late._thread is not None
    late._thread.join(5)
    assert not late._thread.is_alive() and ran == []
