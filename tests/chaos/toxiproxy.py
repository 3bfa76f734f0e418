"""Toxiproxy, a TCP proxy that injects network faults: built once from the Go module proxy, run
privately, driven through its HTTP API.

The network-fault scenario puts one in front of Kafka (the broker's FAULTS
listener, which advertises the proxy's port, so every client connection goes
through it) and one in front of Redis, then adds latency, bandwidth limits,
stalls, resets and cuts while workers run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.services import free_port

MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
VERSION = "v2.5.0"
#: Where the local stack's Kafka has its FAULTS listener, and the port it advertises for it.
KAFKA_FAULTS_PORT = int(os.environ.get("KAFKA_FAULTS_PORT", "9094"))
KAFKA_FAULTS_PROXY_PORT = int(os.environ.get("KAFKA_FAULTS_PROXY_PORT", "19094"))


def binary() -> str:
    """toxiproxy-server: on PATH, or built once into the stack's cache with the machine's Go."""
    found = shutil.which("toxiproxy-server")
    if found:
        return found
    cache = Path(os.environ.get("STREAMFEED_CACHE", Path.home() / ".cache" / "streamfeed")) / "tools"
    target = cache / f"toxiproxy-server-{VERSION}"
    if not target.exists():
        go = shutil.which("go") or "/usr/local/go/bin/go"
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as gobin:
            print(f"building {MODULE}@{VERSION} into {cache} ...", flush=True)
            env = {**os.environ, "GOBIN": gobin}
            subprocess.run([go, "install", f"{MODULE}@{VERSION}"], check=True, env=env)
            shutil.move(str(Path(gobin) / "server"), target)
    return str(target)


class Toxiproxy:
    """A private toxiproxy-server and its proxies."""

    def __init__(self) -> None:
        self.port = free_port()
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Toxiproxy:
        command = [binary(), "-host", "127.0.0.1", "-port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.api.get("/version").raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("toxiproxy-server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        self.api.close()

    def proxy(self, name: str, listen: int, upstream: int) -> None:
        body = {"name": name, "listen": f"127.0.0.1:{listen}", "upstream": f"127.0.0.1:{upstream}"}
        self.api.post("/proxies", json=body).raise_for_status()

    def toxic(self, proxy: str, kind: str, stream: str = "downstream", **attributes: Any) -> str:
        """Add a toxic (latency, bandwidth, timeout, reset_peer, slow_close, limit_data...);
        returns its name, for remove()."""
        name = f"{kind}_{stream}"
        body = {"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes}
        self.api.post(f"/proxies/{proxy}/toxics", json=body).raise_for_status()
        return name

    def remove(self, proxy: str, toxic: str) -> None:
        self.api.delete(f"/proxies/{proxy}/toxics/{toxic}").raise_for_status()

    def enabled(self, proxy: str, on: bool) -> None:
        """Off: every connection through the proxy is cut and new ones are refused."""
        self.api.post(f"/proxies/{proxy}", json={"enabled": on}).raise_for_status()
