"""Property (issue 31): paging through a ranked feed by its cursor returns every candidate of the
window the first page pinned exactly once, whatever the page size, the scores and the entries
that arrive between pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from streamfeed.domain.activity import Activity
from streamfeed.domain.reactions import add_event, reaction_identity
from streamfeed.feeds.flat import Feed
from streamfeed.storage.memory import MemoryBackend

T0 = datetime(2026, 12, 1, tzinfo=UTC)


class Window(Feed):
    key_format = "window:{user_id}"
    max_length = 1000
    ranking_window = 30
    rankings: ClassVar[dict] = {"hot": "decay_linear(age, 1800) + log1p(reactions.like)", "flat": "1"}


@given(
    minutes=st.lists(st.integers(0, 600), min_size=1, max_size=45),
    likes=st.lists(st.integers(0, 6), max_size=45),
    page_size=st.integers(1, 12),
    arrivals=st.lists(st.integers(0, 4), max_size=10),
    ranking=st.sampled_from(["hot", "flat"]),
)
@settings(max_examples=150, deadline=None)
def test_every_candidate_of_the_pinned_window_once(minutes, likes, page_size, arrivals, ranking):
    backend = MemoryBackend()
    feed = Window("reader", backend=backend)
    activities = [
        Activity(f"a{n % 4}", "add", f"pin:{n}", time=T0 + timedelta(minutes=m))
        for n, m in enumerate(minutes)
    ]
    feed.add_many(activities)
    events = [
        add_event(f"r{n}-{k}", reaction_identity("like", f"fan{k}", a.id, None, T0), {}, T0)
        for n, (a, count) in enumerate(zip(activities, likes, strict=False))
        for k in range(count)
    ]
    backend.reactions.apply(events)
    window = sorted({a.id for a in activities}, reverse=True)[: Window.ranking_window]
    seen, cursor, fresh = [], None, iter(range(10_000, 20_000))
    for page_number in range(1, 100):
        page = feed.ranked(ranking, page_size, cursor)
        seen += [a.id for a in page.activities]
        if page.next is None:
            break
        cursor = page.next.encode()
        # Newer entries arrive between pages: the pinned window ignores them.
        count = arrivals[page_number % len(arrivals)] if arrivals else 0
        feed.add_many(
            [
                Activity("a9", "add", f"pin:{next(fresh)}", time=T0 + timedelta(days=1, minutes=n))
                for n in range(count)
            ]
        )
    assert len(seen) == len(set(seen))
    assert sorted(seen, reverse=True) == window
