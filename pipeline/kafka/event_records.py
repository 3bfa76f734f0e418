"""Events as the Kafka records they are published as: topic, key and Avro bytes.

Apart from the producer so that the bytes can be made where no producer is: in
`streamfeed produce`'s encoding processes, and in a dry run that checks sizes
without Kafka.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent, FollowEvent
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.domain.targets import parse_targets
from streamfeed.kafka.topics import TopicNames
from streamfeed.schemas.catalog import ACTIVITY_EVENT, AUTHOR_MODE_EVENT, FOLLOW_EVENT, REACTION_EVENT
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings

#: What an event is published as: (topic, key, value).
Record = tuple[str, bytes, bytes]
#: Every event a producer publishes.
PublishedEvent = ActivityEvent | FollowEvent | AuthorModeEvent | ReactionEvent


class EventEncoder:
    """The records of activity, follow, author-mode and reaction events, keyed as the pipeline
    expects (actor for activities, follower for follows, the author for a mode switch, the
    activity for a reaction: one writer folds all of an activity's reactions)."""

    def __init__(self, settings: Settings, codec: AvroCodec | None = None, manager: Any = None) -> None:
        """codec: without one, the settings' (the schema registry's wire format if a registry
        URL is set). manager: the app's Manager, if this process has it: `to` targets are then
        checked against its feeds here, as the worker will, instead of becoming dead letters."""
        self.codec = codec or AvroCodec(registry=settings.schema_registry_url)
        self.topics = TopicNames.from_settings(settings)
        self.manager = manager

    def encoded(self, event: PublishedEvent) -> Record:
        if isinstance(event, ReactionEvent):
            value = self.codec.encode(
                REACTION_EVENT, event.to_record(), subject=f"{self.topics.reactions}-value"
            )
            return self.topics.reactions, event.activity_id.encode(), value
        if isinstance(event, ActivityEvent):
            if self.manager is not None:
                parse_targets(self.manager, [event.activity])  # ValidationError names the bad entry
            if event.published_at is None and event.version is None:  # the version storage orders by
                event = dataclasses.replace(event, published_at=datetime.now(UTC))
            value = self.codec.encode(
                ACTIVITY_EVENT, event.to_record(), subject=f"{self.topics.activities}-value"
            )
            return self.topics.activities, event.activity.actor_id.encode(), value
        if isinstance(event, AuthorModeEvent):
            # A second record type on the follows topic: its registry subject is topic-and-record.
            subject = f"{self.topics.follows}-{AUTHOR_MODE_EVENT}"
            value = self.codec.encode(AUTHOR_MODE_EVENT, event.to_record(), subject=subject)
            return self.topics.follows, event.author.encode(), value
        value = self.codec.encode(FOLLOW_EVENT, event.to_record(), subject=f"{self.topics.follows}-value")
        return self.topics.follows, event.follower.encode(), value
