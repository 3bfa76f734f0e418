"""The Manager: Stream Framework's API for a feed application, in front of the pipeline.

Subclass it to declare the application (feed classes, limits, follower
look-up) and point workers at the instance: ``streamfeed worker --app
myapp.feeds:manager``. Its write methods publish events through a driver:
inline (run the steps at once, in process) or Kafka (publish with the
producer, workers do the rest). Reads always go straight to storage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from streamfeed.app.application import Driver, FeedApplication
from streamfeed.app.inline import InlineDriver
from streamfeed.domain.activity import Activity, check_user_id, parse_target
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
from streamfeed.domain.reactions import (
    MAX_RECENT_REACTIONS,
    ReactionState,
    ReactionSummary,
    add_event,
    reaction_identity,
    remove_event,
    update_event,
)
from streamfeed.feeds.aggregated import AggregatedFeed
from streamfeed.feeds.flat import BaseFeed, Feed
from streamfeed.feeds.hybrid import SWITCH_LEAD
from streamfeed.storage.base import Backend
from streamfeed.storage.reactions import ReactionCursor, cursor_of


def _cursor(after: Any) -> str | None:
    return None if after is None else check_user_id("after", after)


def _page_size(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("limit", limit, "must be a positive integer")
    return limit


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
        self.follow_pairs([(user_id, target_user_id)], activity_copy_limit)

    def unfollow_user(self, user_id: Any, target_user_id: Any) -> None:
        self.unfollow_pairs([(user_id, target_user_id)])

    def follow_many_users(
        self, user_id: Any, target_ids: Iterable[Any], activity_copy_limit: int | None = None
    ) -> None:
        self.follow_pairs([(user_id, target) for target in target_ids], activity_copy_limit)

    def unfollow_many_users(self, user_id: Any, target_ids: Iterable[Any]) -> None:
        self.unfollow_pairs([(user_id, target) for target in target_ids])

    def follow_pairs(self, pairs: Iterable[tuple[Any, Any]], activity_copy_limit: int | None = None) -> int:
        """Follow for many (follower, followed) pairs at once. Every pair is checked before any is
        published, so a bad id fails the whole call and publishes nothing. Returns the count."""
        return self._follow(FollowOp.FOLLOW, pairs, activity_copy_limit)

    def unfollow_pairs(self, pairs: Iterable[tuple[Any, Any]]) -> int:
        """Unfollow for many (follower, followed) pairs at once, all checked first."""
        return self._follow(FollowOp.UNFOLLOW, pairs, None)

    def _follow(self, op: FollowOp, pairs: Iterable[tuple[Any, Any]], limit: int | None) -> int:
        now = datetime.now(UTC)
        events = [
            FollowEvent.from_record(
                {
                    "op": op.value,
                    "follower": check_user_id("follower", follower),
                    "followed": check_user_id("followed", followed),
                    "activity_copy_limit": limit,
                    "time": now,
                }
            )
            for follower, followed in pairs
        ]
        for event in events:
            self.driver.follow(event)
        return len(events)

    # -- the follow graph, read from storage ---------------------------------------------

    def followers(self, user_id: Any, limit: int = 25, after: Any = None) -> list[str]:
        """Who follows user_id, in user id order: up to `limit` after the user id `after` (the
        last of the page before; None for the first page)."""
        return self.backend.follows.followers_after(
            check_user_id("user_id", user_id), _cursor(after), _page_size(limit)
        )

    def following(self, user_id: Any, limit: int = 25, after: Any = None) -> list[str]:
        """Whom user_id follows, in user id order, paged like followers."""
        return self.backend.follows.following_after(
            check_user_id("user_id", user_id), _cursor(after), _page_size(limit)
        )

    def follow_counts(self, user_id: Any) -> tuple[int, int]:
        """(followers, following) of user_id."""
        return self.backend.follows.graph_counts([check_user_id("user_id", user_id)])[0]

    def is_following(self, pairs: Iterable[tuple[Any, Any]]) -> list[bool]:
        """Whether each (follower, followed) pair follows now: one lookup per followed user."""
        checked = [
            (check_user_id("follower", follower), check_user_id("followed", followed))
            for follower, followed in pairs
        ]
        asked: dict[str, set[str]] = {}
        for follower, followed in checked:
            asked.setdefault(followed, set()).add(follower)
        follows = self.backend.follows
        found = {followed: follows.following_among(sorted(fs), followed) for followed, fs in asked.items()}
        return [follower in found[followed] for follower, followed in checked]

    # -- reactions ----------------------------------------------------------------------

    def add_reaction(
        self,
        kind: str,
        user_id: Any,
        activity_id: str,
        data: dict[str, Any] | None = None,
        parent_id: str | None = None,
        target_feeds: Iterable[str] = (),
        reaction_id: str | None = None,
    ) -> str:
        """A like, comment or reply of user_id on the activity (or, with parent_id, on one of
        its reactions); returns the reaction's id (a new UUID's hex unless given). Adding the
        same id again changes nothing."""
        now = datetime.now(UTC)
        chosen = reaction_id or uuid.uuid4().hex
        identity = reaction_identity(kind, user_id, activity_id, parent_id, now, tuple(target_feeds))
        self._check_target_feeds(identity.target_feeds)
        self.driver.reaction(add_event(chosen, identity, data, now))
        return chosen

    def _check_target_feeds(self, target_feeds: Sequence[str]) -> None:
        """Target feeds name the app's notification feeds, as `to` does: refused here, not by the
        worker that would send the notification."""
        allowed = self.extra_feed_classes
        for entry in target_feeds:
            name, _ = parse_target(entry)
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ValidationError(
                    "target_feeds", entry, f"names feed {name!r}; it may name only: {known}"
                )

    def update_reaction(self, reaction_id: str, activity_id: str, data: dict[str, Any] | None) -> None:
        """Replace the reaction's data (a comment's text); the newest update wins."""
        self.driver.reaction(update_event(reaction_id, activity_id, data, datetime.now(UTC)))

    def remove_reaction(self, reaction_id: str, activity_id: str) -> None:
        """Remove the reaction for good: an add or update arriving later changes nothing."""
        self.driver.reaction(remove_event(reaction_id, activity_id, datetime.now(UTC)))

    def reaction_counts(
        self, activity_ids: Sequence[str], parent_id: str | None = None
    ) -> list[dict[str, int]]:
        """Live reactions per kind on each activity (or on its reaction parent_id)."""
        return self.backend.reactions.counts([(a, parent_id or a) for a in activity_ids])

    def reactions(
        self,
        activity_id: str,
        kind: str,
        limit: int = 25,
        before: ReactionState | ReactionCursor | None = None,
        parent_id: str | None = None,
    ) -> list[ReactionState]:
        """The live reactions of a kind, newest first; pass the last one shown as `before` for
        the next page (or its cursor: what an HTTP page hands its client)."""
        cursor = cursor_of(before) if isinstance(before, ReactionState) else before
        return self.backend.reactions.newest(
            (activity_id, parent_id or activity_id), kind, _page_size(limit), cursor
        )

    def reaction_summaries(
        self, activity_ids: Sequence[str], reader: Any = None, recent: int = 0
    ) -> list[ReactionSummary]:
        """What a page of activities shows of their reactions, read for the whole page at once:
        counts per kind, the reader's own (given a reader) and the newest `recent` of each kind."""
        user = None if reader is None else check_user_id("reader", reader)
        if isinstance(recent, bool) or not isinstance(recent, int) or not 0 <= recent <= MAX_RECENT_REACTIONS:
            raise ValidationError("recent", recent, f"must be 0 to {MAX_RECENT_REACTIONS}")
        return self.backend.reactions.summaries([(a, a) for a in activity_ids], user, recent)

    def reaction(self, activity_id: str, reaction_id: str) -> ReactionState | None:
        """The stored state of one reaction (None: never seen here)."""
        return self.backend.reactions.states([(activity_id, reaction_id)]).get((activity_id, reaction_id))

    def own_reactions(self, user_id: Any, activity_ids: Sequence[str]) -> list[list[ReactionState]]:
        """The user's live reactions on each activity, newest first: "did I like this"."""
        user = check_user_id("user_id", user_id)
        return self.backend.reactions.own([(a, a) for a in activity_ids], user)

    def batch_import(self, user_id: Any, activities: Iterable[Activity]) -> None:
        """Import a user's existing activities, oldest first, through the normal fanout."""
        for activity in sorted(activities, key=lambda a: a.id):
            self.add_user_activity(user_id, activity, FanoutPriority.LOW)
