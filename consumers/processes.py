"""Running workers from Python: worker processes, and waiting for the group to drain.

The demo's --kafka mode, the end-to-end tests and the benchmark start
workers exactly as a user does (``streamfeed worker`` as a subprocess, with
settings in STREAMFEED_* variables) and wait until the consumer group has
committed everything that was published.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

from streamfeed.kafka.lag import group_lag
from streamfeed.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """STREAMFEED_* variables that reproduce settings in a child process."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[f"STREAMFEED_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


#: Set by WorkerProcess: the pid of the process that started the worker.
PARENT_ENV = "STREAMFEED_DIE_WITH_PARENT"


def die_with_parent_if_asked() -> None:
    """In a worker: be killed when the process that started it dies (Linux), if it asked so.

    A test run, a benchmark or the demo that is itself killed must not leave
    workers consuming behind it. Done by the worker after exec rather than in
    a preexec_fn, which is unsafe in a parent running threads (the Cassandra
    driver's and librdkafka's are).
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != int(parent):  # the parent died before the line above
        os._exit(1)


class WorkerProcess:
    """One `streamfeed worker` subprocess, logging to a file.

    The worker dies with the process that started it (Linux's parent-death
    signal), which the kernel ties to the starting *thread*: start workers
    from a thread that outlives them, such as the main thread.
    """

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        app_path: str | None = None,
        cwd: Path | None = None,
        processes: int = 1,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.app_path = app_path
        self.cwd = cwd
        self.processes = processes
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        command = [sys.executable, "-m", "streamfeed.cli", "worker", "--loglevel", "info"]
        if self.app_path:
            command += ["--app", self.app_path]
        if self.processes != 1:
            command += ["--processes", str(self.processes)]
        env = {**os.environ, **settings_env(self.settings), PARENT_ENV: str(os.getpid())}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd)
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait: a clean shutdown commits what was processed."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as a crashed machine."""
        if self.process is not None and self.running:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def wait_until_drained(
    settings: Settings,
    timeout: float = 120.0,
    workers: list[Any] | None = None,
    poll: float = 0.5,
    confirmations: int = 2,
) -> float:
    """Block until the group has committed every message, `confirmations` polls in a row.

    Returns the seconds until the first of those polls, so a benchmark can
    poll often and still time the drain closely.
    """
    start = time.monotonic()
    clean = 0
    first_clean = 0.0
    while True:
        lag: int | str | None
        try:
            lag = group_lag(settings)
        except KafkaException as error:  # a leader moving (a broker restarted): not drained, ask again
            lag = f"unknown ({error.args[0].name()})"
        if lag == 0:
            if clean == 0:
                first_clean = time.monotonic() - start
            clean += 1
        else:
            clean = 0
        if clean >= confirmations:
            return first_clean
        if time.monotonic() - start > timeout:
            tails = "\n".join(w.log_tail() for w in workers or [])
            raise TimeoutError(f"pipeline not drained after {timeout:.0f}s (lag {lag})\n{tails}")
        if workers and not any(w.running for w in workers):
            codes = ", ".join(str(w.process.returncode) for w in workers)
            raise RuntimeError(
                f"every worker exited (status {codes}):\n" + "\n".join(w.log_tail() for w in workers)
            )
        time.sleep(poll)
