"""How a Manager's writes are carried out in process: the embedded default.

InlineDriver is Stream Framework's CELERY_ALWAYS_EAGER: the pipeline's own
steps, run at once in the caller's process with no broker, which is the
embedded default and the reference the Kafka path is tested against
(streamfeed.kafka.driver publishes the same events for workers instead).
"""

from __future__ import annotations

import threading

from streamfeed.app.application import FeedApplication
from streamfeed.app.steps import (
    apply_author_mode,
    apply_follow,
    expand_rests,
    fanout_many,
    materialize,
    react_and_notify,
)
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent, FanoutBatch, FollowEvent, MarkSpec, mark_batch
from streamfeed.domain.reactions import ReactionEvent


class InlineDriver:
    """Runs fanout and materialization at once; one partition, so one batch per chunk.

    One writer, as a feed-ops partition has one: a lock keeps writes made
    from several threads (the HTTP API's request threads) from interleaving
    their read-merge-writes of the same feeds.
    """

    def __init__(self, manager: FeedApplication) -> None:
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

    def reaction(self, event: ReactionEvent) -> None:
        with self.lock:
            for batch in react_and_notify(self.manager, [event], 1):
                materialize(self.manager, batch)
