"""Retrying the Kafka calls that fail while a cluster moves: a leader or coordinator changing.

A broker that dies or restarts hands its partitions' leadership and its
groups' coordination to another; for a few seconds clients hear "not leader",
"not coordinator" or "coordinator load in progress". Those are asked again,
not reported as failures.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential


def retriable(error: BaseException) -> bool:
    """True for Kafka errors that a moment's wait cures."""

    if not isinstance(error, KafkaException):
        return False
    moving = (
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    )
    return error.args[0].retriable() or error.args[0].code() in moving


#: Metadata of a topic created a moment ago, a leader or coordinator moving: asked again, not fatal.
kafka_retry = retry(
    retry=retry_if_exception(retriable),
    wait=wait_exponential(multiplier=0.2, max=2),
    stop=stop_after_delay(60),
    reraise=True,
)
