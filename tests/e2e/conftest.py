"""End-to-end fixtures: isolated topics, group, Redis keys and keyspace per test; workers as subprocesses."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from streamfeed.ops.teardown import remove_run

LOG_DIR = Path(__file__).resolve().parents[2] / ".e2e-logs"


def isolated_settings(storage: str, partitions: int = 4, label: str = "e2e", **overrides):
    """Settings of a run isolated from every other: its own topics, group, Redis keys, keyspace."""
    from streamfeed.settings import get_settings

    run = f"{label}{uuid.uuid4().hex[:8]}"
    return get_settings().model_copy(
        update={
            "topic_prefix": f"{run}.",
            "app_id": run,
            "redis_prefix": f"{run}:",
            "cassandra_keyspace": run,
            "storage": storage,
            "partitions": partitions,
            "stats_interval": 2.0,
            **overrides,
        }
    )


def storage_manager(settings):
    """A Manager reading what the workers wrote, from the same storage."""
    from streamfeed.app.manager import Manager

    if settings.storage == "redis":
        from streamfeed.storage.redis import RedisBackend

        return Manager(RedisBackend.from_url(settings.redis_url, prefix=settings.redis_prefix))
    from streamfeed.storage.cassandra import CassandraBackend

    return Manager(CassandraBackend.connect(settings))


@pytest.fixture
def isolated():
    """Settings factory for isolated runs; everything they created is removed afterwards."""
    made = []

    def make(storage: str, partitions: int = 4, **overrides):
        settings = isolated_settings(storage, partitions, **overrides)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        remove_run(settings)


@pytest.fixture
def worker_factory(request):
    from streamfeed.consumers.processes import WorkerProcess

    started: list[WorkerProcess] = []

    def start(
        settings, name: str = "worker", app: str | None = None, cwd=None, processes: int = 1
    ) -> WorkerProcess:
        log = LOG_DIR / f"{request.node.name}-{name}-{len(started)}.log"
        log.unlink(missing_ok=True)
        worker = WorkerProcess(settings, log, app, cwd, processes).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(timeout=15)
