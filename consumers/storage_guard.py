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
the topics into a new generation, or `streamfeed storage claim` accepts the
storage as it is. When an identity appears the worker adopts it and goes
on; when another generation becomes live (a rebuild switched) it stops with
GenerationMoved (exit 75), to be restarted onto it: a worker writes only
the generation live when it started. With STREAMFEED_AUTO_REBUILD, finding
the storage lost also starts the rebuild (`when_lost`; ops.auto_rebuild).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.storage.base import StorageMarker

log = logging.getLogger(__name__)

RUNBOOK = (
    "run `streamfeed rebuild --switch` to rebuild every feed from the topics (the workers then restart "
    "onto it; STREAMFEED_AUTO_REBUILD does this by itself); "
    "or `streamfeed storage claim` to accept the storage as it is"
)


class StorageLost(StreamfeedError):
    """The storage's identity is gone or changed: its data is not the data this group wrote.
    Not a transient fault (retrying writes cannot bring the data back): a starting worker
    waits for an identity instead, a running one stops committing."""


class GenerationMoved(StreamfeedError):
    """Another generation is live now (a rebuild switched) while this worker waited on a lost
    one: it stops (exit 75), and its restart writes the live generation."""


class StorageGuard:
    """The identity a worker writes under, and the check that it is still there.

    marker: the backend's marker (looked up each time: a generational
    backend's may change); progress: whether the group ever committed an
    offset on its input topics; live: the generation live now, where the
    worker writes a pinned one (None: it follows the live one); when_lost:
    called each time the storage is found lost (an automatic rebuild's start,
    which must be idempotent).
    """

    def __init__(
        self,
        marker: Callable[[], StorageMarker],
        progress: Callable[[], bool],
        pinned: str | None = None,
        live: Callable[[], str] | None = None,
        when_lost: Callable[[], None] | None = None,
    ) -> None:
        self.marker = marker
        self.progress = progress
        self.pinned = pinned
        self.live = live
        self.when_lost = when_lost
        self.identity: str | None = None
        self.lost = False
        self._was_live: bool | None = None

    def _found_lost(self) -> None:
        self.lost = True
        if self.when_lost is not None:
            self.when_lost()

    def _not_moved(self) -> None:
        """Raise GenerationMoved if a generation other than the one written is live now."""
        if self.live is None or self.pinned is None or self._was_live is False:
            return
        live = self.live()
        if self._was_live is None:  # a rebuild's workers write a generation not live yet: never moved
            self._was_live = live == self.pinned
        elif live != self.pinned:
            raise GenerationMoved(
                f"generation {live or 'default'} is live now (a rebuild switched to it) while this "
                f"worker writes {self.pinned or 'default'}, which lost its data: restart the worker "
                "to write the live one"
            )

    def open(self) -> str:
        """The identity to write under: the storage's own, or a new one claimed for a new
        deployment. Raises StorageLost if the storage has none but the group made progress."""
        self._not_moved()
        found = self.marker().read()
        if found is None:
            if self.progress():
                self._found_lost()
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
            self.lost = True  # the runtime then waits in adopt(), which starts a rebuild if asked
            what = "is gone" if found is None else f"changed to {found}"
            raise StorageLost(f"the storage's identity {self.identity} {what}: its data was lost; {RUNBOOK}")

    def adopt(self) -> bool:
        """While lost: take the identity the storage holds now, if any (a rebuild's or an
        operator's claim); True if the worker may go on."""
        self._not_moved()
        found = self.marker().read()
        if found is None:
            if self.when_lost is not None:
                self.when_lost()
            return False
        log.warning("the storage has an identity again (%s): writing on", found)
        self.identity, self.lost = found, False
        return True
