"""An app whose fanout fails with an unexpected error while a marker file exists.

The first failure removes the marker (a fault that passes), unless
STREAMFEED_TEST_FAULT_STICKY is set: then it fails until the test removes it
(a bug, fixed by a deployment).
"""

from __future__ import annotations

import os
from pathlib import Path

from streamfeed.app.manager import Manager


class FaultyManager(Manager):
    def get_user_follower_ids(self, user_id):
        marker = os.environ.get("STREAMFEED_TEST_FAULT_FILE")
        if marker and Path(marker).exists():
            if not os.environ.get("STREAMFEED_TEST_FAULT_STICKY"):
                Path(marker).unlink()
            raise RuntimeError("injected: a bug in the app's follower look-up")
        return super().get_user_follower_ids(user_id)


manager = FaultyManager()
