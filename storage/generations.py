"""Generations: complete sets of feeds side by side, and a pointer saying which one is live.

A rebuild writes a new generation while the live one keeps serving; a
switch moves the pointer in one write, and every reader and writer that
resolves it follows within its cache time (a second), with no restart. The
default generation ("") is the layout from before generations existed, so
existing data is simply the first generation.

Where a generation lives: Redis keys under ``<prefix>gen.<name>:``, a
Cassandra keyspace ``<keyspace>_<name>``, a separate memory backend. The
pointer is stored in the backend itself, beside the default generation.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.storage.base import (
    ActivityStorage,
    AggregatedStorage,
    Backend,
    CountsPublisher,
    FailureLedger,
    FollowStorage,
    StorageMarker,
    TimelineStorage,
)
from streamfeed.storage.reactions import ReactionStorage
from streamfeed.storage.serialization import StoredForms

#: The generation of data written before generations existed.
DEFAULT_GENERATION = ""

#: Generation names become parts of keys and Cassandra keyspace names.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")


class GenerationError(StreamfeedError, ValueError):
    """A generation name that cannot be used, or an operation that would lose the live feeds."""


#: Stored among the generations once the default one was dropped (not a valid name).
DROPPED_DEFAULT = "(dropped default)"

#: What people type for the default generation.
DEFAULT_ALIAS = "default"


def parse_generation_name(text: str) -> str:
    """A generation name as typed: 'default' is the default generation."""
    return DEFAULT_GENERATION if text in (DEFAULT_ALIAS, "(default)") else check_generation_name(text)


def check_generation_name(name: str) -> str:
    if name == DEFAULT_GENERATION or (_NAME.match(name) and name != DEFAULT_ALIAS):
        return name
    raise GenerationError(
        f"generation name {name!r}: use 1-24 lowercase letters, digits or _, starting with a letter "
        f"(and not {DEFAULT_ALIAS!r}, which names the default generation)"
    )


def shown(name: str) -> str:
    """How a generation is named to people: the default one has no name of its own."""
    return name or DEFAULT_ALIAS


class GenerationStore(ABC):
    """The pointer to the live generation and the set of generations that exist."""

    @abstractmethod
    def live(self) -> str:
        """The live generation's name ("" for the default)."""

    @abstractmethod
    def _set_live(self, name: str) -> None: ...

    @abstractmethod
    def _names(self) -> set[str]:
        """The names stored (the default is not stored; a dropped default leaves a marker)."""

    def known(self) -> list[str]:
        """Every generation that exists, sorted: those created, and the default unless dropped."""
        names = set(self._names())
        dropped = DROPPED_DEFAULT in names
        names.discard(DROPPED_DEFAULT)
        if not dropped or self.live() == DEFAULT_GENERATION:
            names.add(DEFAULT_GENERATION)
        return sorted(names)

    @abstractmethod
    def _add(self, name: str) -> None: ...

    @abstractmethod
    def _remove(self, name: str) -> None: ...

    def create(self, name: str) -> None:
        """Register a generation so it can be written and switched to."""
        self._add(check_generation_name(name))

    def switch(self, name: str) -> None:
        """Make a created generation live: one write, seen by readers within their cache time."""
        check_generation_name(name)
        if name not in self.known():
            raise GenerationError(f"no generation {shown(name)}; create it (or rebuild into it) first")
        self._set_live(name)

    def forget(self, name: str) -> None:
        """Unregister a generation that is not live (its data is dropped by the backend)."""
        if name not in self.known():
            raise GenerationError(f"no generation {shown(name)}")
        if name == self.live():
            raise GenerationError(f"generation {shown(name)} is live: switch to another one first")
        if name != DEFAULT_GENERATION:
            self._remove(name)
        else:  # its feeds go, the name stays reserved: listed no more, never switched back to
            self._add(DROPPED_DEFAULT)


class MemoryGenerations(GenerationStore):
    def __init__(self) -> None:
        self._live = DEFAULT_GENERATION
        self._known: set[str] = set()

    def live(self) -> str:
        return self._live

    def _set_live(self, name: str) -> None:
        self._live = name

    def _names(self) -> set[str]:
        return set(self._known)

    def _add(self, name: str) -> None:
        if name:
            self._known.add(name)

    def _remove(self, name: str) -> None:
        self._known.discard(name)


