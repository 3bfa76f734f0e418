"""What a feed insert costs Redis: the add script against the same writes as plain commands.

Run (stack up): .venv/bin/python -m tests.benchmarks.bench_redis_add [--feeds 1000] [--adds 300]

Each variant adds --adds activities to --feeds flat feeds that are already
full (max_length 100, as Feed's default), so every insert is a ZADD into a
100-entry sorted set plus a trim: the steady state of a 1,000-follower
fanout. Printed per insert: Redis's CPU (from INFO) and this process's.

- script: RedisTimelineStorage.add_batches, one script call per 250 keys
  (what the materializer runs);
- multi: ZADD and ZREMRANGEBYRANK per key as raw RESP built with one
  bytes.join, inside MULTI/EXEC (no reader sees a feed over max_length),
  replies parsed in bulk with hiredis;
- plain: the same commands without MULTI.

The two raw variants ignore hidden sets (the script keeps them right): they
measure what a path for keys without hidden entries would save.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable

import hiredis

from streamfeed.demo.run import kafka_settings
from streamfeed.domain.activity_state import ActivityState
from streamfeed.storage.redis import RedisBackend
from tests.benchmarks.bench_pipeline import activity

MAX_LENGTH = 100
GROUP = 250


def redis_cpu(backend: RedisBackend) -> float:
    info = backend.client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def raw_sender(backend: RedisBackend, keys: list[str], multi: bool) -> Callable[[int], None]:
    """ZADD + trim per key as one RESP payload on a socket of its own, replies read in bulk."""
    kwargs = backend.client.connection_pool.connection_kwargs
    sock = socket.create_connection((kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379)))
    key_parts = [b"$%d\r\n%s\r\n" % (len(k), k.encode()) for k in keys]
    zadd, trim_head = b"*4\r\n$4\r\nZADD\r\n", b"*4\r\n$15\r\nZREMRANGEBYRANK\r\n"
    bound = str(-(MAX_LENGTH + 1)).encode()
    trim = b"$1\r\n0\r\n$%d\r\n%s\r\n" % (len(bound), bound)

    def send(n: int) -> None:
        a = activity(0, n)
        score, member = str(a.sort_key).encode(), a.id.encode()
        pair = b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(score), score, len(member), member)
        body = b"".join([zadd + kp + pair + trim_head + kp + trim for kp in key_parts])
        replies = 2 * len(key_parts)
        if multi:
            body = b"*1\r\n$5\r\nMULTI\r\n" + body + b"*1\r\n$4\r\nEXEC\r\n"
            replies += 2
        sock.sendall(body)
        reader, got = hiredis.Reader(), 0
        while got < replies:
            reader.feed(sock.recv(1 << 16))
            while reader.gets() is not False:
                got += 1

    return send


def script_sender(backend: RedisBackend, keys: list[str]) -> Callable[[int], None]:
    unprefixed = [k.removeprefix(backend.timelines.prefix) for k in keys]

    def send(n: int) -> None:
        state = ActivityState(activity(0, n), n, n)
        groups = [unprefixed[i : i + GROUP] for i in range(0, len(unprefixed), GROUP)]
        backend.timelines.add_batches([(group, [state]) for group in groups], MAX_LENGTH)

    return send


def measure(backend: RedisBackend, keys: list[str], send: Callable[[int], None], adds: int) -> str:
    backend.client.delete(*keys)
    for n in range(1, MAX_LENGTH + 1):  # full feeds first: the steady state
        send(n)
    cpu, own, start = redis_cpu(backend), time.process_time(), time.perf_counter()
    for n in range(MAX_LENGTH + 1, MAX_LENGTH + 1 + adds):
        send(n)
    inserts = adds * len(keys)
    wall = time.perf_counter() - start
    assert all(c == MAX_LENGTH for c in (backend.client.zcard(k) for k in keys[:5]))
    return (
        f"{inserts / wall:>9,.0f} inserts/s, Redis {(redis_cpu(backend) - cpu) / inserts * 1e6:.2f} µs "
        f"and this process {(time.process_time() - own) / inserts * 1e6:.2f} µs per insert"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1_000)
    parser.add_argument("--adds", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="each variant this many times, in turn")
    args = parser.parse_args()
    settings = kafka_settings()
    backend = RedisBackend.from_url(settings.redis_url, prefix="bench-redis-add:")
    keys = [backend.timelines.key(f"feed:{{f{n}}}") for n in range(args.feeds)]
    variants = {
        "script": script_sender(backend, keys),
        "multi": raw_sender(backend, keys, multi=True),
        "plain": raw_sender(backend, keys, multi=False),
    }
    try:
        for _ in range(args.rounds):
            for name, send in variants.items():
                print(f"{name:>6}: {measure(backend, keys, send, args.adds)}", flush=True)
    finally:
        backend.client.delete(*keys)


if __name__ == "__main__":
    main()
