"""Reading a flat feed whose owner follows pulled authors (hybrid push/pull).

The fanout does not deliver a pulled author's activities to followers' flat
feeds (pipeline.author_modes says which activities are pulled); a read takes
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
SWITCH_LEAD), the owner's follow state with each pulled author, every
window at once, and the states of the window's ids: four round trips on
Redis, whatever the number of pulled authors.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.activity import Activity
from pipeline.author_modes import ModeChanges, pulled_ranges
from pipeline.follow_state import FollowState, Unfollowed
from storage.base import PageRequest, WindowQuery, page_of_ids

if TYPE_CHECKING:
    from pipeline.feeds import Feed
    from storage.base import Backend, FollowStorage

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


@dataclass(frozen=True)
class PulledSource:
    """A pulled author the feed's owner follows or followed, and the time ranges pulled."""

    author: str
    state: FollowState
    ranges: tuple[tuple[int, int | None], ...]


def pulled_sources(backend: Backend, user_id: str) -> list[PulledSource]:
    """The pulled authors whose activities belong in user_id's flat feeds, shown or hidden."""
    modes = author_modes(backend.follows)
    ranges = {author: tuple(pulled_ranges(changes)) for author, changes in modes.items()}
    authors = sorted(author for author, pulled in ranges.items() if pulled and author != user_id)
    if not authors:
        return []
    states = backend.follows.follow_states(user_id, authors)
    return [PulledSource(a, states[a], ranges[a]) for a in authors if a in states]


def merged_live_ids(feed: Feed, sources: list[PulledSource], user_feed: type[Feed]) -> tuple[list[str], dict]:
    """The live ids of the merged window, newest first, and their states."""
    backend, limit = feed.backend, feed.max_length
    queries = [WindowQuery(feed.key, limit=limit)]
    owners: list[PulledSource] = []
    for source in sources:
        key = user_feed.key_for(source.author)
        for start, end in source.ranges:
            queries.append(WindowQuery(key, start, end, limit))
            owners.append(source)
    found = backend.timelines.windows(queries)
    hidden = dict(found[0])  # the owner's own entries keep their own flags
    ended: dict[str, Unfollowed] = {}
    for source, entries in zip(owners, found[1:], strict=True):
        for activity_id, _ in entries:
            if activity_id in hidden:
                continue
            if isinstance(source.state, Unfollowed):
                hidden[activity_id] = True
                ended[activity_id] = source.state
            else:
                hidden[activity_id] = False
    newest = sorted(hidden, reverse=True)
    # Entries of unfollowed authors added after the unfollow are left out: the window is
    # within the first limit + len(ended) ids.
    head = newest if limit is None else newest[: limit + len(ended)]
    states = backend.activities.get_states(head, feed.activity_class)
    if ended:
        head = [i for i in head if not (i in ended and i in states and states[i].added >= ended[i].version)]
    window = head if limit is None else head[:limit]
    live = [i for i in window if not hidden[i] and i in states and not states[i].removed]
    return live, states


def merged_page(
    feed: Feed, page: PageRequest, sources: list[PulledSource], user_feed: type[Feed]
) -> list[Activity]:
    """The page of the merged feed: bounds, order, offset and limit over its live entries."""
    live, states = merged_live_ids(feed, sources, user_feed)
    return [states[i].activity for i in page_of_ids(live[::-1], page)]
