"""An app whose fanout fails once with an unexpected error, while a marker file exists.

The crash-only test starts a worker on it: the first attempt must kill the
worker without committing; the marker is gone by then, so a restarted worker
applies the same batch.
"""

from __future__ import annotations

import os
from pathlib import Path

from streamfeed.app.manager import Manager


class FaultyManager(Manager):
    def get_user_follower_ids(self, user_id):
        marker = os.environ.get("STREAMFEED_TEST_FAULT_FILE")
        if marker and Path(marker).exists():
            Path(marker).unlink()
            raise RuntimeError("injected: a bug in the app's follower look-up")
        return super().get_user_follower_ids(user_id)


manager = FaultyManager()
