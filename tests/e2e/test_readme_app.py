"""What a new user does with the docs alone (docs/cli.md): an app module in their own folder, a worker for
it, events published from a file, and the result read back with `feed show --app`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from streamfeed.consumers.processes import settings_env, wait_until_drained

pytestmark = pytest.mark.integration

APP = textwrap.dedent(
    """
    from streamfeed import AggregatedFeed, Feed, Manager, Verb, register_verb


    @register_verb
    class Pin(Verb):
        id = 42
        infinitive = "pin"
        past_tense = "pinned"


    class PinFeed(Feed):
        key_format = "pins:{user_id}"
        max_length = 500


    class PinManager(Manager):
        feed_classes = {"normal": PinFeed, "aggregated": AggregatedFeed}
        follow_activity_limit = 1_000


    manager = PinManager()
    """
)

EVENTS = [
    {"type": "follow", "op": "follow", "follower": "julie", "followed": "thierry"},
    {"type": "activity", "actor": "thierry", "verb": "pin", "object": "pin:42", "target": "board:7",
     "to": ["notification:alice"]},
    {"type": "activity", "actor": "thierry", "verb": "love", "object": "pin:43"},
]  # fmt: skip


def test_an_app_module_a_worker_a_file_and_feed_show(stack, isolated, worker_factory, tmp_path):
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "feeds.py").write_text(APP)
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    settings = isolated("redis", partitions=2)
    env = {**os.environ, **settings_env(settings)}
    env.pop("PYTHONPATH", None)

    def streamfeed(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "streamfeed.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        return run.stdout

    streamfeed("topics", "create")
    worker = worker_factory(settings, app="myapp.feeds:manager", cwd=tmp_path)
    assert "3 published, 0 rejected" in streamfeed("produce", "--app", "myapp.feeds:manager", "events.jsonl")
    wait_until_drained(settings, timeout=120, workers=[worker])
    shown = streamfeed("feed", "show", "normal", "julie", "--app", "myapp.feeds:manager")
    assert "pins:{julie} (2 entries)" in shown
    assert "thierry pinned pin:42" in shown and "thierry loved pin:43" in shown
    notified = streamfeed("feed", "show", "notification", "alice", "--app", "myapp.feeds:manager")
    assert "thierry pinned pin:42" in notified
