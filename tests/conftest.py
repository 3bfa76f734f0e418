"""Shared fixtures: one connection per server per test session, each guarded by require()."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests import services
from tests.chaos.harness import Figures

#: Figures of the chaos and cluster scenarios run this session, printed at its end.
REPORTED: list[Figures] = []


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    services.kafka().require()
    from streamfeed.settings import get_settings

    return get_settings().kafka_bootstrap


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap):
    """One admin client for the session, destroyed in the main thread at the end (never by the GC)."""
    from confluent_kafka.admin import AdminClient

    with AdminClient({"bootstrap.servers": kafka_bootstrap}) as admin:
        yield admin


@pytest.fixture(scope="session")
def redis_client():
    services.redis().require()
    import redis

    from streamfeed.settings import get_settings

    client = redis.Redis.from_url(get_settings().redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def cassandra_session():
    services.cassandra().require()
    from cassandra.cluster import Cluster

    from streamfeed.settings import get_settings

    settings = get_settings()
    cluster = Cluster(settings.cassandra_hosts, port=settings.cassandra_port)
    session = cluster.connect()
    yield session
    cluster.shutdown()


@pytest.fixture
def stack():
    """The whole local stack: Kafka, Redis and Cassandra, each required."""
    for service in (services.kafka(), services.redis(), services.cassandra()):
        service.require()


@pytest.fixture
def unique_name() -> Iterator[str]:
    """A name no other test (or earlier run against the same stack) has used."""
    yield f"t{os.getpid()}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def report():
    """Record a scenario's figures for the summary, and fail unless nothing was lost or duplicated."""

    def record(figures: Figures) -> Figures:
        REPORTED.append(figures)
        figures.assert_clean()
        return figures

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    """The scenarios' figures, printed whatever pytest captured."""
    if REPORTED:
        terminalreporter.section("chaos and failover figures")
        for figures in REPORTED:
            terminalreporter.write_line(figures.line())
