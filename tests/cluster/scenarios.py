"""Failover scenarios on the cluster stack: a generated world through two workers while nodes die.

Each returns the chaos suite's Figures, comparing every feed of every user
with the inline oracle. Sizes are parameters: CI runs them as
tests/cluster sets them; ``python -m tests.cluster`` runs them bigger.
"""

from __future__ import annotations

from streamfeed.demo.world import generate_world
from streamfeed.kafka.topics import TopicNames
from tests.chaos.harness import Figures, Supervisor, chaos_settings, lag_or_none
from tests.chaos.scenarios import _run, applying
from tests.cluster.stack import (
    busiest_broker,
    cluster_overrides,
    redis_masters,
    stack,
    under_replicated,
    wait_for,
)


def broker_and_redis_master_killed(
    events: int = 1500, broker_down: float = 8.0, seed: int = 41, workers: int = 2
) -> Figures:
    """SIGKILL the broker leading most of the pipeline's partitions, restart it; then SIGKILL a
    Redis Cluster master and restart it once its replica took over. Storage: the Redis Cluster."""
    world = generate_world(users=max(60, events // 12), events=events, seed=seed)
    overrides = cluster_overrides()
    settings = chaos_settings("redis", partitions=6, **overrides)
    topics = TopicNames.from_settings(settings).consumed
    first_port = int(settings.redis_url.rpartition(":")[2])

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        applying(settings, supervisor)
        broker, led = busiest_broker(settings.kafka_bootstrap, topics)
        behind = lag_or_none(settings)
        stack("kill", f"kafka-cluster/kafka-{broker}")
        supervisor.hold(broker_down)
        stack("up", "kafka-cluster")
        figures.notes["broker killed"] = (
            f"{broker} (leader of {led} partitions, down {broker_down:.0f}s, group lag then {behind})"
        )

        masters = redis_masters(first_port)
        victim = sorted(masters)[1]  # not the node the clients were given: they must find the others
        survivor = next(port for port in masters if port != victim)
        replicas = masters[victim]
        behind = lag_or_none(settings)
        stack("kill", f"redis-cluster/{victim}")
        promoted = wait_for(
            lambda: victim not in redis_masters(survivor) and set(replicas) & set(redis_masters(survivor)),
            f"a replica of Redis master {victim} promoted",
            60,
            supervisor.poll,
        )
        stack("up", "redis-cluster")
        rejoined = wait_for(
            lambda: any(victim in followers for followers in redis_masters(survivor).values()),
            f"Redis node {victim} back as a replica",
            60,
            supervisor.poll,
        )
        figures.notes["redis master killed"] = (
            f"{victim} (group lag then {behind}), replica promoted in {promoted:.1f}s, "
            f"old master back as replica in {rejoined:.1f}s"
        )
        caught_up = wait_for(
            lambda: under_replicated(settings.kafka_bootstrap, topics) == 0,
            "every partition's replicas in sync again",
            120,
            supervisor.poll,
        )
        figures.notes["restarted broker in sync"] = f"{caught_up:.1f}s after the Redis failover"

    return _run(
        "broker and Redis master killed (cluster stack)", settings, world, workers, disrupt, 600, pace=0.02
    )


def cassandra_cluster(events: int = 800, seed: int = 42, workers: int = 2) -> Figures:
    """A world through two workers into the two-node Cassandra cluster (replication 2, quorum),
    with a broker restarted mid-way; records the keyspace's replication as the nodes report it."""
    world = generate_world(users=max(50, events // 12), events=events, seed=seed)
    settings = chaos_settings("cassandra", partitions=4, **cluster_overrides())
    topics = TopicNames.from_settings(settings).consumed

    def disrupt(supervisor: Supervisor, figures: Figures) -> None:
        applying(settings, supervisor)
        broker, _led = busiest_broker(settings.kafka_bootstrap, topics)
        stack("kill", f"kafka-cluster/kafka-{broker}")
        supervisor.hold(5)
        stack("up", "kafka-cluster")
        figures.notes["broker killed"] = broker
        figures.notes["replication"] = keyspace_replication(settings)

    return _run("two-node Cassandra (cluster stack)", settings, world, workers, disrupt, 600, pace=0.005)


def keyspace_replication(settings) -> dict[str, str]:
    """The replication map of the run's keyspace, and the nodes the driver sees up."""
    from cassandra.cluster import Cluster

    cluster = Cluster(settings.cassandra_hosts, port=settings.cassandra_port)
    try:
        session = cluster.connect()
        row = session.execute(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s",
            (settings.cassandra_keyspace,),
        ).one()
        replication = dict(row.replication) if row else {}
        replication["nodes up"] = str(sum(host.is_up for host in cluster.metadata.all_hosts()))
        return replication
    finally:
        cluster.shutdown()
