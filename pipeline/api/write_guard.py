"""Inline writes never land in storage that lost its data.

A `streamfeed serve` without Kafka applies every write itself, the way a
worker does, so it needs a worker's care (streamfeed.consumers.storage_guard):
a Redis restarted empty looks like a storage with no feeds yet, and writing
on would fill a few feeds while every other feed silently lost its history.
The server claims the storage's identity at startup (or adopts the one it
holds) and, before a write, checks that it is still there, at most once a
second: past that, writes are refused with a 503 naming the runbook until
the storage has an identity again (a rebuild's, or `streamfeed storage
claim`). With Kafka the workers write, and guard their own writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from streamfeed.api.problems import Problem
from streamfeed.consumers.storage_guard import RUNBOOK, StorageGuard, StorageLost
from streamfeed.storage.base import StorageMarker

#: Seconds a check holds: a write burst costs one marker read a second, not one a write.
CHECK_EVERY = 1.0


class WriteGuard:
    def __init__(
        self, marker: Callable[[], StorageMarker], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._guard = StorageGuard(marker, progress=lambda: False)  # no offsets: a new storage is new
        self._clock = clock
        self._checked = float("-inf")
        self._lock = threading.Lock()  # write routes run in the thread pool

    def open(self) -> None:
        """Claim or adopt the storage's identity (at startup; again later if it failed then)."""
        with self._lock:
            self._guard.open()
            self._checked = self._clock()

    def require_writable(self) -> None:
        """Raise a 503 problem if the storage lost its data since the server started."""
        with self._lock:
            if self._guard.identity is None:
                self._guard.open()
                self._checked = self._clock()
                return
            if self._guard.lost and not self._guard.adopt():
                raise _refusal(f"it still has no identity; {RUNBOOK}")
            if self._clock() - self._checked < CHECK_EVERY:
                return
            try:
                self._guard.check()
            except StorageLost as lost:
                raise _refusal(str(lost)) from None
            self._checked = self._clock()


def _refusal(detail: str) -> Problem:
    return Problem(503, "Storage lost", f"writes are refused: the storage lost its data ({detail})")
