"""`streamfeed status` lag per topic, from high-water marks and committed offsets."""

from streamfeed.ops.status import topic_lag

NONE = -1001  # what Kafka answers for a partition the group never committed


def test_lag_is_high_water_minus_committed_summed_over_partitions():
    assert topic_lag([10, 5, 0], [7, 5, 0]) == (3, False)


def test_an_empty_partition_never_committed_lags_by_nothing():
    """A topic nobody published to (marks, often) has no commits: its lag is 0, not 1001 a
    partition, as a runbook run printed before this was fixed."""
    assert topic_lag([0, 0, 4], [NONE, NONE, 4]) == (0, False)


def test_a_partition_with_data_and_no_commit_counts_all_of_it_and_says_so():
    """It said "nothing committed yet" instead of a count before (issue 28)."""
    assert topic_lag([3, 0], [NONE, NONE]) == (3, True)
