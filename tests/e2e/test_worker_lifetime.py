"""Workers started from Python die with the process that started them, and log crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_dies_when_its_parent_is_killed(stack, isolated, tmp_path):
    settings = isolated("redis", partitions=1)
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from streamfeed.consumers.processes import WorkerProcess
        from streamfeed.settings import Settings
        settings = Settings.model_validate_json({settings.model_dump_json()!r})
        worker = WorkerProcess(settings, Path({str(tmp_path / "worker.log")!r})).start()
        print(worker.process.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert alive(pid)
    parent.kill()  # SIGKILL: no cleanup code runs in the parent
    parent.wait(10)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the worker outlived the process that started it"


def test_sigterm_during_a_storage_outage_stops_the_worker_at_once_without_losing_the_batch(
    stack, isolated, worker_factory, tmp_path
):
    from streamfeed.consumers.processes import wait_until_drained
    from streamfeed.demo.run import run_inline
    from streamfeed.demo.snapshot import differences, snapshot
    from streamfeed.demo.world import generate_world
    from streamfeed.kafka.producer import StreamfeedProducer
    from streamfeed.kafka.topics import create_topics
    from tests.e2e.conftest import storage_manager
    from tests.services import RedisInstance, free_port

    instance = RedisInstance(tmp_path, free_port())
    instance.start()
    try:
        world = generate_world(users=40, events=500, seed=17)
        settings = isolated("redis", redis_url=instance.url, counts_redis_url=instance.url)
        create_topics(settings)
        worker = worker_factory(settings, "stopped")
        producer = StreamfeedProducer(settings)
        for event in world.phases[0]:
            producer.send_event(event)
        producer.flush()
        wait_until_drained(settings, workers=[worker])
        instance.stop()
        for event in world.phases[1]:
            producer.send_event(event)
        producer.flush()
        deadline = time.monotonic() + settings.worker_retry_deadline
        while "storage unavailable" not in worker.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "storage unavailable" in worker.log_path.read_text(), worker.log_tail()
        asked = time.monotonic()
        worker.process.send_signal(signal.SIGTERM)
        worker.process.wait(10)
        stopped_in = time.monotonic() - asked
        assert stopped_in < 3, f"SIGTERM took {stopped_in:.1f}s during an outage"
        assert "told to stop during a storage outage" in worker.log_path.read_text(), worker.log_tail()

        instance.start()
        successor = worker_factory(settings, "successor")
        wait_until_drained(settings, workers=[successor])
        for event in world.phases[2]:
            producer.send_event(event)
        producer.flush()
        wait_until_drained(settings, workers=[successor])
        expected = snapshot(run_inline(world), world.users)
        actual = snapshot(storage_manager(settings), world.users)
        assert not differences(expected, actual), "\n".join(differences(expected, actual))
    finally:
        instance.stop()
