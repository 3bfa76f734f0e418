"""Which offsets of each partition this worker's agents applied: what may be committed.

Kafka keeps one committed offset per partition, and everything below it
counts as done for whoever reads the partition next. So a commit is safe
only if every offset from the group's committed one up to it was applied
here (or holds no record). The agents record each batch they applied; the
consumer asks how far a commit may go (streamfeed.consumers.transport).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Hashable, Iterable

#: A partition, as the consumer names it (Faust's TP).
Partition = Hashable


class AppliedOffsets:
    """Applied offsets per partition, as sorted, disjoint, merged [start, end) ranges.

    Agents apply a partition's records in order, so a partition is one
    range most of the time; re-reads after a rebalance add nothing new,
    and holes are the records some rebalance skipped.
    """

    def __init__(self, topics: Iterable[str] = ()) -> None:
        #: The topics whose commits this guards: those the agents consume (and record).
        self.topics = frozenset(topics)
        #: Commits the consumer cut back so far (records counted done that were not applied).
        self.holds = 0
        self._starts: dict[Partition, list[int]] = defaultdict(list)
        self._ends: dict[Partition, list[int]] = defaultdict(list)

    def add(self, partition: Partition, offsets: Iterable[int]) -> None:
        """Record offsets as applied (any order, repeats allowed)."""
        run_start = run_end = None
        for offset in sorted(set(offsets)):
            if run_end == offset:
                run_end += 1
                continue
            if run_start is not None and run_end is not None:
                self.add_range(partition, run_start, run_end)
            run_start, run_end = offset, offset + 1
        if run_start is not None and run_end is not None:
            self.add_range(partition, run_start, run_end)

    def add_range(self, partition: Partition, start: int, end: int) -> None:
        """Record [start, end) as applied, or as holding no record (nothing to apply)."""
        if end <= start:
            return
        starts, ends = self._starts[partition], self._ends[partition]
        # Every range overlapping or touching [start, end) is merged into it.
        first = bisect.bisect_left(ends, start)
        last = bisect.bisect_right(starts, end)
        if first < last:
            start = min(start, starts[first])
            end = max(end, ends[last - 1])
        starts[first:last] = [start]
        ends[first:last] = [end]

    def reach(self, partition: Partition, base: int) -> int:
        """How far a commit may go from the group's committed offset `base`: the end of the
        applied range holding `base`, or `base` itself when the record at `base` was not applied."""
        starts, ends = self._starts.get(partition, []), self._ends.get(partition, [])
        index = bisect.bisect_right(starts, base) - 1
        if index >= 0 and base < ends[index]:
            return ends[index]
        return base

    def next_applied(self, partition: Partition, offset: int) -> int | None:
        """The first applied offset above `offset`, if any: where a hole at `offset` ends."""
        starts = self._starts.get(partition, [])
        index = bisect.bisect_right(starts, offset)
        return starts[index] if index < len(starts) else None

    def forget_before(self, partition: Partition, offset: int) -> None:
        """Drop what lies below a committed offset: nothing will ask about it again (a commit
        never goes back; one that does is held and its records read again)."""
        starts, ends = self._starts.get(partition), self._ends.get(partition)
        if not starts or not ends:
            return
        keep = bisect.bisect_right(ends, offset)
        del starts[:keep], ends[:keep]
        if starts and starts[0] < offset:
            starts[0] = offset

    def ranges(self, partition: Partition) -> list[tuple[int, int]]:
        """The applied [start, end) ranges of a partition, in order (for reports and tests)."""
        return list(zip(self._starts.get(partition, []), self._ends.get(partition, []), strict=True))
