"""A failover to a replica that lagged loses no write a worker acknowledged, when the deployment
asks workers to wait for a replica (STREAMFEED_REDIS_WAIT_REPLICAS).

Redis replicates asynchronously: a worker that applied a batch on the primary and committed its
offsets has lost that batch for good if the primary dies before its replica got it and the
replica is promoted. The test pauses the replica (SIGSTOP), applies a batch through the agents'
runtime, kills the primary and the paused replica, restarts the replica from its own
append-only file and promotes it: without waiting the batch is
"done" (its offsets would be committed) and gone; with waiting the runtime never lets the batch
through, so a restarted worker applies it again on the promoted replica.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime

import pytest
import redis

from streamfeed.consumers.dead_letters import DeadLetters
from streamfeed.consumers.runtime import AgentRuntime, OutageTooLong
from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState, version_of
from streamfeed.schemas.codec import AvroCodec
from streamfeed.storage.redis import RedisBackend
from tests.consumed import Event, Message
from tests.services import RedisInstance, free_port

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def replicated(replica: redis.Redis, timeout: float = 20) -> None:
    """Wait until the replica is in step and its own append-only file is its record again.

    After a full sync a replica rewrites its append-only file in the background; until that
    rewrite ends, what it receives sits in a temporary file its manifest does not name, and a
    replica killed then comes back without it. Waiting for the link alone made the test lose
    'pin:before' on the replica now and then, which is not the loss the test is about."""
    deadline = time.monotonic() + timeout

    def settled() -> bool:
        if replica.info("replication").get("master_link_status") != "up":
            return False
        persistence = replica.info("persistence")
        return not persistence["aof_rewrite_in_progress"] and not persistence["aof_rewrite_scheduled"]

    while not settled():
        assert time.monotonic() < deadline, "the replica never synced and rewrote its append-only file"
        time.sleep(0.1)


def apply_batch(backend: RedisBackend, wait: bool, object_id: str) -> str:
    """Run one batch (an activity written) through the agents' runtime as a worker does:
    'committed' if the runtime let it through, 'not committed' if it gave up."""
    activity = Activity("ann", "add", object_id, None, WHEN)
    state = ActivityState(activity, version_of(WHEN), version_of(WHEN))
    runtime = AgentRuntime(
        DeadLetters(None, AvroCodec()),
        retry_deadline=1.5,
        durable=backend.make_durable if wait else None,
    )
    events = [Event(Message("activities", 0, 0, b"ann", b"x"))]

    async def run() -> None:
        await runtime.process("fanout", events, bytes, lambda _: backend.activities.apply([state]))

    try:
        asyncio.run(run())
    except OutageTooLong:
        return "not committed"
    return "committed"


@pytest.mark.parametrize("wait", [False, True], ids=["no wait", "wait for 1 replica"])
def test_a_failover_to_a_lagging_replica_loses_only_what_nobody_waited_for(tmp_path, wait):
    primary_port, replica_port = free_port(), free_port()
    (tmp_path / "p").mkdir()
    (tmp_path / "r").mkdir()
    primary = RedisInstance(tmp_path / "p", primary_port)
    replica = RedisInstance(tmp_path / "r", replica_port, "--replicaof", "127.0.0.1", str(primary_port))
    primary.start()
    replica.start()
    try:
        replicated(redis.Redis(port=replica_port))
        backend = RedisBackend.from_url(primary.url, "t:", wait_replicas=1 if wait else 0, wait_timeout=2.0)
        assert apply_batch(backend, wait, "pin:before") == "committed"  # replica in step: no wait

        os.kill(replica.process.pid, signal.SIGSTOP)  # replication stands still
        outcome = apply_batch(backend, wait, "pin:during")
        primary.process.kill()  # the primary dies before the replica got the batch
        primary.process.wait(10)
        # The replica dies too before it reads what its socket may hold, and comes back from
        # its own append-only file: a replica that lagged, as a failover finds it.
        replica.process.kill()
        replica.process.wait(10)
        replica.start()
        promoted = redis.Redis(port=replica_port)
        promoted.replicaof("NO", "ONE")
        survivor = RedisBackend.from_url(replica.url, "t:")

        def ids() -> set[str]:
            states = survivor.activities.get_states(all_ids(survivor))
            return {state.activity.object_id for state in states.values()}

        if not wait:
            assert outcome == "committed"
            assert ids() == {"pin:before"}, "the acknowledged batch is lost: what the setting prevents"
        else:
            assert outcome == "not committed"
            # The batch's offsets were never committed: a restarted worker applies it again.
            assert apply_batch(survivor, False, "pin:during") == "committed"
            assert ids() == {"pin:before", "pin:during"}
    finally:
        if replica.process and replica.process.poll() is None:
            os.kill(replica.process.pid, signal.SIGCONT)
        replica.stop()
        primary.stop()


def all_ids(backend: RedisBackend) -> list[str]:
    return [key.decode().rpartition(":")[2] for key in backend.client.scan_iter("t:activity:*")]
