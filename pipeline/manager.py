"""The Manager: Stream Framework's API for a feed application, in front of the pipeline.

Subclass it to declare the application (feed classes, limits, follower
look-up) and point workers at the instance: ``streamfeed worker --app
myapp.feeds:manager``. Its write methods publish events through a driver:
inline (run the steps at once, in process) or Kafka (publish with the
producer, workers do the rest). Reads always go straight to storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from pipeline.activity import Activity, check_user_id
from pipeline.aggregated_feeds import AggregatedFeed, NotificationFeed
from pipeline.events import ActivityEvent, ActivityOp, FanoutPriority, FollowEvent, FollowOp, MarkSpec
from pipeline.exceptions import ValidationError
from pipeline.feeds import BaseFeed, Feed, UserFeed
from storage.base import Backend
from storage.registry import get_backend


class Manager:
    """Configuration by class attribute; override get_user_follower_ids to use your own graph."""

    #: Feeds every follower gets each activity in, by name.
    feed_classes: ClassVar[dict[str, type[BaseFeed]]] = {
        "normal": Feed,
        "aggregated": AggregatedFeed,
    }
    #: The feed of a user's own activities, copied from on follow.
    user_feed_class: ClassVar[type[Feed]] = UserFeed
    #: Feeds reachable only through an activity's `to` field, by name.
    extra_feed_classes: ClassVar[dict[str, type[BaseFeed]]] = {"notification": NotificationFeed}
    #: How many of the followed user's activities a follow copies in (and unfollow takes out).
    follow_activity_limit: ClassVar[int] = 5_000
    #: Recipients per feed-ops message.
    fanout_chunk_size: ClassVar[int] = 100
    #: Followers the fanout reads, plans and sends at a time: a worker's memory is bounded by
    #: this, not by an author's follower count (pipeline.steps.FanoutRest).
    follower_page_size: ClassVar[int] = 10_000
    activity_class: ClassVar[type[Activity]] = Activity
    #: Hybrid push/pull: an author with at least this many followers is switched to pull (their
    #: activities are merged into followers' flat feeds when read), and back to push below
    #: pull_hysteresis of it. None: STREAMFEED_PULL_THRESHOLD, unset means never by count.
    pull_threshold: ClassVar[int | None] = None
    pull_hysteresis: ClassVar[float] = 0.9

    def __init__(self, backend: Backend | None = None, driver: Any = None) -> None:
        if self.pull_threshold is None:
            from pipeline.settings import get_settings

            self.pull_threshold = get_settings().pull_threshold
        self.backend = backend or get_backend()
        if driver is None:
            from pipeline.drivers import InlineDriver

            driver = InlineDriver(self)
        self.driver = driver

    # -- the application's shape --------------------------------------------------

    def all_feed_classes(self) -> dict[str, type[BaseFeed]]:
        return {
            **self.feed_classes,
            **self.extra_feed_classes,
            self.user_feed_class.name: self.user_feed_class,
        }

    def feeds_named(self, names: Sequence[str]) -> list[type[BaseFeed]]:
        """The classes a batch writes: the named ones, or every follower feed for none."""
        if not names:
            return list(self.feed_classes.values())
        known = self.all_feed_classes()
        missing = [n for n in names if n not in known]
        if missing:
            raise ValidationError("feeds", missing, f"unknown feeds; known: {', '.join(known)}")
        return [known[n] for n in names]

    def get_user_follower_ids(self, user_id: str) -> dict[FanoutPriority, list[str]]:
        """Followers by fanout lane, as the fanout splits them (Stream Framework's name)."""
        return self.follower_lanes(str(user_id), self.backend.follows.followers(str(user_id)))

    def streams_followers(self) -> bool:
        """Whether the fanout may read followers a page at a time: not when the app answers
        get_user_follower_ids from its own graph, whole."""
        return type(self).get_user_follower_ids is Manager.get_user_follower_ids

    def follower_lanes_of(self, user_id: str, followers: list[str]) -> dict[FanoutPriority, list[str]]:
        """The fanout's lanes for an actor whose followers it has read (for a whole run at once);
        an app that overrides get_user_follower_ids, as Stream Framework apps did, is asked
        through it instead."""
        if type(self).get_user_follower_ids is not Manager.get_user_follower_ids:
            return self.get_user_follower_ids(user_id)
        return self.follower_lanes(user_id, followers)

    def follower_lanes(self, user_id: str, followers: list[str]) -> dict[FanoutPriority, list[str]]:
        """Split an actor's followers into fanout lanes. Default: all in HIGH.

        Override to put inactive followers in LOW, so a celebrity's backlog
        never delays everyone else's feeds. Who follows whom is always the
        pipeline's own graph (fed by follow events): that is what lets an
        unfollow win over a late delivery, whatever this returns.
        """
        return {FanoutPriority.HIGH: followers}

    # -- hybrid push/pull -------------------------------------------------------------

    def pulling_feed_names(self) -> list[str]:
        """Follower feeds that merge pulled authors in at read (see Feed.merges_pulled)."""
        user_feed = self.user_feed_class
        return [n for n, c in self.feed_classes.items() if issubclass(c, Feed) and c.merges_pulled(user_feed)]

    def pushed_feed_names(self) -> list[str]:
        """Follower feeds that receive every activity, pulled authors' too (aggregated feeds)."""
        pulling = set(self.pulling_feed_names())
        return [name for name in self.feed_classes if name not in pulling]

    def author_mode_for(self, author_id: str, follower_count: int, pulled: bool) -> bool | None:
        """Whether an author should be pulled (True), pushed (False) or left as is (None), asked
        by the fanout with the follower count it read. Default: pull from pull_threshold
        followers, push again below pull_hysteresis of it. Override to decide per author."""
        if self.pull_threshold is None:
            return None
        if follower_count >= self.pull_threshold:
            return True
        if follower_count < self.pull_threshold * self.pull_hysteresis:
            return False
        return None

    def pull_author(self, author_id: Any, at: datetime | None = None) -> None:
        """Switch an author to pull, for activities from `at` on (default: a moment from now,
        so every reader knows before the first activity it covers)."""
        self._author_mode(author_id, True, at)

    def push_author(self, author_id: Any, at: datetime | None = None) -> None:
        """Switch an author back to push, for activities from `at` on; activities pulled until
        then stay merged in at read."""
        self._author_mode(author_id, False, at)

    def _author_mode(self, author_id: Any, pulled: bool, at: datetime | None) -> None:
        from pipeline.author_modes import AuthorModeEvent
        from pipeline.hybrid import SWITCH_LEAD
        from pipeline.ids import sort_key_for

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
