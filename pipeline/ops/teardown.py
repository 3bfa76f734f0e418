"""Removing what an isolated run left behind: its Redis keys, its keyspace, its topics.

For the demo, tests and benchmarks that run the pipeline under a private
prefix, app id and keyspace: nothing shared is touched.
"""

from __future__ import annotations

import redis
from confluent_kafka.admin import AdminClient

from streamfeed.kafka.clients import client_config
from streamfeed.kafka.topics import topic_specs
from streamfeed.settings import Settings
from streamfeed.storage.redis import redis_client


def remove_run(settings: Settings) -> None:
    """Remove what an isolated run left: its Redis keys, its keyspace, its topics."""
    client = redis_client(settings.redis_url)
    try:
        keys = list(client.scan_iter(f"{settings.redis_prefix}*", count=5000))
        if isinstance(client, redis.RedisCluster):  # keys span slots: one by one
            for key in keys:
                client.delete(key)
        else:
            for start in range(0, len(keys), 5000):
                client.delete(*keys[start : start + 5000])
    except redis.exceptions.ConnectionError:
        pass  # a private Redis that is already gone
    finally:
        client.close()
    if settings.storage == "cassandra":
        from cassandra.cluster import Cluster  # noqa: PLC0415 (the Cassandra driver is slow to load)

        cluster = Cluster(settings.cassandra_hosts, port=settings.cassandra_port)
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {settings.cassandra_keyspace}")
        cluster.shutdown()
    remove_topics(settings, [spec.name for spec in topic_specs(settings)])


def remove_topics(settings: Settings, names: list[str]) -> None:
    """Delete those of the topics that exist."""
    with AdminClient({**client_config(settings.kafka_bootstrap)}) as admin:
        existing = set(admin.list_topics(timeout=10).topics)
        doomed = [name for name in names if name in existing]
        if doomed:
            for future in admin.delete_topics(doomed).values():
                future.result(30)
