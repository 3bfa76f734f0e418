"""`streamfeed graph` against Redis (issue 30): followers and following paged by user id and the
counts, as the HTTP API gives them, from a separate process reading STREAMFEED_STORAGE."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from streamfeed.app.manager import Manager
from streamfeed.settings import Settings
from streamfeed.storage import registry

pytestmark = pytest.mark.integration


def graph(prefix: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STREAMFEED_STORAGE": "redis", "STREAMFEED_REDIS_PREFIX": prefix}
    command = [sys.executable, "-m", "streamfeed.cli", "graph", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_graph_lists_pages_and_counts_from_redis(redis_client, unique_name):
    prefix = f"{unique_name}:"
    backend = registry.create_backend("redis", settings=Settings(redis_prefix=prefix))
    try:
        manager = Manager(backend)
        fans = [f"fan{n}" for n in range(5)]
        manager.follow_pairs([(fan, "star") for fan in fans] + [("fan0", "moon")])

        first = graph(prefix, "followers", "star", "--limit", "3")
        assert first.returncode == 0, first.stderr
        assert first.stdout.split() == fans[:3]
        assert "(more: --after fan2)" in first.stderr
        rest = graph(prefix, "followers", "star", "--after", "fan2", "--json")
        assert json.loads(rest.stdout) == {"user_id": "star", "results": fans[3:], "next": None}
        assert graph(prefix, "following", "fan0").stdout.split() == ["moon", "star"]
        counts = graph(prefix, "counts", "star", "--json")
        assert json.loads(counts.stdout) == {"user_id": "star", "followers": 5, "following": 0}
        assert graph(prefix, "counts", "fan0").stdout.strip() == "fan0: 0 followers, following 2"
        assert graph(prefix, "followers", "not a user").returncode == 2
    finally:
        keys = list(backend.client.scan_iter(f"{prefix}*"))
        if keys:
            backend.client.delete(*keys)
        backend.close()
