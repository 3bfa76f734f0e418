"""The worker's metrics without a worker: the storage timing proxy and the scrape-time collector."""

from prometheus_client.parser import text_string_to_metric_families

from streamfeed.app.manager import Manager
from streamfeed.consumers.applied_offsets import AppliedOffsets
from streamfeed.consumers.metrics import TimedBackend, WorkerMetrics
from streamfeed.consumers.runtime import Stats
from streamfeed.consumers.worker import Readiness
from streamfeed.domain.activity import Activity
from streamfeed.storage.memory import MemoryBackend


def samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_storage_calls_are_timed_by_backend_and_operation_and_behave_the_same():
    metrics = WorkerMetrics(Readiness())
    manager = Manager(MemoryBackend())
    manager.backend = TimedBackend(manager.backend, metrics.storage_seconds)
    manager.follow_user("bob", "ann")
    manager.add_user_activity("ann", Activity("ann", "love", "p1"))
    assert [a.object_id for a in manager.get_feeds("bob")["normal"][:]] == ["p1"]
    found = samples(metrics)
    key = (
        "streamfeed_storage_call_seconds_count",
        (("backend", "memory"), ("operation", "timelines.add_batches")),
    )
    assert found[key] >= 2  # the actor's user feed and bob's feed
    assert (
        found[
            (
                "streamfeed_storage_call_seconds_count",
                (("backend", "memory"), ("operation", "follows.follow")),
            )
        ]
        == 1
    )


def test_the_collector_reads_the_runtime_and_readiness_when_scraped():
    readiness = Readiness()
    metrics = WorkerMetrics(readiness)

    class Runtime:
        stats = Stats()
        applied = AppliedOffsets()

    metrics.runtime = Runtime()
    Runtime.stats.processed["fanout"] += 7
    Runtime.stats.retries = 2
    Runtime.applied.holds = 3
    assert samples(metrics)[("streamfeed_ready", ())] == 0.0
    readiness.serving()
    metrics.held = {("t.activities", 0)}  # what the group assigned this worker
    metrics.set_lags({("t.activities", 0): 5, ("t.activities", 1): 9})
    found = samples(metrics)
    assert found[("streamfeed_events_processed_total", (("agent", "fanout"),))] == 7
    assert found[("streamfeed_storage_retries_total", ())] == 2
    assert found[("streamfeed_commits_held_total", ())] == 3
    assert found[("streamfeed_ready", ())] == 1.0
    assert found[("streamfeed_consumer_lag", (("partition", "0"), ("topic", "t.activities")))] == 5
    assert ("streamfeed_consumer_lag", (("partition", "1"), ("topic", "t.activities"))) not in found
    assert metrics.alive  # no loop yet: still starting, alive
    metrics.beat = 0.0  # a loop that stopped turning long ago
    assert not metrics.alive
