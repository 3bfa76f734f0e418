"""How a Manager's writes are carried out in production: published for the workers.

KafkaDriver has the InlineDriver's methods; the workers run the same steps
on what it publishes, so a Manager behaves the same with either driver
once the group has caught up.
"""

from __future__ import annotations

from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent, FanoutBatch, FollowEvent, MarkSpec
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.kafka.producer import StreamfeedProducer


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

    def reaction(self, event: ReactionEvent) -> None:
        self.producer.send_reaction(event)

    def flush(self, timeout: float = 30.0) -> None:
        self.producer.flush(timeout)

    def reachable(self, timeout: float = 2.0) -> None:
        """Raise if no broker answers a metadata request within timeout: writes would only queue."""
        self.producer.producer.list_topics(timeout=timeout)
