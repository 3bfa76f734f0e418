"""Workers started from Python die with the process that started them, and log crashes."""

from __future__ import annotations

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
        from pipeline.kafka_runner import WorkerProcess
        from pipeline.settings import Settings
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
