"""HTTP API load figures on the local stack: page reads per second and latency, beside storage.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_api [--seconds 30] [--rate 500]

A world is written into Redis under a throwaway prefix (every reader's flat
feed full at max_length, written as the fanout writes), then
`streamfeed serve` (1, then 2 uvicorn processes, no access log) serves it, and
vegeta sends `GET /v1/feeds/normal/{user}?limit=25`, each with that user's
token, round robin over the readers:

1. at a fixed rate (default 500 reads/s, the issue's target: p99 under
   10 ms), an open model: requests leave on schedule however slow the server;
2. at fixed concurrency (1 and 8 connections, as fast as they go): the most
   reads per second one API process serves, and the latency at that load;
3. in the same run, the storage-only read of the same pages (the Manager's
   feed[:25] in process, no HTTP), p50 and p99: what HTTP, auth and JSON add;
4. the ceiling: a bare ASGI app (tests/benchmarks/hello_app.py) on one uvicorn
   process through the same tool, flat out and at the rate: this machine's
   speed varies by hours, so page reads compare with it, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt

from tests.benchmarks.bench_storage import percentile
from tests.benchmarks.load_tool import LoadResult, attack, vegeta
from tests.services import free_port, start_api_server

KEY = "bench-api-signing-key-0123456789abcdef"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_world(readers: int, entries: int) -> list[str]:
    """Every reader's flat feed holding the same `entries` activities, written as the fanout
    writes them (one batch per activity); a read-only benchmark needs no follow graph."""
    from streamfeed.app.manager import Manager
    from streamfeed.domain.activity import Activity
    from streamfeed.domain.activity_state import ActivityState, version_of

    manager = Manager()
    feed_class = manager.feed_classes["normal"]
    names = [f"reader{n}" for n in range(readers)]
    extra = {"title": "Blue lagoon", "source": "web"}
    for n in range(entries):
        when = T0 + timedelta(seconds=n)
        activity = Activity(f"author{n % 10}", "add", f"pin:{n}", None, when, extra)
        state = ActivityState(activity, version_of(when), version_of(when))
        manager.backend.activities.apply([state])
        feed_class.add_to_many_users(names, [state], manager.backend)
    return names


def storage_reads(readers: list[str], reads: int) -> tuple[float, float]:
    from streamfeed.app.manager import Manager

    manager = Manager()
    samples = []
    for n in range(reads):
        feed = manager.get_feed("normal", readers[n % len(readers)])
        start = time.perf_counter()
        page = feed[:25]
        samples.append(time.perf_counter() - start)
        assert len(page) == 25, f"{feed} holds {len(page)} entries, not a full page"
    return percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000


class IdleStreams:
    """`count` realtime streams held open (10 per user, the default cap) from a thread of their
    own while the load runs: what 1,000 connected but idle app clients cost the readers."""

    def __init__(self, base: str, count: int) -> None:
        self.base, self.count = base, count
        self.opened = threading.Semaphore(0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop.run_until_complete(self._hold_all())

    def __enter__(self) -> IdleStreams:
        if self.count:
            self.thread.start()
            for n in range(self.count):
                if not self.opened.acquire(timeout=60):
                    raise RuntimeError(f"{self.count - n} of {self.count} idle streams did not open in 60 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.count:
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(30)

    async def _hold_all(self) -> None:
        self._stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.count + 10)
        async with httpx.AsyncClient(base_url=self.base, timeout=None, limits=limits) as client:
            tasks = [asyncio.create_task(self._hold(client, f"listener{n // 10}")) for n in range(self.count)]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _hold(self, client: httpx.AsyncClient, user: str) -> None:
        claims = {"sub": user, "exp": int(time.time()) + 3600}
        headers = {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='HS256')}"}
        async with client.stream("GET", f"/v1/realtime/{user}", headers=headers) as stream:
            if stream.status_code != 200:
                raise RuntimeError(f"stream refused: {stream.status_code}")
            async for line in stream.aiter_lines():
                if line == ": connected":
                    self.opened.release()


def targets_file(base: str, readers: list[str], folder: Path) -> Path:
    expires = int(time.time()) + 3600
    path = folder / "targets.jsonl"
    with path.open("w") as out:
        for reader in readers:
            token = jwt.encode({"sub": reader, "exp": expires}, KEY, algorithm="HS256")
            target = {
                "method": "GET",
                "url": f"{base}/v1/feeds/normal/{reader}?limit=25",
                "header": {"Authorization": [f"Bearer {token}"]},
            }
            out.write(json.dumps(target) + "\n")
    return path


def start_server(port: int, log: Path, workers: int) -> subprocess.Popen:
    env = {**os.environ, "STREAMFEED_API_PORT": str(port), "STREAMFEED_API_JWT_KEY": KEY}
    args = ["--no-access-log", f"--workers={workers}", *(["--kafka"] if workers > 1 else [])]
    return start_api_server(env, log, *args)


def ceiling(seconds: float, rate: int, folder: Path) -> tuple[LoadResult, LoadResult]:
    """A bare ASGI app on one uvicorn process, through the same tool: the most any Python
    page read could reach on this machine at this hour, flat out on 1 connection and at the rate."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "tests.benchmarks.hello_app:app", "--no-access-log"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with (folder / "hello.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    log = (folder / "hello.log").read_text()
                    raise RuntimeError(f"the ceiling app did not start:\n{log}") from None
                time.sleep(0.2)
        path = folder / "hello.jsonl"
        path.write_text(json.dumps({"method": "GET", "url": f"http://127.0.0.1:{port}/"}) + "\n")
        attack(path, 100, 2)
        return attack(path, 0, seconds, 1), attack(path, rate, seconds)
    finally:
        server.terminate()
        server.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of each load run")
    parser.add_argument("--rate", type=int, default=500, help="reads per second of the fixed-rate run")
    parser.add_argument("--readers", type=int, default=500)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="API processes to try")
    parser.add_argument(
        "--idle-streams", type=int, default=0, help="realtime streams held open during the fixed-rate run"
    )
    args = parser.parse_args()
    prefix = f"bench-api:{uuid.uuid4().hex[:6]}:"
    os.environ.update({"STREAMFEED_STORAGE": "redis", "STREAMFEED_REDIS_PREFIX": prefix})
    from streamfeed.settings import get_settings
    from streamfeed.storage.redis import redis_client

    vegeta()  # built before anything is timed
    client = redis_client(get_settings().redis_url)
    server = None
    try:
        start = time.perf_counter()
        readers = build_world(args.readers, 100)
        print(
            f"world: {args.readers} readers, flat feeds of 100 entries ({time.perf_counter() - start:.1f} s)"
        )
        for processes in args.processes:
            with tempfile.TemporaryDirectory() as folder:
                port = free_port()
                server = start_server(port, Path(folder) / "serve.log", processes)
                targets = targets_file(f"http://127.0.0.1:{port}", readers, Path(folder))
                attack(targets, 100, 3)  # warm up: connections, the generation pointer, code paths
                what = f"{processes} API process(es), {args.seconds:.0f} s each"
                print(f"GET /v1/feeds/normal/{{user}}?limit=25, {what}:")
                fixed = attack(targets, args.rate, args.seconds)
                verdict = "met" if fixed.p99_ms < 10 and fixed.success == 1 else "NOT met"
                print(f"  at {args.rate} reads/s:        {fixed.line()}  (p99 < 10 ms: {verdict})")
                if args.idle_streams:
                    with IdleStreams(f"http://127.0.0.1:{port}", args.idle_streams):
                        held = attack(targets, args.rate, args.seconds)
                    verdict = "met" if held.p99_ms < 10 and held.success == 1 else "NOT met"
                    streams = f"{args.idle_streams} idle streams open"
                    print(f"  at {args.rate} reads/s, {streams}: {held.line()}  (p99 < 10 ms: {verdict})")
                for connections in (1, 8):
                    most = attack(targets, 0, args.seconds, connections)
                    print(f"  {connections} connection(s), flat out: {most.line()}")
                server.terminate()
                server.wait(15)
                server = None
        with tempfile.TemporaryDirectory() as folder:
            flat, fixed = ceiling(args.seconds, args.rate, Path(folder))
        print("ceiling: a bare ASGI app on 1 uvicorn process, same tool, same run:")
        print(f"  1 connection, flat out:      {flat.line()}")
        print(f"  at {args.rate} reads/s:        {fixed.line()}")
        p50, p99 = storage_reads(readers, 5_000)
        print(f"  storage only (feed[:25] in process, Redis): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    finally:
        if server is not None:
            server.kill()
        keys = list(client.scan_iter(f"{prefix}*", count=5000))
        for at in range(0, len(keys), 5000):
            client.delete(*keys[at : at + 5000])
        client.close()


if __name__ == "__main__":
    main()
