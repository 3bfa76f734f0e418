"""Reading a flat feed whose owner follows pulled authors (hybrid push/pull).

The fanout does not deliver a pulled author's activities to followers' flat
feeds (streamfeed.domain.author_modes says which activities are pulled); a read takes
them from the author's user feed instead and merges them with what was
pushed, so the page equals the one a fully pushed feed would give:

- the window is the newest `max_length` entries of the union, as if the
  pulled entries had been delivered and trimmed with the rest, each id once
  (an activity pushed before a switch may also be pulled after it);
- an entry the owner's own feed holds keeps its own hidden flag; a pulled
  one is shown while the owner follows its author and, once the owner
  unfollowed, holds a hidden place if it was added before the unfollow and
  is left out otherwise, as the unfollow does to pushed entries;
- removed activities hold their places and are not shown; then the page's
  id bounds, order, offset and limit apply as on any feed.

Storage calls: the author modes (cached a second per process, see
SWITCH_LEAD), then the owner's follow state with each pulled author and the
merged window (one script call on Redis), then the states of the entries
the page shows: two round trips on Redis, whatever the number of pulled
authors.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from streamfeed.domain.activity import Activity
from streamfeed.domain.author_modes import ModeChanges, pulled_ranges
from streamfeed.domain.follow_state import Unfollowed
from streamfeed.storage.base import Backend, FollowStorage, PageRequest, WindowQuery, page_of_ids


class PullingFeed(Protocol):
    """What a merged read needs of the flat feed it reads (streamfeed.feeds.flat.Feed): this
    module sits below the feed classes, which call it, so it names no feed class."""

    user_id: str
    key: str
    backend: Backend

    @property
    def max_length(self) -> int | None: ...

    @property
    def activity_class(self) -> type[Activity]: ...

    @classmethod
    def key_for(cls, user_id: Any) -> str: ...


#: Seconds a process keeps the author modes it read: a read asks for them every time otherwise.
MODES_CACHE_SECONDS = 1.0
#: How far ahead of now a switch made by the manager or a worker takes effect (microseconds):
#: longer than the modes cache, so every reader knows of a switch before the first activity
#: it covers, and no read misses an activity that was neither pushed nor yet merged.
SWITCH_LEAD = 2_000_000

_cache: dict[int, tuple[float, dict[str, ModeChanges]]] = {}
_cache_lock = threading.Lock()


def author_modes(follows: FollowStorage, max_age: float = MODES_CACHE_SECONDS) -> dict[str, ModeChanges]:
    """The stored author modes, at most max_age seconds old."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(id(follows))
        if cached is not None and cached[0] > now:
            return cached[1]
    modes = follows.author_modes()
    with _cache_lock:
        _cache[id(follows)] = (now + max_age, modes)
    return modes


def forget_author_modes(follows: FollowStorage) -> None:
    """Drop this process's cached modes of that storage: it just stored new ones."""
    with _cache_lock:
        _cache.pop(id(follows), None)


def pulled_candidates(backend: Backend, user_id: str) -> dict[str, tuple[tuple[int, int | None], ...]]:
    """Every author ever pulled (but the reader), with the time ranges pulled: whether the reader
    follows or followed each is asked with the window (Timelines.pulled_window)."""
    candidates = {}
    for author, changes in author_modes(backend.follows).items():
        if author != user_id and (ranges := tuple(pulled_ranges(changes))):
            candidates[author] = ranges
    return candidates


def _window(
    feed: PullingFeed, candidates: dict[Any, Any], user_feed: type[PullingFeed], fetch: int | None
) -> tuple[list[str], dict[Any, Any], dict[Any, Any], bool]:
    """The merged window's newest `fetch` entries (all of the window for None): their ids newest
    first, their hidden flags, the states read so far, and whether the window goes on past them.

    The newest n of a merge are the merge of each list's newest n, so a page
    near the top reads that much of every list, not the whole window.
    """
    backend, limit = feed.backend, feed.max_length
    if fetch is None or (limit is not None and fetch >= limit):
        fetch = limit
    authors = [
        (author, [WindowQuery(user_feed.key_for(author), s, e, fetch, hidden=False) for s, e in ranges])
        for author, ranges in sorted(candidates.items())
    ]
    merged, relations = backend.timelines.pulled_window(
        backend.follows, feed.user_id, WindowQuery(feed.key, limit=fetch), authors, fetch
    )
    hidden: dict[str, bool] = {}
    ended: dict[str, Unfollowed] = {}
    for activity_id, own_hidden, author in merged:
        if author is None:  # the owner's own entries keep their own flags
            hidden[activity_id] = own_hidden
        elif isinstance(state := relations[author], Unfollowed):
            # Held a place if added before the unfollow, none at all if after: `added` decides.
            hidden[activity_id] = True
            ended[activity_id] = state
        else:
            hidden[activity_id] = False
    newest = [entry[0] for entry in merged]
    states: dict[Any, Any] = {}
    if ended:  # the window is within the first limit + len(ended) ids
        head = newest if limit is None else newest[: limit + len(ended)]
        asked = [i for i in head if i in ended]
        states = backend.activities.get_states(asked, feed.activity_class)
        late = {i for i in asked if i in states and states[i].added >= ended[i].version}
        newest = [i for i in newest if i not in late]
    partial = (
        fetch is not None and fetch != limit and len(merged) >= fetch
    )  # cut short of the window: there may be more
    return (newest if limit is None else newest[:limit]), hidden, states, partial


def merged_page(
    feed: PullingFeed, page: PageRequest, candidates: dict[Any, Any], user_feed: type[PullingFeed]
) -> list[Activity]:
    """The page of the merged feed: bounds, order, offset and limit over its live entries.

    States are read in the page's order, a little more than the page needs at
    a time (removed entries are skipped), so a 25-entry page decodes about 30
    states, not the whole window.
    """
    need = None if page.limit is None else page.offset + page.limit
    # The top of the window is enough for a newest-first page without a lower bound; if its
    # entries run out (hidden, removed) before the page is full, the whole window is read.
    near_top = need is not None and not page.ascending and page.bounds.lower is None
    fetch = need + need // 2 + 8 if need is not None and near_top else None
    while True:
        window, hidden, states, partial = _window(feed, candidates, user_feed, fetch)
        live = _live_in_order(feed, window, hidden, states, page, need)
        if not partial or (need is not None and len(live) >= need):
            break
        fetch = None
    end = None if page.limit is None else page.offset + page.limit
    return [states[i].activity for i in live[page.offset : end]]


def _live_in_order(
    feed: PullingFeed,
    window: list[str],
    hidden: dict[Any, Any],
    states: dict[Any, Any],
    page: PageRequest,
    need: int | None,
) -> list[str]:
    """The window's live, shown ids in the page's order and bounds, up to `need` of them."""
    shown = [i for i in window if not hidden[i]][::-1]  # ascending, as page_of_ids wants
    ordered = page_of_ids(shown, PageRequest(0, None, page.bounds, page.ascending))
    step = len(ordered) if need is None else max(8, need + need // 4)
    live: list[str] = []
    position = 0
    while position < len(ordered) and (need is None or len(live) < need):
        part = ordered[position : position + step]
        missing = [i for i in part if i not in states]
        if missing:
            states.update(feed.backend.activities.get_states(missing, feed.activity_class))
        live += [i for i in part if i in states and not states[i].removed]
        position += step
    return live


def merged_count(feed: PullingFeed, candidates: dict[Any, Any], user_feed: type[PullingFeed]) -> int:
    """Live, shown entries of the merged window."""
    return len(merged_page(feed, PageRequest(), candidates, user_feed))
