"""How a Manager's writes are carried out: in process, or through Kafka.

InlineDriver is Stream Framework's CELERY_ALWAYS_EAGER: the pipeline's own
steps, run at once in the caller's process with no broker, which is the
embedded default and the reference the Kafka path is tested against.
KafkaDriver publishes events; workers run the same steps.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from pipeline.author_modes import AuthorModeEvent
from pipeline.events import ActivityEvent, FanoutBatch, FollowEvent, MarkSpec
from pipeline.steps import (
    apply_author_mode,
    apply_follow,
    expand_rests,
    fanout_many,
    mark_batch,
    materialize,
)

if TYPE_CHECKING:
    from pipeline.manager import Manager
    from pipeline.producer import StreamfeedProducer


class InlineDriver:
    """Runs fanout and materialization at once; one partition, so one batch per chunk.

    One writer, as a feed-ops partition has one: a lock keeps writes made
    from several threads (the HTTP API's request threads) from interleaving
    their read-merge-writes of the same feeds.
    """

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.lock = threading.RLock()

    def activity(self, event: ActivityEvent) -> None:
        with self.lock:
            switches: list[AuthorModeEvent] = []
            for batch in expand_rests(self.manager, fanout_many(self.manager, [event], 1, switches)[0], 1):
                materialize(self.manager, batch)
            for switch in switches:
                self.author_mode(switch)

    def author_mode(self, event: AuthorModeEvent) -> None:
        with self.lock:
            for batch in expand_rests(self.manager, apply_author_mode(self.manager, event, partitions=1), 1):
                materialize(self.manager, batch)

    def follow(self, event: FollowEvent) -> None:
        with self.lock:
            for batch in apply_follow(self.manager, event):
                materialize(self.manager, batch)

    def mark(self, user_id: str, spec: MarkSpec) -> None:
        with self.lock:
            materialize(self.manager, mark_batch(user_id, spec))

    def deliver(self, user_id: str, batches: list[FanoutBatch]) -> None:
        """Batches for one user's feeds (a one-user rebuild), applied at once."""
        with self.lock:
            for batch in batches:
                materialize(self.manager, batch)


class KafkaDriver:
    """Publishes events for the workers; call flush() to wait for delivery."""

    def __init__(self, producer: StreamfeedProducer) -> None:
        self.producer = producer

    def activity(self, event: ActivityEvent) -> None:
        self.producer.send_activity_event(event)

    def follow(self, event: FollowEvent) -> None:
        self.producer.send_follow_event(event)

    def author_mode(self, event: AuthorModeEvent) -> None:
        self.producer.send_author_mode(event)

    def mark(self, user_id: str, spec: MarkSpec) -> None:
        self.producer.send_mark(user_id, spec)

    def deliver(self, user_id: str, batches: list[FanoutBatch]) -> None:
        """Batches for one user's feeds, to the user's feed-ops partition: its one writer applies them."""
        self.producer.send_batches(user_id, batches)

    def flush(self, timeout: float = 30.0) -> None:
        self.producer.flush(timeout)
