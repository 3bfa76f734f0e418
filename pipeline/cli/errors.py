"""What the command line says when a server is away: one line naming it, the address tried and
the setting to change, and an exit code a script can tell apart.

Exit codes of every command: 0 done; 1 some input rejected (the rest was
done); 2 usage or configuration error (a bad option, setting or app);
3 a server is unavailable (Kafka, Redis, Cassandra, the schema registry):
try again when it is back; 4 a threshold passed (`status --fail-on-lag`);
70 an internal error (a bug: the traceback is printed). The drivers'
exceptions are recognized by module and name, so the slow optional drivers
are never imported for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamfeed.settings import Settings

EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_THRESHOLD = 4
EXIT_INTERNAL = 70

#: librdkafka's error codes that mean "the cluster is not there" (as KafkaError names them).
_KAFKA_AWAY = {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_RESOLVE", "_UNKNOWN_PARTITION"}


def _kafka(error: BaseException, settings: Settings) -> str | None:
    if type(error).__module__.split(".")[0] not in ("cimpl", "confluent_kafka"):
        return None
    first: Any = error.args[0] if error.args else None
    name = first.name() if hasattr(first, "name") else ""
    reason = first.str() if hasattr(first, "str") else str(error)
    if name == "_UNKNOWN_PARTITION":
        return (
            f"Kafka at {settings.kafka_bootstrap} has no such topic or partition ({reason}): "
            "run `streamfeed topics create` first"
        )
    if name in _KAFKA_AWAY or "transport" in reason.lower() or "timed out" in reason.lower():
        return (
            f"Kafka at {settings.kafka_bootstrap} is not reachable ({reason}); set STREAMFEED_KAFKA_BOOTSTRAP"
        )
    return f"Kafka at {settings.kafka_bootstrap} refused: {reason}"


def _redis(error: BaseException, settings: Settings) -> str | None:
    kinds = {c.__name__ for c in type(error).__mro__ if c.__module__.startswith("redis")}
    if not kinds & {"ConnectionError", "TimeoutError", "ClusterDownError", "MaxConnectionsError"}:
        return None
    return f"Redis at {settings.redis_url} is not reachable ({error}); set STREAMFEED_REDIS_URL"


def _cassandra(error: BaseException, settings: Settings) -> str | None:
    if type(error).__name__ not in ("NoHostAvailable", "OperationTimedOut", "Unavailable"):
        return None
    if not type(error).__module__.startswith("cassandra"):
        return None
    hosts = ",".join(settings.cassandra_hosts)
    return (
        f"Cassandra at {hosts}:{settings.cassandra_port} is not reachable ({type(error).__name__}); "
        "set STREAMFEED_CASSANDRA_HOSTS and STREAMFEED_CASSANDRA_PORT"
    )


def _registry(error: BaseException, settings: Settings) -> str | None:
    kinds = {c.__name__ for c in type(error).__mro__}
    if settings.schema_registry_url is None or not kinds & {"ConnectError", "ConnectionError"}:
        return None
    if not type(error).__module__.startswith(("httpx", "requests", "urllib3")):
        return None
    return (
        f"the schema registry at {settings.schema_registry_url} is not reachable ({error}); "
        "set STREAMFEED_SCHEMA_REGISTRY_URL"
    )


_READERS: tuple[Callable[[BaseException, Settings], str | None], ...] = (
    _kafka,
    _redis,
    _cassandra,
    _registry,
)


def unavailable_server(error: BaseException, settings: Settings) -> str | None:
    """One line if `error` (or what caused it) says a server is away; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for read in _READERS:
            line = read(current, settings)
            if line is not None:
                return line
        current = current.__cause__ or current.__context__
    return None
