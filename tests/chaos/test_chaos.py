"""The chaos suite, shortened for CI: every scenario of ``python -m tests.chaos``, smaller.

Each runs a generated world through real workers on the local stack while
something goes wrong, then compares every feed of every user with the
inline oracle: 0 lost, 0 duplicated, 0 unexpected, no feed different.
"""

from __future__ import annotations

import pytest

from tests.chaos import scenarios

pytestmark = pytest.mark.integration


def test_sigkills_of_workers_lose_and_duplicate_nothing(stack, report):
    figures = report(scenarios.worker_kills(kills=4, workers=3, events=1200))
    assert figures.restarts >= 4


def test_sigkills_of_workers_with_static_membership_lose_and_duplicate_nothing(stack, report):
    """Restarted workers rejoin under their own names (STREAMFEED_WORKER_INSTANCE_ID) and take
    their partitions back; the figures carry the longest partition stall."""
    figures = report(scenarios.worker_kills(kills=3, workers=2, events=800, static=True))
    assert figures.restarts >= 3


def test_a_kafka_outage_while_publishing_and_consuming_loses_nothing(stack, report):
    report(scenarios.kafka_outage(seconds=6, events=800))


def test_a_cassandra_outage_longer_than_the_retry_deadline_loses_nothing(stack, report):
    figures = report(scenarios.cassandra_outage(seconds=12, events=800))
    # Workers caught mid-batch give up past the retry deadline (75) and are restarted; idle ones
    # simply wait. Never a crash.
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes


def test_a_redis_outage_longer_than_the_retry_deadline_loses_nothing(stack, report):
    figures = report(scenarios.redis_outage(seconds=12, events=800))
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes


def test_storage_that_lost_its_data_is_rebuilt_by_the_workers_themselves(stack, report):
    """STREAMFEED_AUTO_REBUILD: Redis loses the deployment's keys mid-run; one worker rebuilds
    into a new generation and switches, the workers restart onto it (75), nothing is lost."""
    figures = report(scenarios.storage_lost_rebuilt(events=800))
    assert figures.notes["generation"] != ""
    assert figures.notes["moved on (exit 75)"] >= 1, figures.notes
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes


def test_network_faults_between_workers_and_kafka_and_redis_lose_nothing(stack, report):
    """Latency, a bandwidth limit, stalled, reset and cut connections (toxiproxy) in turn."""
    figures = report(scenarios.network_faults(events=600))
    assert figures.notes["faults"] == 7
    # Only the Redis cut longer than the retry deadline may end a worker (75), never a crash.
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes


def test_network_faults_between_workers_and_cassandra_lose_nothing(stack, report):
    """The same faults between the workers and Cassandra, the feeds' storage."""
    figures = report(scenarios.cassandra_network_faults(events=600))
    assert figures.notes["faults"] == 6
    # Only the cut longer than the retry deadline may end a worker (75), never a crash.
    assert set(figures.notes.get("exit codes", {})) <= {75}, figures.notes


def test_bad_records_of_every_kind_become_dead_letters_with_their_reason(stack, report):
    count = 2 * len(scenarios.BAD_KINDS) * 20
    figures = report(scenarios.bad_records(count=count, events=800))
    assert figures.dead_letters == count
    assert figures.notes["wrong reasons"] == 0, figures.differences
    assert figures.notes["dead letters by kind"] == {
        kind: count // len(scenarios.BAD_KINDS) for kind in scenarios.BAD_KINDS
    }


def test_an_unexpected_error_that_passes_is_tried_again_in_place(stack, report):
    """Before issue 25 the worker exited (70) and a restart applied the batch."""
    figures = report(scenarios.unexpected_error(events=600))
    assert figures.notes["fault fired"] is True
    assert "exit codes" not in figures.notes, figures.notes
    assert figures.dead_letters == 0


def test_poison_records_become_dead_letters_and_everything_else_is_applied(stack, report):
    """Failed before issue 25: a record failing every time made the worker exit 70 on each
    restart, stalling every partition it held."""
    figures = report(scenarios.poison_records(poisoned=3, events=800))
    assert "exit codes" not in figures.notes, figures.notes
    assert figures.notes["poisoned activities"] == 3, figures.notes
    assert figures.notes["letters"] == [("RuntimeError", 3)], figures.notes
    assert figures.notes["stack names the app"] is True


def test_a_follow_copying_history_far_above_one_message_is_split_and_applied(stack, report):
    report(scenarios.oversized_copy(activities=600))
