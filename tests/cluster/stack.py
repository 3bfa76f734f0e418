"""The cluster stack seen from tests: its settings, its nodes, and failures injected into them.

Everything goes through deploy/local/stack, the same commands an operator
runs in a drill: `env` for the settings, `kill` to take a node away as a
machine losing power, `up` to bring it back.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack"

#: Setting names whose environment value is JSON or a number, as pydantic-settings would read them.
_PARSED = {"cassandra_hosts": json.loads, "replication_factor": int, "cassandra_replication_factor": int}


def stack(*args: str, timeout: float = 300) -> str:
    """Run deploy/local/stack; its output, or an error carrying it."""
    done = subprocess.run([str(STACK), *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"stack {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def cluster_overrides() -> dict[str, Any]:
    """The settings `deploy/local/stack env` gives for the cluster stack, as Settings field values."""
    overrides: dict[str, Any] = {}
    for line in stack("env").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        field = name.removeprefix("STREAMFEED_").lower()
        value = shlex.split(value)[0]
        overrides[field] = _PARSED.get(field, str)(value)
    return overrides


def wait_for(check: Callable[[], Any], what: str, timeout: float, tick: Callable[[], None]) -> float:
    """Poll check (calling tick between polls) until it is truthy; returns the seconds it took."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (redis.exceptions.RedisError, OSError):
            pass  # a node on its way down or up
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not after {timeout:.0f}s")
        tick()
        time.sleep(0.5)


def busiest_broker(bootstrap: str, topics: list[str]) -> tuple[int, int]:
    """The broker leading the most partitions of topics, and how many it leads."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=10)
    leaders = Counter(
        partition.leader for topic in topics for partition in metadata.topics[topic].partitions.values()
    )
    return leaders.most_common(1)[0]


def under_replicated(bootstrap: str, topics: list[str]) -> int:
    """Partitions of topics whose in-sync replicas are fewer than their replicas."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return sum(
        len(partition.isrs) < len(partition.replicas)
        for topic in topics
        for partition in metadata.topics[topic].partitions.values()
    )


def redis_masters(any_port: int) -> dict[int, list[int]]:
    """Port of every Redis Cluster master serving slots, with its replicas' ports, asked of any node."""
    nodes = redis.Redis(port=any_port, socket_timeout=2).execute_command("CLUSTER", "NODES")
    if isinstance(nodes, bytes):
        nodes = nodes.decode()
    by_id: dict[str, int] = {}
    masters: dict[int, list[int]] = {}
    lines = [line.split() for line in nodes.splitlines() if line.strip()]
    for fields in lines:
        by_id[fields[0]] = int(fields[1].split("@")[0].rpartition(":")[2])
    for fields in lines:
        flags = fields[2].split(",")
        if "master" in flags and "fail" not in flags and len(fields) > 8:
            masters.setdefault(by_id[fields[0]], [])
    for fields in lines:
        flags = fields[2].split(",")
        if "slave" in flags and "fail" not in flags and by_id.get(fields[3]) in masters:
            masters[by_id[fields[3]]].append(by_id[fields[0]])
    return masters
