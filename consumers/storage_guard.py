"""Never write into storage that lost its data: a Redis restarted empty, a failover to an empty
replica, a dropped keyspace.

Such a storage looks like one with no feeds yet. A worker that wrote on
would fill a few feeds from new events while every feed silently lost its
history, and nothing would say so. Each storage carries an identity
(storage.base.StorageMarker), claimed when a worker group first writes it:

- at start, no identity while the group has committed offsets on its input
  topics means the data is gone (a group with nothing committed is a new
  deployment, and claims the storage);
- while running, the identity read again after each batch, before its
  offsets may be committed, must be the one seen at start (a batch being
  applied when the data went lands in the empty storage, uncommitted).

Either way the worker stops writing, says so (not ready, the
streamfeed_storage_lost metric, an error line every interval naming the
runbook) and waits: `streamfeed rebuild --switch` rebuilds every feed from
the topics into a new generation (then restart the workers), or `streamfeed
storage claim` accepts the storage as it is. When an identity appears the
worker adopts it and goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.storage.base import StorageMarker

log = logging.getLogger(__name__)

RUNBOOK = (
    "run `streamfeed rebuild --switch` to rebuild every feed from the topics, then restart the workers; "
    "or `streamfeed storage claim` to accept the storage as it is"
)


class StorageLost(StreamfeedError):
    """The storage's identity is gone or changed: its data is not the data this group wrote.
    Not a transient fault (retrying writes cannot bring the data back): a starting worker
    waits for an identity instead, a running one stops committing."""


class StorageGuard:
    """The identity a worker writes under, and the check that it is still there.

    marker: the backend's marker (looked up each time: a generational
    backend's may change); progress: whether the group ever committed an
    offset on its input topics.
    """

    def __init__(self, marker: Callable[[], StorageMarker], progress: Callable[[], bool]) -> None:
        self.marker = marker
        self.progress = progress
        self.identity: str | None = None
        self.lost = False

    def open(self) -> str:
        """The identity to write under: the storage's own, or a new one claimed for a new
        deployment. Raises StorageLost if the storage has none but the group made progress."""
        found = self.marker().read()
        if found is None:
            if self.progress():
                self.lost = True
                raise StorageLost(
                    f"the storage holds none of this group's data although the group made progress: {RUNBOOK}"
                )
            found = self.marker().claim(uuid.uuid4().hex)
            log.info("new storage: claimed it as %s", found)
        self.identity, self.lost = found, False
        return found

    def check(self) -> None:
        """Raise StorageLost if the identity changed since open (one read)."""
        found = self.marker().read()
        if found != self.identity:
            self.lost = True
            what = "is gone" if found is None else f"changed to {found}"
            raise StorageLost(f"the storage's identity {self.identity} {what}: its data was lost; {RUNBOOK}")

    def adopt(self) -> bool:
        """While lost: take the identity the storage holds now, if any (a rebuild's or an
        operator's claim); True if the worker may go on."""
        found = self.marker().read()
        if found is None:
            return False
        log.warning("the storage has an identity again (%s): writing on", found)
        self.identity, self.lost = found, False
        return True