class GenerationalBackend(Backend):
    """A backend that is always the live generation's, resolved at most once per `ttl` seconds.

    Each storage access resolves the pointer (from a cache), so an operation
    that uses one storage sees one generation: a page is never read from two.
    """

    def __init__(
        self,
        store: GenerationStore,
        open_generation: Callable[[str], Backend],
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.open_generation = open_generation
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._resolved: tuple[float, str] | None = None
        self._remember = 0

    def generation(self) -> str:
        """The live generation's name, as of at most ttl seconds ago."""
        now = self.clock()
        resolved = self._resolved
        if resolved is None or now - resolved[0] >= self.ttl:
            resolved = self._resolved = (now, self.store.live())
        return resolved[1]

    def backend_of(self, name: str) -> Backend:
        backend = self._backends.get(name)
        if backend is None:
            with self._lock:
                backend = self._backends.get(name)
                if backend is None:
                    backend = self._backends[name] = self.open_generation(name)
                    if self._remember:
                        backend.remember_decoded(self._remember)
        return backend

    def remember_decoded(self, size: int) -> None:
        """Every generation's backend, those opened later included."""
        with self._lock:
            self._remember = size
            for backend in self._backends.values():
                backend.remember_decoded(size)

    def current(self) -> Backend:
        return self.backend_of(self.generation())

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.current().name

    @property
    def forms(self) -> StoredForms:  # type: ignore[override]
        return self.current().forms

    @property
    def activities(self) -> ActivityStorage:  # type: ignore[override]
        return self.current().activities

    @property
    def timelines(self) -> TimelineStorage:  # type: ignore[override]
        return self.current().timelines

    @property
    def aggregated(self) -> AggregatedStorage:  # type: ignore[override]
        return self.current().aggregated

    @property
    def follows(self) -> FollowStorage:  # type: ignore[override]
        return self.current().follows

    @property
    def reactions(self) -> ReactionStorage:  # type: ignore[override]
        return self.current().reactions

    @property
    def publisher(self) -> CountsPublisher:  # type: ignore[override]
        return self.current().publisher

    @property
    def failures(self) -> FailureLedger:  # type: ignore[override]
        return self.current().failures

    @property
    def marker(self) -> StorageMarker:  # type: ignore[override]
        return self.current().marker

    def make_durable(self) -> None:
        for backend in list(self._backends.values()):
            backend.make_durable()

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()


class RedisGenerations(GenerationStore):
    """The pointer as one Redis string, the generations as one set, beside the default generation."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.pointer_key = f"{prefix}generation:live"
        self.known_key = f"{prefix}generation:all"

    def live(self) -> str:
        value = self.client.get(self.pointer_key)
        return value.decode() if value else DEFAULT_GENERATION

    def _set_live(self, name: str) -> None:
        self.client.set(self.pointer_key, name)

    def _names(self) -> set[str]:
        return {m.decode() for m in self.client.smembers(self.known_key)}

    def _add(self, name: str) -> None:
        if name:
            self.client.sadd(self.known_key, name)

    def _remove(self, name: str) -> None:
        self.client.srem(self.known_key, name)


def redis_generation_prefix(prefix: str, name: str) -> str:
    """Where a generation's Redis keys live: the default one directly under the prefix."""
    return f"{prefix}gen.{name}:" if name else prefix


def drop_redis_generation(client: Any, prefix: str, name: str, batch: int = 5000) -> int:
    """Delete every key of a generation; returns how many. The default one spares the others."""
    own = redis_generation_prefix(prefix, name)
    spared = () if name else (f"{prefix}gen.", f"{prefix}generation:")
    doomed = [
        key
        for key in client.scan_iter(f"{own}*", count=batch)
        if not key.decode(errors="replace").startswith(spared or ("\0",))
    ]
    for start in range(0, len(doomed), batch):
        client.delete(*doomed[start : start + batch])
    return len(doomed)


class CassandraGenerations(GenerationStore):
    """The pointer as one row, the generations as rows, in the default generation's keyspace."""

    def __init__(self, session: Any, keyspace: str) -> None:
        self.session = session
        self.keyspace = keyspace
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {keyspace}.generation_pointer (id int PRIMARY KEY, live text)"
        )
        session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.generations (name text PRIMARY KEY)")

    def live(self) -> str:
        row = self.session.execute(f"SELECT live FROM {self.keyspace}.generation_pointer WHERE id = 0").one()
        return (row[0] or DEFAULT_GENERATION) if row else DEFAULT_GENERATION

    def _set_live(self, name: str) -> None:
        self.session.execute(
            f"INSERT INTO {self.keyspace}.generation_pointer (id, live) VALUES (0, %s)", (name,)
        )

    def _names(self) -> set[str]:
        return {row[0] for row in self.session.execute(f"SELECT name FROM {self.keyspace}.generations")}

    def _add(self, name: str) -> None:
        if name:
            self.session.execute(f"INSERT INTO {self.keyspace}.generations (name) VALUES (%s)", (name,))

    def _remove(self, name: str) -> None:
        self.session.execute(f"DELETE FROM {self.keyspace}.generations WHERE name = %s", (name,))


def cassandra_generation_keyspace(keyspace: str, name: str) -> str:
    return f"{keyspace}_{name}" if name else keyspace
