"""Co-partitioning by user: the partition Kafka's default partitioner gives a user id.

Every topic keyed by user has the same partition count, so a user's
follows, feed ops and marks land in the same partition number and one
worker owns all of that user's writes. The hash is Kafka's murmur2, a pure
function: no broker is asked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import confluent_kafka
from aiokafka.partitioner import murmur2

#: Partitions remembered per partition count: 65,536 ids (about 15 MiB), bounded, so a fanout to
#: a million followers does not grow the worker.
PARTITION_CACHE_SIZE = 1 << 16


_partitions_by_count: dict[int, dict[str, int]] = {}


def _python_partition(key: bytes, partitions: int) -> int:
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


#: Kafka's default partition of a key: librdkafka's C murmur2 where confluent-kafka exposes it (a
#: tenth of the pure-Python hash's cost, which was a fifth of a worker's time fanning out to
#: followers it had not seen yet), the same function in Python otherwise.
kafka_partition: Callable[[bytes, int], int] = getattr(confluent_kafka, "murmur2", _python_partition)


def partition_for(user_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives key user_id: co-partitioning by user."""
    memo = _partitions_by_count.get(partitions)
    partition = None if memo is None else memo.get(user_id)
    return kafka_partition(user_id.encode(), partitions) if partition is None else partition


def by_partition(user_ids: Iterable[str], partitions: int) -> dict[int, list[str]]:
    """The users grouped by partition_for, each group in the order given.

    Remembered: a fanout hashes every follower of every activity, and the
    same followers come back activity after activity (murmur2 in Python was
    a tenth of a worker's time in the 1,000-follower benchmark). The memo is
    dropped whole when full: refilling it costs what a miss does.
    """
    memo = _partitions_by_count.get(partitions)
    if memo is None or len(memo) > PARTITION_CACHE_SIZE:
        memo = _partitions_by_count[partitions] = {}
    known = memo.get
    groups: dict[int, list[str]] = defaultdict(list)
    for user_id in user_ids:
        partition = known(user_id)
        if partition is None:
            partition = memo[user_id] = kafka_partition(user_id.encode(), partitions)
        groups[partition].append(user_id)
    return groups


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
