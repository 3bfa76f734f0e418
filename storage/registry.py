"""Backends by name, created once per process from settings and shared by all feeds.

Connections are expensive and thread-safe in all three clients, so every
feed of a process shares one backend per name, as Stream Framework's
connection pools are shared per server name.
"""

from __future__ import annotations

import threading
from typing import Any

from streamfeed.settings import get_settings
from streamfeed.storage.base import Backend
from streamfeed.storage.generations import (
    DEFAULT_GENERATION,
    CassandraGenerations,
    GenerationalBackend,
    GenerationStore,
    MemoryGenerations,
    RedisGenerations,
    cassandra_generation_keyspace,
    check_generation_name,
    drop_redis_generation,
    redis_generation_prefix,
    shown,
)
from streamfeed.storage.memory import MemoryBackend

_backends: dict[str, Backend] = {}
_lock = threading.Lock()

BACKEND_NAMES = ("memory", "redis", "redis:<server>", "cassandra")


def create_backend(name: str, generation: str = DEFAULT_GENERATION, settings: Any = None) -> Backend:
    """A new backend of that name for one generation, connected as the settings say."""
    settings = settings or get_settings()
    check_generation_name(generation)
    if name == "memory":
        return MemoryBackend()
    if name == "redis" or name.startswith("redis:"):
        from streamfeed.storage.redis import RedisBackend  # noqa: PLC0415 (the driver loads only when used)

        url = settings.redis_url
        if name.startswith("redis:"):
            server = name.partition(":")[2]
            if server not in settings.redis_servers:
                known = ", ".join(sorted(settings.redis_servers)) or "none configured"
                raise ValueError(f"no Redis server named {server!r} in STREAMFEED_REDIS_SERVERS ({known})")
            url = settings.redis_servers[server]
        return RedisBackend.from_url(
            url,
            prefix=redis_generation_prefix(settings.redis_prefix, generation),
            wait_replicas=settings.redis_wait_replicas,
            wait_timeout=settings.redis_wait_timeout,
        )
    if name == "cassandra":
        from streamfeed.storage.cassandra import CassandraBackend  # noqa: PLC0415 (a slow driver, loaded only when used)

        keyspace = cassandra_generation_keyspace(settings.cassandra_keyspace, generation)
        return CassandraBackend.connect(settings, keyspace)
    raise ValueError(f"unknown storage backend {name!r}; one of {', '.join(BACKEND_NAMES)}")


def generation_store(default: Backend) -> GenerationStore:
    """Where the live pointer of a backend's generations is kept: beside its default generation.

    Told apart by their connections, so that neither driver is imported to ask.
    """
    if isinstance(default, MemoryBackend):
        return MemoryGenerations()
    connected: Any = default
    if hasattr(connected, "session"):
        return CassandraGenerations(connected.session, connected.keyspace)
    return RedisGenerations(connected.client, connected.prefix)


def create_generational_backend(name: str, settings: Any = None) -> GenerationalBackend:
    """A backend that follows the live generation of the named backend."""
    settings = settings or get_settings()
    removed_ttl = settings.removed_ttl

    def open_generation(generation: str) -> Backend:
        backend = create_backend(name, generation, settings)
        backend.activities.removed_ttl = removed_ttl
        return backend

    default = open_generation(DEFAULT_GENERATION)
    backend = GenerationalBackend(generation_store(default), open_generation)
    backend._backends[DEFAULT_GENERATION] = default
    return backend


def get_backend(name: str | None = None) -> Backend:
    """The shared backend of that name (default: the STREAMFEED_STORAGE setting).

    It follows the live generation, unless STREAMFEED_GENERATION pins one
    (a rebuild's workers write the generation they build).
    """
    settings = get_settings()
    if name is None:
        name = settings.storage
    backend = _backends.get(name)
    if backend is None:
        with _lock:
            backend = _backends.get(name)
            if backend is None:
                if settings.generation is not None:
                    backend = create_backend(name, settings.generation)
                    backend.activities.removed_ttl = settings.removed_ttl
                else:
                    backend = create_generational_backend(name)
                _backends[name] = backend
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


def drop_generation(backend: GenerationalBackend, name: str) -> str:
    """Delete a generation's data and forget it; refuses the live one. Returns what was done."""
    backend.store.forget(name)  # raises for the live generation, before anything is deleted
    data: Any = backend.backend_of(name)
    backend._backends.pop(name, None)
    if isinstance(data, MemoryBackend):
        return f"dropped generation {shown(name)}"
    if hasattr(data, "session"):
        keyspace = data.keyspace
        if name:
            data.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
            data.close()
            return f"dropped generation {shown(name)} (keyspace {keyspace})"
        from streamfeed.storage.cassandra import TABLES  # noqa: PLC0415 (a slow driver, loaded only when used)

        for table in TABLES:
            data.session.execute(f"TRUNCATE {keyspace}.{table}")
        return f"dropped generation {shown(name)} (truncated the tables of keyspace {keyspace})"
    default: Any = backend.backend_of(DEFAULT_GENERATION)
    settings_prefix = default.prefix
    deleted = drop_redis_generation(data.client, settings_prefix, name)
    if name:
        data.close()
    return f"dropped generation {shown(name)} ({deleted} Redis keys)"
