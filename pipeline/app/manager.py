"""The Manager: Stream Framework's API for a feed application, in front of the pipeline.

Subclass it to declare the application (feed classes, limits, follower
look-up) and point workers at the instance: ``streamfeed worker --app
myapp.feeds:manager``. Its write methods publish events through a driver:
inline (run the steps at once, in process) or Kafka (publish with the
producer, workers do the rest). Reads always go straight to storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from streamfeed.app.application import Driver, FeedApplication
from streamfeed.app.inline import InlineDriver
from streamfeed.domain.activity import Activity, check_user_id
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import (
    ActivityEvent,
    ActivityOp,
    FanoutPriority,
    FollowEvent,
    FollowOp,
    MarkSpec,
)
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.ids import sort_key_for
from streamfeed.feeds.aggregated import AggregatedFeed
from streamfeed.feeds.flat import BaseFeed, Feed
from streamfeed.feeds.hybrid import SWITCH_LEAD
from streamfeed.storage.base import Backend


class Manager(FeedApplication):
    """The application's write and read API; writes go through a driver (inline by default)."""

    def __init__(self, backend: Backend | None = None, driver: Driver | None = None) -> None:
        super().__init__(backend)
        self.driver: Driver = InlineDriver(self) if driver is None else driver

    def pull_author(self, author_id: Any, at: datetime | None = None) -> None:
        """Switch an author to pull, for activities from `at` on (default: a moment from now,
        so every reader knows before the first activity it covers)."""
        self._author_mode(author_id, True, at)

    def push_author(self, author_id: Any, at: datetime | None = None) -> None:
        """Switch an author back to push, for activities from `at` on; activities pulled until
        then stay merged in at read."""
        self._author_mode(author_id, False, at)

    def _author_mode(self, author_id: Any, pulled: bool, at: datetime | None) -> None:
        time = sort_key_for(datetime.now(UTC)) + SWITCH_LEAD if at is None else sort_key_for(at)
        self.driver.author_mode(AuthorModeEvent(check_user_id("author", author_id), pulled, time))

    # -- reads ----------------------------------------------------------------------

    def get_user_feed(self, user_id: Any) -> Feed:
        return self.user_feed_class(user_id, self.backend)

    def get_feeds(self, user_id: Any) -> dict[str, BaseFeed]:
        return {name: self.get_feed(name, user_id) for name in self.feed_classes}

    def get_feed(self, name: str, user_id: Any) -> BaseFeed:
        """A user's feed by name; its seen/read marks travel through the pipeline."""
        classes = self.all_feed_classes()
        if name not in classes:
            raise ValueError(f"unknown feed {name!r}; one of {', '.join(classes)}")
        feed = classes[name](user_id, self.backend)
        if isinstance(feed, AggregatedFeed):
            feed.mark_sink = self.driver.mark
        elif isinstance(feed, Feed):
            feed.user_feed_class = self.user_feed_class
        return feed

    def mark(self, user_id: Any, spec: MarkSpec) -> None:
        """Publish seen/read marks; the materializer owning the user applies them."""
        self.driver.mark(check_user_id("user_id", user_id), spec)

    # -- writes -----------------------------------------------------------------------

    def _activity_event(
        self, op: ActivityOp, user_id: Any, activity: Activity, priority: FanoutPriority | None
    ) -> None:
        if check_user_id("user_id", user_id) != activity.actor_id:
            raise ValidationError("actor", activity.actor_id, f"does not match user {user_id!r}")
        self.driver.activity(ActivityEvent(op, activity, priority, datetime.now(UTC)))

    def add_user_activity(
        self, user_id: Any, activity: Activity, priority: FanoutPriority | None = None
    ) -> None:
        """Store the activity in the user's feed and deliver it to every follower."""
        self._activity_event(ActivityOp.ADD, user_id, activity, priority)

    def remove_user_activity(self, user_id: Any, activity: Activity) -> None:
        """Take the activity out of the user's feed and every feed it reached."""
        self._activity_event(ActivityOp.REMOVE, user_id, activity, None)

    def update_user_activity(self, user_id: Any, activity: Activity) -> None:
        """Replace the activity's extra_context everywhere it is shown (its id stays)."""
        self._activity_event(ActivityOp.UPDATE, user_id, activity, None)

    def follow_user(self, user_id: Any, target_user_id: Any, activity_copy_limit: int | None = None) -> None:
        self._follow(FollowOp.FOLLOW, user_id, [target_user_id], activity_copy_limit)

    def unfollow_user(self, user_id: Any, target_user_id: Any) -> None:
        self._follow(FollowOp.UNFOLLOW, user_id, [target_user_id], None)

    def follow_many_users(
        self, user_id: Any, target_ids: Iterable[Any], activity_copy_limit: int | None = None
    ) -> None:
        self._follow(FollowOp.FOLLOW, user_id, target_ids, activity_copy_limit)

    def unfollow_many_users(self, user_id: Any, target_ids: Iterable[Any]) -> None:
        self._follow(FollowOp.UNFOLLOW, user_id, target_ids, None)

    def _follow(self, op: FollowOp, user_id: Any, targets: Iterable[Any], limit: int | None) -> None:
        now = datetime.now(UTC)
        follower = check_user_id("follower", user_id)
        for target in targets:
            record = {
                "op": op.value,
                "follower": follower,
                "followed": check_user_id("followed", target),
                "activity_copy_limit": limit,
                "time": now,
            }
            self.driver.follow(FollowEvent.from_record(record))

    def batch_import(self, user_id: Any, activities: Iterable[Activity]) -> None:
        """Import a user's existing activities, oldest first, through the normal fanout."""
        for activity in sorted(activities, key=lambda a: a.id):
            self.add_user_activity(user_id, activity, FanoutPriority.LOW)
