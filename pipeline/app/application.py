"""What a feed application is: its feeds, limits and follower lanes, declared by class attribute.

The pipeline's steps need only this declarative half of a Manager (which
feeds exist, how many activities a follow copies, how followers split into
lanes, who is pulled), never its write API or driver: so the steps sit
below the Manager, as Stream Framework's tasks take the manager as an
argument, and the same steps serve inline mode and the Faust agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from streamfeed.domain.activity import Activity
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent, FanoutBatch, FanoutPriority, FollowEvent, MarkSpec
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed
from streamfeed.feeds.flat import BaseFeed, Feed, UserFeed
from streamfeed.settings import get_settings
from streamfeed.storage.base import Backend
from streamfeed.storage.registry import get_backend


class Driver(Protocol):
    """Where a Manager's writes go: run at once (app.inline) or published (kafka.driver)."""

    def activity(self, event: ActivityEvent) -> None: ...

    def follow(self, event: FollowEvent) -> None: ...

    def author_mode(self, event: AuthorModeEvent) -> None: ...

    def mark(self, user_id: str, spec: MarkSpec) -> None: ...

    def deliver(self, user_id: str, batches: list[FanoutBatch]) -> None: ...

    def reaction(self, event: ReactionEvent) -> None: ...


class FeedApplication:
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
    #: this, not by an author's follower count (streamfeed.app.steps.FanoutRest).
    follower_page_size: ClassVar[int] = 10_000
    activity_class: ClassVar[type[Activity]] = Activity
    #: Hybrid push/pull: an author with at least this many followers is switched to pull (their
    #: activities are merged into followers' flat feeds when read), and back to push below
    #: pull_hysteresis of it. None: STREAMFEED_PULL_THRESHOLD, unset means never by count.
    pull_threshold: int | None = None
    pull_hysteresis: ClassVar[float] = 0.9
    #: Most `to` targets one activity may name; None: STREAMFEED_MAX_TARGETS.
    max_targets: int | None = None
    #: The verb of the notification activity a reaction naming target_feeds sends, by reaction
    #: kind (registered verbs); kinds not listed use reaction_verb.
    reaction_verbs: ClassVar[dict[str, str]] = {"comment": "comment"}
    reaction_verb: ClassVar[str] = "love"

    def __init__(self, backend: Backend | None = None) -> None:
        if self.pull_threshold is None:
            self.pull_threshold = get_settings().pull_threshold
        if self.max_targets is None:
            self.max_targets = get_settings().max_targets
        self.backend = backend or get_backend()

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
        return type(self).get_user_follower_ids is FeedApplication.get_user_follower_ids

    def follower_lanes_of(self, user_id: str, followers: list[str]) -> dict[FanoutPriority, list[str]]:
        """The fanout's lanes for an actor whose followers it has read (for a whole run at once);
        an app that overrides get_user_follower_ids, as Stream Framework apps did, is asked
        through it instead."""
        if type(self).get_user_follower_ids is not FeedApplication.get_user_follower_ids:
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

    def allow_targets(self, activity: Activity) -> list[str]:
        """The `to` entries of an activity its actor may use when publishing with a user token
        (the HTTP API refuses the activity if it names any other, before anything is written).
        Services holding the service key may target anyone: apps usually notify from their
        backend. Default: a user may target only their own feeds. Override with the app's
        rule, for example the owner of the object, or mentioned users who follow the actor
        (docs/http-api.md, "Security")."""
        return [entry for entry in activity.to if entry.partition(":")[2] == activity.actor_id]

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
