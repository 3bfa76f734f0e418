"""`streamfeed worker --processes N`: one pool, N members of the group, stopped and failing as one."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from streamfeed.consumers.runtime import CRASH_STATUS
from streamfeed.demo.world import generate_world
from streamfeed.ops.status import group_status
from tests.e2e.test_pipeline_e2e import assert_same_feeds, run_phases
from tests.e2e.test_worker_metrics import get, wait_for
from tests.services import free_port

pytestmark = pytest.mark.integration


def members_of(pool_pid: int) -> list[int]:
    """The pool's worker processes: its children."""
    children = Path(f"/proc/{pool_pid}/task/{pool_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def two_free_ports() -> int:
    """A port P with P + 1 free too: the pool's members serve metrics on P and P + 1."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def test_a_pool_shares_the_partitions_and_stops_and_fails_as_one(stack, isolated, worker_factory):
    port = two_free_ports()
    settings = isolated("redis", partitions=4, metrics_port=port)
    world = generate_world(users=30, events=400, seed=11)
    pool = worker_factory(settings, processes=2)
    members = wait_for(lambda: len(m := members_of(pool.process.pid)) == 2 and m)
    run_phases(world, settings, [pool])
    assert_same_feeds(world, settings)
    # Two members of one group, each serving its own metrics port.
    status = group_status(settings)
    assert len(status.members) == 2, status
    assert get(port, "/readyz")[0] == 200 and get(port + 1, "/readyz")[0] == 200

    pool.process.send_signal(signal.SIGTERM)  # a clean stop of every member
    assert pool.process.wait(60) == 0
    assert all(gone(pid) for pid in members)

    # One member killed outright: the pool stops the other and ends with the member's fate.
    pool = worker_factory(settings, processes=2)
    first, second = wait_for(lambda: len(m := members_of(pool.process.pid)) == 2 and m)
    wait_for(lambda: len(group_status(settings).members) == 2, timeout=90)
    os.kill(first, signal.SIGKILL)
    assert pool.process.wait(60) == 128 + signal.SIGKILL
    deadline = time.monotonic() + 10
    while not gone(second) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(second)

    # One member stopped cleanly by someone else: the pool was not asked to stop, so it fails.
    pool = worker_factory(settings, processes=2)
    first, second = wait_for(lambda: len(m := members_of(pool.process.pid)) == 2 and m)
    wait_for(lambda: len(group_status(settings).members) == 2, timeout=90)
    os.kill(second, signal.SIGTERM)
    assert pool.process.wait(60) == CRASH_STATUS
    wait_for(lambda: gone(first), timeout=10)
