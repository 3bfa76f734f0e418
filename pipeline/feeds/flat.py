"""Feeds: Stream Framework's Feed API over the storage contracts.

A feed class says where and how (backend, key_format, max_length,
activity_class); a feed instance is one user's feed of that class. Reads
are slices (``feed[:25]``), narrowed by id cursors and ordered, all turned
into one storage page request. Writes of the pipeline go through the
class-level helpers (``add_to_many_users``) so a fanout batch is one storage
call for all its recipients.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar

from streamfeed.domain.activity import USER_ID_PATTERN, USER_ID_RULE, Activity, check_user_id
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.exceptions import StreamfeedError, ValidationError
from streamfeed.domain.ranking import Ranking, RankingError, ranking_from_config
from streamfeed.feeds.hybrid import merged_count, merged_page, pulled_candidates
from streamfeed.feeds.ranked import (
    DEFAULT_RANKING_WINDOW,
    MAX_RANKING_WINDOW,
    RankedCursor,
    RankedPage,
    UnknownRanking,
    ranked_page,
    window_affinity,
)
from streamfeed.storage.base import NO_BOUNDS, Backend, Bounds, PageRequest
from streamfeed.storage.registry import get_backend

_FILTER_FIELDS = {
    "activity_id__gt": "gt",
    "activity_id__gte": "gte",
    "activity_id__lt": "lt",
    "activity_id__lte": "lte",
}
_ORDERINGS = {"activity_id": True, "-activity_id": False}
#: Slice bounds past this read to the end: no feed holds more, and storage (Lua, CQL) wants
#: numbers that fit in 32 bits.
MAX_INDEX = 2**31 - 1


class FeedKeyError(StreamfeedError, ValueError):
    """A user id or key_format that would make an invalid storage key."""


def check_key_format(key_format: str) -> str:
    """key_format as given, or FeedKeyError saying what is wrong with it (apps check every feed
    class's when they load)."""
    return _checked_key_format(key_format)


@lru_cache(maxsize=256)
def _checked_key_format(key_format: str) -> str:
    """Validate a key_format once; fanout computes thousands of keys per batch."""
    if key_format.count("{user_id}") != 1:
        raise FeedKeyError(f"key_format {key_format!r} must contain {{user_id}} exactly once")
    try:
        sample = key_format.format(user_id="{u}")
    except (KeyError, IndexError, ValueError) as exc:
        raise FeedKeyError(f"key_format {key_format!r}: {exc}") from None
    if any(c.isspace() for c in sample) or len(sample) > 300:
        raise FeedKeyError(f"key_format {key_format!r} makes an invalid key {sample!r}")
    return key_format


def feed_key(key_format: str, user_id: Any) -> str:
    """The storage key of a user's feed: the user id wrapped in a Redis Cluster hash tag.

    The tag ``{user}`` puts all of one user's feeds in one Redis Cluster slot,
    so a user's writes batch together; other backends treat it as text.
    """
    return feed_keys(key_format, (user_id,))[0]


#: Keys remembered per key format (about 15 MiB): a worker's hot recipients, bounded whatever
#: the follower counts.
KEY_CACHE_SIZE = 1 << 16

_keys_by_format: dict[str, dict[str, str]] = {}


def feed_keys(key_format: str, user_ids: Iterable[Any]) -> list[str]:
    """feed_key for each user, for a batch's thousand recipients: one dict lookup per known user.

    The materializer keys every recipient of every batch; a function call and
    an lru_cache lookup per user was a twentieth of a worker's time. The
    memo is dropped whole when full: refilling it costs what a miss does.
    """
    memo = _keys_by_format.get(key_format)
    if memo is None or len(memo) > KEY_CACHE_SIZE:
        memo = _keys_by_format[key_format] = {}
    known, valid = memo.get, USER_ID_PATTERN.match
    head, tail = _key_parts(key_format)
    keys = []
    for user_id in user_ids:
        if type(user_id) is not str:  # checked (and refused or keyed) every time: never remembered
            keys.append(_feed_key(key_format, user_id))
            continue
        key = known(user_id)
        if key is None:
            # A miss is the common case in a big graph: the key is built here, without the
            # general check's calls (a quarter of the cost); a bad id takes the path that refuses.
            key = head + "{" + user_id + "}" + tail if valid(user_id) else _feed_key(key_format, user_id)
            memo[user_id] = key
        keys.append(key)
    return keys


@lru_cache(maxsize=256)
def _key_parts(key_format: str) -> tuple[str, str]:
    """What comes before and after the user id in a valid key_format's keys."""
    head, tail = _checked_key_format(key_format).format(user_id="\0").split("\0")
    return head, tail


def _feed_key(key_format: str, user_id: Any) -> str:
    try:
        text = check_user_id("user_id", user_id)
    except ValidationError:
        raise FeedKeyError(f"user id {user_id!r}: use {USER_ID_RULE} (it becomes a storage key)") from None
    return _checked_key_format(key_format).format(user_id="{" + text + "}")


class FeedQuery:
    """A feed narrowed by id bounds and ordered; slice it to read."""

    def __init__(self, feed: BaseFeed, bounds: Bounds = NO_BOUNDS, ascending: bool = False) -> None:
        self.feed = feed
        self.bounds = bounds
        self.ascending = ascending

    def filter(self, **kwargs: str) -> FeedQuery:
        """activity_id__gt/__gte/__lt/__lte; several narrow together."""
        values = {name: getattr(self.bounds, name) for name in ("gt", "gte", "lt", "lte")}
        for name, value in kwargs.items():
            if name not in _FILTER_FIELDS:
                known = ", ".join(_FILTER_FIELDS)
                raise ValueError(f"unknown filter {name!r}; use {known}")
            if not isinstance(value, str):
                value = getattr(value, "id", value)
            if not isinstance(value, str):
                raise ValueError(f"filter {name} needs an activity id, got {value!r}")
            values[_FILTER_FIELDS[name]] = value
        return FeedQuery(self.feed, Bounds(**values), self.ascending)

    def order_by(self, field: str) -> FeedQuery:
        """'activity_id' (oldest first) or '-activity_id' (newest first, the default)."""
        if field not in _ORDERINGS:
            raise ValueError(f"cannot order by {field!r}; use 'activity_id' or '-activity_id'")
        return FeedQuery(self.feed, self.bounds, _ORDERINGS[field])

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, bool):  # an int to Python, never a position a caller meant
            raise TypeError("feed indexes are ints or slices, not bool")
        if isinstance(index, int):
            if index < 0:
                raise IndexError("negative indexes are not supported; feeds are read from the newest")
            found = self._page(index, 1)
            if not found:
                raise IndexError(f"feed index {index} out of range")
            return found[0]
        if not isinstance(index, slice):
            raise TypeError(f"feed indexes are ints or slices, not {type(index).__name__}")
        for bound in (index.start, index.stop, index.step):
            # The same refusal on every backend: a float or a bool reached Redis as a raw
            # DataError, or sliced a Python list differently on memory.
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise TypeError(f"slice bounds are ints or None, not {type(bound).__name__} ({bound!r})")
        if index.step not in (None, 1):
            raise ValueError(f"slice step {index.step} is not supported; feeds are read in order")
        start = index.start or 0
        if start < 0 or (index.stop is not None and index.stop < 0):
            raise ValueError("negative slice bounds are not supported; feeds are read from the newest")
        if index.stop is not None and index.stop <= start:
            return []
        limit = None if index.stop is None else index.stop - start
        return self._page(start, limit)

    def _page(self, offset: int, limit: int | None) -> list[Any]:
        if offset >= MAX_INDEX:
            return []
        if limit is not None:
            limit = min(limit, MAX_INDEX - offset)
        return self.feed.get_page(PageRequest(offset, limit, self.bounds, self.ascending))

    def __iter__(self) -> Iterator[Any]:
        return iter(self[:])


