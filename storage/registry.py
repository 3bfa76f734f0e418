"""Backends by name, created once per process from settings and shared by all feeds.

Connections are expensive and thread-safe in all three clients, so every
feed of a process shares one backend per name, as Stream Framework's
connection pools are shared per server name.
"""

from __future__ import annotations

import threading

from storage.base import Backend

_backends: dict[str, Backend] = {}
_lock = threading.Lock()

BACKEND_NAMES = ("memory", "redis", "redis:<server>", "cassandra")


def create_backend(name: str) -> Backend:
    """A new backend of that name, connected as the settings say."""
    from pipeline.settings import get_settings

    settings = get_settings()
    if name == "memory":
        from storage.memory_storage import MemoryBackend

        return MemoryBackend()
    if name == "redis":
        from storage.redis_storage import RedisBackend

        return RedisBackend.from_url(settings.redis_url, prefix=settings.redis_prefix)
    if name.startswith("redis:"):
        from storage.redis_storage import RedisBackend

        server = name.partition(":")[2]
        if server not in settings.redis_servers:
            known = ", ".join(sorted(settings.redis_servers)) or "none configured"
            raise ValueError(f"no Redis server named {server!r} in STREAMFEED_REDIS_SERVERS ({known})")
        return RedisBackend.from_url(settings.redis_servers[server], prefix=settings.redis_prefix)
    if name == "cassandra":
        from storage.cassandra_storage import CassandraBackend

        return CassandraBackend.connect(settings)
    raise ValueError(f"unknown storage backend {name!r}; one of {', '.join(BACKEND_NAMES)}")


def get_backend(name: str | None = None) -> Backend:
    """The shared backend of that name (default: the STREAMFEED_STORAGE setting)."""
    if name is None:
        from pipeline.settings import get_settings

        name = get_settings().storage
    backend = _backends.get(name)
    if backend is None:
        with _lock:
            backend = _backends.get(name)
            if backend is None:
                from pipeline.settings import get_settings

                backend = _backends[name] = create_backend(name)
                backend.activities.removed_ttl = get_settings().removed_ttl
    return backend


def set_backend(name: str, backend: Backend) -> None:
    """Install a backend under a name: inline mode and tests use their own."""
    with _lock:
        _backends[name] = backend


def close_all() -> None:
    with _lock:
        for backend in _backends.values():
            backend.close()
        _backends.clear()
