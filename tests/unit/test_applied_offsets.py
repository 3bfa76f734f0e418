"""AppliedOffsets: how far a worker may commit a partition, from what its agents applied."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamfeed.consumers.applied_offsets import AppliedOffsets

TP = ("chaos.follows", 1)


def test_a_commit_reaches_the_end_of_the_applied_run_from_the_committed_offset():
    applied = AppliedOffsets(["chaos.follows"])
    applied.add(TP, range(0, 10))
    assert applied.reach(TP, 0) == 10
    assert applied.reach(TP, 4) == 10


def test_records_skipped_at_the_start_of_a_partition_hold_the_commit_at_the_first_of_them():
    # The chaos suite's loss: a generation's consumer began at offset 10 of a partition never
    # committed; Faust committed 16, past records 0 to 9 that no agent applied.
    applied = AppliedOffsets()
    applied.add(TP, range(10, 16))
    assert applied.reach(TP, 0) == 0
    assert applied.next_applied(TP, 0) == 10


def test_a_hole_in_the_middle_holds_the_commit_until_it_is_filled():
    applied = AppliedOffsets()
    applied.add(TP, [0, 1, 2, 5, 6])
    assert applied.reach(TP, 0) == 3
    assert applied.ranges(TP) == [(0, 3), (5, 7)]
    applied.add(TP, [4, 3])  # read again after the hold
    assert applied.reach(TP, 0) == 7
    assert applied.ranges(TP) == [(0, 7)]


def test_offsets_without_records_count_as_done_once_added_as_a_range():
    applied = AppliedOffsets()
    applied.add(TP, [0, 1, 3])  # offset 2: a transaction's commit marker
    applied.add_range(TP, 2, 3)
    assert applied.reach(TP, 0) == 4


def test_forgetting_below_a_commit_keeps_what_lies_above_it():
    applied = AppliedOffsets()
    applied.add(TP, [*range(0, 5), *range(8, 12)])
    applied.forget_before(TP, 3)
    assert applied.ranges(TP) == [(3, 5), (8, 12)]
    applied.forget_before(TP, 9)
    assert applied.ranges(TP) == [(9, 12)]
    assert applied.reach(TP, 9) == 12
    assert applied.reach(TP, 5) == 5


def test_partitions_are_independent():
    applied = AppliedOffsets()
    applied.add(("t", 0), range(5))
    assert applied.reach(("t", 1), 0) == 0
    assert applied.reach(("t", 0), 0) == 5


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=80), st.integers(min_value=0, max_value=60))
def test_reach_is_the_first_offset_from_base_that_was_not_applied(offsets, base):
    applied = AppliedOffsets()
    for start in range(0, len(offsets), 7):  # in batches, in any order, with repeats
        applied.add(TP, offsets[start : start + 7])
    done = set(offsets)
    expected = base
    while expected in done:
        expected += 1
    assert applied.reach(TP, base) == expected
    ranges = applied.ranges(TP)
    assert all(a < b for a, b in ranges)
    assert all(ranges[i][1] < ranges[i + 1][0] for i in range(len(ranges) - 1))  # disjoint, not touching
    assert {o for a, b in ranges for o in range(a, b)} == done
