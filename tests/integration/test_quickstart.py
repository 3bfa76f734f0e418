"""docs/quickstart.md, run as written: every ```bash block of the page, in order, in one shell,
against the local stack (isolated topics, group and Redis keys), and the feed it shows at the
end holds what the service published. A command that no longer works fails here first."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from streamfeed.ops.teardown import remove_run
from streamfeed.settings import get_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "quickstart.md"


def quickstart_commands() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 4, "the quickstart lost its commands"
    return "\n".join(blocks)


def test_the_quickstart_runs_as_written_and_ends_with_the_activity_in_the_feed(stack):
    run = f"quick{uuid.uuid4().hex[:8]}"
    settings = get_settings().model_copy(
        update={"topic_prefix": f"{run}.", "app_id": run, "redis_prefix": f"{run}:", "partitions": 2}
    )
    env = {
        **os.environ,
        "STREAMFEED_TOPIC_PREFIX": settings.topic_prefix,
        "STREAMFEED_APP_ID": settings.app_id,
        "STREAMFEED_REDIS_PREFIX": settings.redis_prefix,
        "STREAMFEED_PARTITIONS": "2",
    }
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + quickstart_commands()
    try:
        done = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
        log = ROOT / "worker.log"
        assert done.returncode == 0, (
            done.stdout[-3000:] + done.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
        )
    finally:
        (ROOT / "worker.log").unlink(missing_ok=True)
        remove_run(settings.model_copy(update={"storage": "redis"}))
    shown = done.stdout.splitlines()
    assert "2 published, 0 rejected" in done.stdout
    feed = "\n".join(shown[shown.index(next(line for line in shown if line.startswith("feed:"))) :])
    assert "thierry" in feed and "pin:42" in feed, done.stdout
