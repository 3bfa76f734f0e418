"""The automatic rebuild (STREAMFEED_AUTO_REBUILD): storage that lost its data is rebuilt by the
workers that found it so, without an operator.

Every worker that finds its storage lost starts an AutoRebuild; they agree
through the storage's rebuild lease (StorageMarker.lease) that one of them
runs `streamfeed rebuild --switch` (ops.rebuild.run_rebuild) into a new
generation while the others wait. The lease lives in the lost storage itself,
which answers again (it is empty, not down); its holder renews it while the
rebuild runs, so a holder that dies lets another worker take over after the
lease's time (its partial generation is left for `generations drop`). Once
the rebuild switched, every waiting worker stops with GenerationMoved (exit
75) and its restart writes the new generation from the group's committed
offsets: what it applied meanwhile is in the rebuild's range (the rebuild
reads up to the end offsets of when it started, after the loss was found).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from streamfeed.ops.rebuild import default_generation_name, run_rebuild
from streamfeed.settings import Settings
from streamfeed.storage.base import StorageMarker

log = logging.getLogger(__name__)

#: Seconds a rebuild lease lasts unless renewed (renewed every third of it).
LEASE_SECONDS = 30.0


class AutoRebuild:
    """Started (idempotently) each time the worker finds its storage lost; runs in a daemon thread.

    marker: the lost storage's marker, holding the lease; rebuild: the
    rebuild to run once the lease is held (a test passes its own); moved:
    whether a generation other than the lost one is live already.
    """

    def __init__(
        self,
        settings: Settings,
        marker: Callable[[], StorageMarker],
        app_path: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        rebuild: Callable[[], object] | None = None,
        moved: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.marker = marker
        self.app_path = app_path
        self.lease_seconds = lease_seconds
        self.rebuild = rebuild or self._rebuild
        #: Whether another generation is live already (someone's rebuild switched): then there is
        #: nothing left to rebuild, and the worker is about to restart onto it.
        self.moved = moved or (lambda: False)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.done = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="auto-rebuild", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                if self.moved():
                    return
                if self.marker().lease(self.holder, self.lease_seconds):
                    self._rebuild_holding_the_lease()
                    return
            except Exception:  # a storage blip while asking: ask again; the workers keep waiting meanwhile
                log.exception("automatic rebuild: could not take or run the rebuild; trying again")
            self.done.wait(self.lease_seconds / 3)

    def _rebuild_holding_the_lease(self) -> None:
        renewing = threading.Event()

        def renew() -> None:
            while not renewing.wait(self.lease_seconds / 3):
                try:
                    if not self.marker().lease(self.holder, self.lease_seconds):
                        log.error("automatic rebuild: the rebuild lease went to another worker")
                except Exception as error:  # storage blips: the next renewal may get through
                    log.warning("automatic rebuild: could not renew the lease (%r)", error)

        renewer = threading.Thread(target=renew, name="auto-rebuild-lease", daemon=True)
        renewer.start()
        log.warning("storage lost: rebuilding every feed from the topics (STREAMFEED_AUTO_REBUILD)")
        try:
            result = self.rebuild()
        finally:
            renewing.set()
        self.done.set()
        log.warning("automatic rebuild done: %s", result)

    def _rebuild(self) -> object:
        return run_rebuild(
            self.settings,
            default_generation_name(),
            switch=True,
            log_dir=Path(tempfile.gettempdir()),
            app_path=self.app_path,
        )
