"""Finding the local stack's servers from tests, and failing loudly when one is missing.

Outside CI a developer without the stack gets skips that say how to start it;
under CI (CI=true) the same absence is a failure, because there a skip would
hide a broken install or start-up step.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from streamfeed.settings import get_settings


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int

    def reachable(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def require(self) -> None:
        """Skip (or under CI fail) the calling test unless the server accepts connections."""
        if self.reachable():
            return
        message = (
            f"{self.name} is not reachable at {self.host}:{self.port}; "
            f"start it with: deploy/local/stack up {self.name}"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def kafka() -> Service:
    host, _, port = get_settings().kafka_bootstrap.split(",")[0].rpartition(":")
    return Service("kafka", host, int(port))


def redis() -> Service:
    url = urlparse(get_settings().redis_url)
    return Service("redis", url.hostname or "127.0.0.1", url.port or 6379)


#: The local stack's Redis Cluster (`deploy/local/stack up redis-cluster`), any node.
REDIS_CLUSTER_URL = os.environ.get("STREAMFEED_TEST_REDIS_CLUSTER_URL", "redis+cluster://127.0.0.1:7100")


def redis_cluster() -> Service:
    url = urlparse(REDIS_CLUSTER_URL.replace("redis+cluster://", "redis://"))
    return Service("redis-cluster", url.hostname or "127.0.0.1", url.port or 7100)


def cassandra() -> Service:
    settings = get_settings()
    return Service("cassandra", settings.cassandra_hosts[0], settings.cassandra_port)


class RedisInstance:
    """A private redis-server with an append-only file, so it can be stopped and come back."""

    def __init__(self, directory, port: int, *extra: str) -> None:
        import shutil

        self.binary = shutil.which("redis-server")
        assert self.binary, "redis-server is not installed: run deploy/local/stack up redis"
        self.directory, self.port = directory, port
        self.extra = extra  # more redis-server options, e.g. ("--replicaof", "127.0.0.1", "6390")
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess

        import redis

        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            self.process.wait(10)


def free_port() -> int:
    """A TCP port nothing listens on right now, for a private server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api_server(
    env: dict[str, str], log_path: Path, *args: str, timeout: float = 60
) -> subprocess.Popen:
    """`streamfeed serve [args]` in a child process with env (STREAMFEED_API_PORT set), returned
    once it answers HTTP; if it exits or never answers, the failure carries its log."""
    import httpx

    port = env["STREAMFEED_API_PORT"]
    with log_path.open("wb") as log:
        command = [sys.executable, "-m", "streamfeed.cli", "serve", *args]
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
            return server
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"streamfeed serve did not start:\n{log_path.read_text()}") from None
            time.sleep(0.2)
