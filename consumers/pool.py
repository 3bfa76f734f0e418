"""`streamfeed worker --processes N`: N worker processes of one consumer group, on one machine.

A worker is one Python process, so it uses about one core; Kafka already
shares a topic's partitions among every member of the group, so more cores
are used by more processes, not threads. The pool is crash-only like each
worker: if one process exits on its own (a storage outage, exit 75; a bug,
exit 70), the others are stopped and the pool exits with that code, for the
service manager to restart the whole pool; a member that stopped cleanly
without the pool being told to (someone sent it SIGTERM) makes it exit 70.
SIGTERM or SIGINT stops every process cleanly (each commits what it
processed) and exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from streamfeed.consumers.processes import PARENT_ENV
from streamfeed.consumers.runtime import CRASH_STATUS

#: Seconds a member gets to finish and commit after SIGTERM before it is killed.
STOP_TIMEOUT = 30.0


def processes_for(requested: int) -> int:
    """0 means one process per core this process may run on."""
    if requested < 0:
        raise ValueError(f"--processes {requested}: use 1 or more, or 0 for one per core")
    if requested == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return requested


def member_env(index: int, metrics_port: int | None) -> dict[str, str]:
    """A member's environment: it dies with the pool, and serves metrics on its own port
    (metrics_port + index) so a scraper sees every member."""
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    if env.get("STREAMFEED_WORKER_INSTANCE_ID"):  # one static member name per member
        env["STREAMFEED_WORKER_INSTANCE_ID"] += f"-{index}"
    if metrics_port:  # 0 (any free port) stays 0 for every member
        env["STREAMFEED_METRICS_PORT"] = str(metrics_port + index)
    return env


def run_pool(member_args: Sequence[str], count: int, metrics_port: int | None) -> int:
    """Start `count` members (`streamfeed worker` with member_args), supervise them, and return
    the pool's exit code."""
    command = [sys.executable, "-m", "streamfeed.cli", "worker", *member_args]
    members = [subprocess.Popen(command, env=member_env(n, metrics_port)) for n in range(count)]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for member in members:
            if member.poll() is None:
                member.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            if stopping:  # told to stop: each member gets STOP_TIMEOUT to commit, then is killed
                _wait_all(members)
                return 0
            exited = [code for member in members if (code := member.poll()) is not None]
            if exited:  # one member ended on its own: the pool ends with it
                stop(signal.SIGTERM, None)
                _wait_all(members)
                code = next((code for code in exited if code != 0), 0)
                if code == 0:  # stopped cleanly, but nobody asked the pool: not a success
                    print("streamfeed worker pool: a member stopped on its own", file=sys.stderr)
                    return CRASH_STATUS
                return 128 - code if code < 0 else code  # killed by signal n: 128 + n, as a shell says
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_all(members: Sequence[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    for member in members:
        try:
            member.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            member.kill()
            member.wait()
