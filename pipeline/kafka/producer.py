"""The Python producer for other services: activities and follows as Avro on Kafka.

Idempotent (enable.idempotence: no duplicates from the client's own retries),
keyed as the pipeline expects (actor for activities, follower for follows),
partitioned with murmur2 like Java clients so producers in any language
agree on where a key lives. Delivery failures go to on_delivery if given;
otherwise flush() raises them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from streamfeed.domain.activity import Activity, check_user_id
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import (
    ActivityEvent,
    ActivityOp,
    FanoutBatch,
    FanoutPriority,
    FollowEvent,
    FollowOp,
    MarkSpec,
    mark_batch,
)
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.kafka.clients import client_config
from streamfeed.kafka.event_records import EventEncoder, PublishedEvent, Record
from streamfeed.kafka.sizing import split_to_fit
from streamfeed.schemas.catalog import FANOUT_BATCH
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings, get_settings

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class DeliveryError(StreamfeedError):
    """Records the broker did not acknowledge, with the reasons."""

    def __init__(self, failures: list[str], queued: int = 0) -> None:
        self.failures = failures
        self.count = len(failures) + queued
        reasons = [
            *failures[:5],
            *([f"{queued} still queued: no broker acknowledged them"] if queued else []),
        ]
        super().__init__(f"{self.count} records not delivered ({'; '.join(reasons)})")


class StreamfeedProducer:
    def __init__(
        self,
        settings: Settings | None = None,
        codec: AvroCodec | None = None,
        on_delivery: DeliveryCallback | None = None,
        config: dict[str, Any] | None = None,
        manager: Any = None,
    ) -> None:
        """manager: the app's Manager, if this process has it: `to` targets are then checked
        against its feeds here, as the worker will, instead of becoming dead letters there."""
        self.settings = settings or get_settings()
        self.manager = manager
        self.encoder = EventEncoder(self.settings, codec, manager)
        self.codec = self.encoder.codec
        self.topics = self.encoder.topics
        self.on_delivery = on_delivery
        self.failures: list[str] = []
        self.producer = Producer(
            {
                **client_config(self.settings.kafka_bootstrap),
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                # The topics' max.message.bytes, set by `streamfeed topics create`.
                "message.max.bytes": self.settings.message_max_bytes,
                **(config or {}),
            }
        )

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if self.on_delivery is not None:
            self.on_delivery(error, message)
        elif error is not None:
            self.failures.append(f"{message.topic()} key {message.key()!r}: {error.str()}")

    def _produce(self, topic: str, key: str | bytes | None, value: bytes | None) -> None:
        if isinstance(key, str):
            key = key.encode()
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, on_delivery=self._delivered)
                break
            except BufferError:  # local queue full: serve callbacks until there is room
                self.producer.poll(0.1)
        self.producer.poll(0)

    # -- events -------------------------------------------------------------------------

    def send_activity_event(self, event: ActivityEvent) -> None:
        self.send_raw(*self.encoded(event))

    def send_follow_event(self, event: FollowEvent) -> None:
        self.send_raw(*self.encoded(event))

    def send_author_mode(self, event: AuthorModeEvent) -> None:
        """A push/pull switch rides the follows topic keyed by the author: the author's partition
        applies it (streamfeed.domain.author_modes)."""
        self.send_raw(*self.encoded(event))

    def send_reaction(self, event: ReactionEvent) -> None:
        """A reaction goes to the reactions topic keyed by its activity: the worker owning that
        partition folds all of the activity's reactions (streamfeed.domain.reactions)."""
        self.send_raw(*self.encoded(event))

    def encoded(self, event: PublishedEvent) -> Record:
        """The topic, key and value an event is published as: what send_event sends, for callers
        that check the bytes first (`streamfeed produce` checks their size) and then send_raw."""
        return self.encoder.encoded(event)

    def send_mark(self, user_id: str, spec: MarkSpec) -> None:
        """Seen/read marks go to the marks topic (key: the user), kept like activities and follows
        so a rebuild replays them; a worker forwards each to the user's feed-ops partition, where
        the user's materializer applies it in turn with deliveries: one writer per feed."""

        value = self.codec.encode(FANOUT_BATCH, mark_batch(user_id, spec).to_record())
        self._produce(self.topics.marks, user_id, value)

    def send_batches(self, user_id: str, batches: list[FanoutBatch]) -> None:
        """Feed-ops batches for one user (key: the user, so the user's partition), split by size."""

        for batch in batches:
            for value in split_to_fit(
                batch,
                lambda piece: self.codec.encode(FANOUT_BATCH, piece.to_record()),
                self.settings.feed_ops_max_bytes,
            ):
                self._produce(self.topics.feed_ops_high, user_id, value)

    def send_event(self, event: PublishedEvent) -> None:
        """Publish any kind of event to its topic."""
        self.send_raw(*self.encoded(event))

    def _activity(self, op: ActivityOp, activity: Activity, priority: FanoutPriority | None) -> None:
        self.send_activity_event(ActivityEvent(op, activity, priority, datetime.now(UTC)))

    def add_activity(self, activity: Activity, priority: FanoutPriority | None = None) -> None:
        self._activity(ActivityOp.ADD, activity, priority)

    def remove_activity(self, activity: Activity) -> None:
        self._activity(ActivityOp.REMOVE, activity, None)

    def update_activity(self, activity: Activity) -> None:
        self._activity(ActivityOp.UPDATE, activity, None)

    def add_activities(self, activities: Iterable[Activity]) -> None:
        for activity in activities:
            self.add_activity(activity)

    def remove_activities(self, activities: Iterable[Activity]) -> None:
        for activity in activities:
            self.remove_activity(activity)

    def _follow(
        self, op: FollowOp, follower: Any, followed: Any, limit: int | None, time: datetime | None
    ) -> None:
        record = {
            "op": op.value,
            "follower": check_user_id("follower", follower),
            "followed": check_user_id("followed", followed),
            "activity_copy_limit": limit,
            "time": time or datetime.now(UTC),
        }
        self.send_follow_event(FollowEvent.from_record(record))

    def follow(
        self,
        follower: Any,
        followed: Any,
        activity_copy_limit: int | None = None,
        time: datetime | None = None,
    ) -> None:
        self._follow(FollowOp.FOLLOW, follower, followed, activity_copy_limit, time)

    def unfollow(self, follower: Any, followed: Any, time: datetime | None = None) -> None:
        self._follow(FollowOp.UNFOLLOW, follower, followed, None, time)

    def follow_many(
        self, follower: Any, targets: Iterable[Any], activity_copy_limit: int | None = None
    ) -> None:
        for target in targets:
            self.follow(follower, target, activity_copy_limit)

    def unfollow_many(self, follower: Any, targets: Iterable[Any]) -> None:
        for target in targets:
            self.unfollow(follower, target)

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Publish bytes as they are: dead-letter replay, and tests that feed the pipeline bad input."""
        self._produce(topic, key, value)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every record to be acknowledged; raise DeliveryError for those that failed."""
        remaining = self.producer.flush(timeout)
        if self.failures or remaining:
            failures, self.failures = self.failures, []
            raise DeliveryError(failures, remaining)