class BaseFeed:
    """Configuration by class attribute, as in Stream Framework."""

    #: Short name the manager and the pipeline use for this feed class.
    name: ClassVar[str] = "feed"
    key_format: ClassVar[str] = "feed:{user_id}"
    max_length: ClassVar[int | None] = 100
    activity_class: ClassVar[type[Activity]] = Activity
    #: Storage backend name ("memory", "redis", "cassandra"); None: the STREAMFEED_STORAGE setting.
    backend_name: ClassVar[str | None] = None
    #: Tell realtime listeners (the HTTP API's event stream) about new entries: one append to
    #: the recipient's event log per delivery run. Off for feeds nobody watches live.
    realtime: ClassVar[bool] = True
    #: What max_length pushes out and the feed keeps aside, unread (Feed and AggregatedFeed).
    trim_slack: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A bad trim_slack is an error naming the class when the app is defined."""
        super().__init_subclass__(**kwargs)
        slack = cls.trim_slack
        if isinstance(slack, bool) or not isinstance(slack, int) or slack < 0:
            where = f"{cls.__module__}.{cls.__qualname__}.trim_slack"
            raise ValidationError(where, slack, "must be an int of 0 or more")

    def __init__(self, user_id: Any, backend: Backend | None = None) -> None:
        self.user_id = str(user_id)
        self.key = feed_key(self.key_format, user_id)
        self.backend = backend or get_backend(self.backend_name)

    @classmethod
    def key_for(cls, user_id: Any) -> str:
        return feed_key(cls.key_format, user_id)

    @classmethod
    def keys_for(cls, user_ids: Iterable[Any]) -> list[str]:
        return feed_keys(cls.key_format, user_ids)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key}>"

    def count(self) -> int:
        """Entries shown: what a feed class keeps counts of, one lookup."""
        raise NotImplementedError(f"{type(self).__name__} must implement count")

    def hide_actor(self, actor_id: str, before: int | None = None) -> None:
        """Hide the actor's entries (an unfollow), those added before `before` when given."""
        raise NotImplementedError(f"{type(self).__name__} must implement hide_actor")

    # -- reading --------------------------------------------------------------

    def __getitem__(self, index: int | slice) -> Any:
        return FeedQuery(self)[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(FeedQuery(self))

    def filter(self, **kwargs: str) -> FeedQuery:
        return FeedQuery(self).filter(**kwargs)

    def order_by(self, field: str) -> FeedQuery:
        return FeedQuery(self).order_by(field)

    def get_page(self, page: PageRequest) -> list[Any]:
        raise NotImplementedError

    def flush(self) -> None:
        """Writes go to storage at once; kept for Stream Framework's API."""


class Feed(BaseFeed):
    """A flat feed: activities newest first, trimmed to max_length."""

    name = "normal"
    key_format = "feed:{user_id}"
    #: Ways to order a page by relevance instead of recency (`feed.ranked("popular")`, the HTTP
    #: API's `?ranking=popular`): Ranking objects, or expressions (streamfeed.domain.ranking).
    rankings: ClassVar[Mapping[str, Ranking | str | Mapping[str, Any]]] = {
        # Half as much per day of age, raised by likes and (twice as much) comments.
        "popular": Ranking(
            "popular", "decay_exp(age, 86400) * (1 + log1p(reactions.like) + 2 * log1p(reactions.comment))"
        )
    }
    #: The newest entries a ranked read scores.
    ranking_window: ClassVar[int] = DEFAULT_RANKING_WINDOW
    #: Entries trimming cuts that the feed keeps aside, unread, to refill from when entries are
    #: taken out: an unfollow consumed after up to this many deliveries it should have stopped
    #: (the follows topic behind the activities topic) leaves the feed exactly as if it had come
    #: first. Costs this many stored entries per full feed; 0 turns it off.
    trim_slack: ClassVar[int] = 20

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Rankings are checked when the app's feed classes are defined: a bad expression or
        window is an error naming the class and the attribute, not a failure at the first read."""
        super().__init_subclass__(**kwargs)
        where = f"{cls.__module__}.{cls.__qualname__}"
        window = cls.ranking_window
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_RANKING_WINDOW:
            raise RankingError(
                f"{where}.ranking_window must be an int from 1 to {MAX_RANKING_WINDOW}, not {window!r}"
            )
        if not isinstance(cls.rankings, Mapping):
            raise RankingError(f"{where}.rankings must map names to rankings, not {cls.rankings!r}")
        checked: dict[str, Ranking] = {}
        for name, ranking in cls.rankings.items():
            try:
                if isinstance(ranking, Ranking):
                    if ranking.name != name:
                        raise RankingError(f"ranking {ranking.name!r} is listed under the name {name!r}")
                    checked[name] = ranking
                else:
                    checked[name] = ranking_from_config(name, ranking)
            except RankingError as error:
                raise RankingError(f"{where}.rankings[{name!r}]: {error}") from None
        cls.rankings = checked

    def ranked(
        self,
        ranking: str | Ranking,
        limit: int = 25,
        cursor: str | RankedCursor | None = None,
        reader: Any = None,
    ) -> RankedPage:
        """A page ordered by one of the class's rankings (or a Ranking given here); `cursor` is the
        previous page's `next` (streamfeed.feeds.ranked)."""
        if isinstance(ranking, str):
            found = self.rankings.get(ranking)
            if not isinstance(found, Ranking):  # checked into Ranking objects when the class was made
                known = ", ".join(sorted(self.rankings)) or "none"
                raise UnknownRanking(f"feed {self.name!r} has no ranking {ranking!r} (it has: {known})")
            ranking = found
        if isinstance(cursor, str):
            cursor = RankedCursor.decode(cursor)
        return ranked_page(self, ranking, limit, cursor, reader)

    def ranking_candidates(
        self, top: str | None, bodies: bool, kinds: Sequence[str] = ()
    ) -> tuple[list[str], dict[str, Activity], dict[str, dict[str, int]]]:
        """The ids of the newest ranking_window live entries (at or below `top`, a cursor's pinned
        window), newest first; their activities if asked; and their reaction counts of `kinds`.
        Ids and counts alone are one round trip on Redis."""
        if bodies or self._pulled():  # a merged read yields activities anyway
            source = self if top is None else self.filter(activity_id__lte=top)
            activities = source[: self.ranking_window]
            ids = [a.id for a in activities]
            counts = self.backend.reactions.kind_counts([(i, i) for i in ids], kinds) if kinds else []
            found = {a.id: a for a in activities} if bodies else {}
            return ids, found, dict(zip(ids, counts, strict=False))
        ids, counts = self.backend.ranking_window(self.key, self.ranking_window, top, kinds)
        return ids, {}, dict(zip(ids, counts, strict=False))

    def affinities(self, reader: str, candidates: Sequence[Activity]) -> Mapping[str, float]:
        """The reader's affinity to each actor of the window, for rankings that use `affinity`.

        By default what the window itself says: for each actor, the share of their activities
        in the window that the reader reacted to (0 to 1), read from the reactions kept (one call
        for the whole window), so it is exact under any order and rebuilt by a replay like every
        count. Override it to bring the app's own (interactions beyond the window, a model)."""
        return window_affinity(self.backend, reader, candidates)

    #: Hybrid push/pull: the fanout leaves this feed out for pulled authors' activities, and a
    #: read merges them in from the authors' user feeds (streamfeed.feeds.hybrid). False: always pushed.
    pulls: ClassVar[bool] = True
    #: The user feed pulled activities are read from; Manager.get_feed sets its own.
    user_feed_class: type[Feed] | None = None

    @classmethod
    def merges_pulled(cls, user_feed: type[Feed]) -> bool:
        """Whether this feed merges pulled authors in at read: it pulls, and the user feed it
        reads them from keeps at least as many entries as it shows (else pushed, always)."""
        if not cls.pulls:
            return False
        return user_feed.max_length is None or (
            cls.max_length is not None and cls.max_length <= user_feed.max_length
        )

    def _pulled(self) -> dict[Any, Any]:
        """Authors ever pulled that this feed may merge in (their follow state is asked later)."""
        if not self.merges_pulled(self.user_feed_class or UserFeed):
            return {}

        return pulled_candidates(self.backend, self.user_id)

    def get_page(self, page: PageRequest) -> list[Activity]:
        sources = self._pulled()
        if sources:
            return merged_page(self, page, sources, self.user_feed_class or UserFeed)
        return self.backend.timelines.get_page(self.key, page, self.activity_class)

    def add(self, activity: Activity) -> None:
        self.add_many([activity])

    def add_many(self, activities: Sequence[Activity]) -> None:
        """Add directly (Stream Framework's API; the pipeline uses add_to_many_users)."""
        states = direct_states(activities)
        self.backend.activities.apply(states)
        self.backend.timelines.add_many(self.key, states, self.max_length, self.trim_slack)

    def remove(self, activity: Activity | str) -> None:
        self.remove_many([activity])

    def remove_many(self, activities: Iterable[Activity | str]) -> None:
        """Take entries out of this feed only (to remove an activity everywhere, use the manager)."""
        ids = [a if isinstance(a, str) else a.id for a in activities]
        self.backend.timelines.remove_many(self.key, ids)

    def hide_actor(self, actor_id: str, before: int | None = None) -> None:
        """Hide every entry by actor_id (an unfollow at version `before`): reads the whole feed.

        Hidden entries keep their places, so max_length trims the same
        entries whether the unfollow arrived before or after the deliveries
        it hides; a new follow's copy shows them again. Entries added at or
        after the unfollow (delivered while it was on its way) never belonged
        here: they are taken out.
        """
        timelines = self.backend.timelines
        held = [*timelines.entries(self.key), *timelines.spilled(self.key)]
        entries = [s for s in held if s.activity.actor_id == actor_id]
        hide = [s.id for s in entries if before is None or s.added < before]
        drop = [s.id for s in entries if before is not None and s.added >= before]
        if hide:
            self.backend.timelines.hide(self.key, hide)
        if drop:
            self.remove_many(drop)

    def count(self) -> int:
        sources = self._pulled()
        if sources:
            return merged_count(self, sources, self.user_feed_class or UserFeed)
        return self.backend.timelines.count(self.key)

    def delete(self) -> None:
        self.backend.timelines.delete(self.key)

    def trim(self, length: int | None = None) -> None:
        length = self.max_length if length is None else length
        if length is not None:
            self.backend.timelines.trim(self.key, length, self.trim_slack)

    @classmethod
    def add_to_many_users(
        cls,
        user_ids: Iterable[Any],
        states: Sequence[ActivityState],
        backend: Backend | None = None,
        hidden: bool = False,
    ) -> None:
        """The fanout write: the same activities into many users' feeds as one batch."""
        backend = backend or get_backend(cls.backend_name)
        keys = cls.keys_for(user_ids)
        backend.timelines.add_batches([(keys, list(states))], cls.max_length, hidden, cls.trim_slack)

    @classmethod
    def refresh_in_many_users(
        cls, user_ids: Iterable[Any], states: Sequence[ActivityState], backend: Backend | None = None
    ) -> None:
        """Show the current state (updated or removed) where these feeds hold the activities."""
        backend = backend or get_backend(cls.backend_name)
        backend.timelines.refresh(cls.keys_for(user_ids), list(states))

    @classmethod
    def remove_from_many_users(
        cls, user_ids: Iterable[Any], activity_ids: Sequence[str], backend: Backend | None = None
    ) -> None:
        backend = backend or get_backend(cls.backend_name)
        backend.timelines.remove_from_many(cls.keys_for(user_ids), list(activity_ids))


def direct_states(activities: Iterable[Activity]) -> list[ActivityState]:
    """States for activities written straight to a feed, outside the pipeline: versioned by time."""
    return [ActivityState(a, a.sort_key, a.sort_key) for a in activities]


class UserFeed(Feed):
    """A user's own activities: what followers' feeds are copied from on follow."""

    name = "user"
    key_format = "user_feed:{user_id}"
    realtime = False  # the author's own activities: the author already knows
    pulls = False  # holds the author's own activities, pushed or pulled: what pulled reads read
    max_length = 10_000
    trim_slack = 0  # nothing is ever taken out of it
