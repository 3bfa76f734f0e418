"""Ranked feeds on every backend (issue 31): the same stored state gives the same ranked page,
and paging by cursor returns every candidate once while new entries arrive."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.domain.ranking import Ranking
from streamfeed.domain.reactions import add_event, reaction_identity
from streamfeed.feeds.flat import Feed
from streamfeed.feeds.ranked import BadCursor, UnknownRanking

T0 = datetime(2026, 12, 1, tzinfo=UTC)


class RankedFeed(Feed):
    key_format = "ranked:{user_id}"
    max_length = 200
    ranking_window = 40
    rankings: ClassVar[dict] = {
        "popular": "decay_exp(age, 7200) * (1 + log1p(reactions.like) + 2 * log1p(reactions.comment))",
        "boosted": Ranking("boosted", "fields.boost + affinity", affinity=True),
    }

    def affinities(self, reader, candidates):
        return {a.actor_id: 1.5 for a in candidates if a.actor_id.endswith("0")}


def world(user: str, backend, count: int = 60, seed: int = 7) -> tuple[RankedFeed, list[Activity]]:
    rng = random.Random(seed)
    feed = RankedFeed(user, backend=backend)
    activities = [
        Activity(
            f"{user}a{n % 5}",
            "add",
            f"pin:{n}",
            time=T0 + timedelta(minutes=7 * n),
            extra_context={"boost": n % 3},
        )
        for n in range(count)
    ]
    feed.add_many(activities)
    events = []
    for n, activity in enumerate(activities):
        for r in range(rng.choice([0, 0, 1, 3, 8])):
            kind = "comment" if r % 4 == 3 else "like"
            identity = reaction_identity(
                kind, f"fan{r}", activity.id, None, T0 + timedelta(seconds=n * 60 + r)
            )
            events.append(add_event(f"r{n}-{r}", identity, {}, T0 + timedelta(seconds=n * 60 + r)))
    backend.reactions.apply(events)
    return feed, activities


def all_pages(feed, ranking: str, limit: int, between=None) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = feed.ranked(ranking, limit, cursor)
        pages.append([a.id for a in page.activities])
        if page.next is None:
            return pages
        cursor = page.next.encode()
        if between is not None:
            between(len(pages))


def test_the_same_state_gives_the_same_ranked_pages_on_every_backend(backend, user):
    feed, activities = world(user, backend)
    pages = all_pages(feed, "popular", 7)
    # What memory computes is what every backend computes: pinned by a snapshot of the first page.
    ranked = [i for page in pages for i in page]
    assert len(ranked) == len(set(ranked)) == RankedFeed.ranking_window
    newest_40 = {a.id for a in sorted(activities, key=lambda a: a.id)[-40:]}
    assert set(ranked) == newest_40
    assert ranked != sorted(ranked, reverse=True)  # engagement moved something past recency
    first = feed.ranked("popular", 7)
    assert [round(s, 9) for s in first.scores] == sorted((round(s, 9) for s in first.scores), reverse=True)
    boosted = feed.ranked("boosted", 5)
    assert boosted.scores[0] == 3.5  # boost 2 + affinity 1.5 of an actor ending in 0


def test_paging_returns_every_candidate_once_while_new_entries_arrive(backend, user):
    feed, activities = world(user, backend, count=50)
    later = iter(range(1000, 1100))

    def publish(_pages: int) -> None:
        n = next(later)
        fresh = Activity(f"{user}a1", "add", f"pin:{n}", time=T0 + timedelta(days=2, minutes=n))
        feed.add_many([fresh])

    pages = all_pages(feed, "popular", 6, between=publish)
    ranked = [i for page in pages for i in page]
    window = sorted((a.id for a in activities), reverse=True)[:40]
    assert sorted(ranked, reverse=True) == window  # every candidate of the pinned window, once
    assert (
        feed.ranked("popular", 1).activities[0].object_id.startswith("pin:10")
    )  # a new first page sees them


def test_unknown_rankings_and_cursors_are_refused_by_name(backend, user):
    feed, _ = world(user, backend, count=5)
    with pytest.raises(UnknownRanking, match=r"has no ranking 'trending' .*boosted, popular"):
        feed.ranked("trending")
    with pytest.raises(BadCursor, match="not one a ranked page handed out"):
        feed.ranked("popular", cursor="not-a-cursor")
    assert feed.ranked("popular", 10).next is None


class Plain(Feed):
    key_format = "plain_ranked:{user_id}"
    max_length = 200
    rankings: ClassVar[dict] = {"near": "affinity"}


def test_the_default_affinity_is_the_share_of_an_actor_s_window_the_reader_reacted_to(backend, user):
    feed = Plain(user, backend=backend)
    activities = [
        Activity(f"{user}a{n % 2}", "add", f"pin:{n}", time=T0 + timedelta(minutes=n)) for n in range(6)
    ]
    feed.add_many(activities)
    liked = [a for a in activities if a.actor_id.endswith("a1")][:2]  # 2 of actor a1's 3
    backend.reactions.apply(
        [add_event(f"l{a.id[-6:]}", reaction_identity("like", user, a.id, None, T0), {}, T0) for a in liked]
    )
    page = feed.ranked("near", 6)
    assert {a.actor_id for a in page.activities[:3]} == {f"{user}a1"}
    assert [round(s, 4) for s in page.scores] == [0.6667] * 3 + [0.0] * 3
