"""Ranked reads of a flat feed: the newest `ranking_window` entries, scored and ordered by one of
the feed class's rankings (streamfeed.domain.ranking), paged by a cursor.

The candidates are a plain read of the feed (pulled authors merged in,
removed and hidden entries left out), so ranking adds no state and no write:
the reaction counts it needs are read for the whole window in one batch,
the affinities through the feed's hook. The first page pins the window by
its newest id and every later page ranks that same window again, so entries
arriving meanwhile neither repeat nor push out what the reader has not seen
yet (they appear on the next first page); the cursor also carries the last
score and id shown, and a page resumes after them in the order.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamfeed.domain.activity import Activity
from streamfeed.domain.ranking import Ranking, RankingError, comes_after, score_all

if TYPE_CHECKING:
    from streamfeed.feeds.flat import Feed
    from streamfeed.storage.base import Backend

#: Candidates a ranked read scores unless the feed class says otherwise.
DEFAULT_RANKING_WINDOW = 300
#: The most candidates a feed class may ask to score per read.
MAX_RANKING_WINDOW = 5_000


class UnknownRanking(RankingError, LookupError):
    """A ranking name the feed class does not define."""


class BadCursor(RankingError):
    """A ranked page's cursor that this feed never handed out (or that was altered)."""


@dataclass(frozen=True)
class RankedCursor:
    """Where the next ranked page starts: the window's newest id, and the last score and id shown."""

    top: str
    score: float
    last: str

    def encode(self) -> str:
        raw = json.dumps([self.top, self.score, self.last], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> RankedCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            top, score, last = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise BadCursor(f"cursor {text[:80]!r} is not one a ranked page handed out") from None
        if not (isinstance(top, str) and isinstance(last, str) and isinstance(score, int | float)):
            raise BadCursor(f"cursor {text[:80]!r} is not one a ranked page handed out")
        if isinstance(score, bool) or not math.isfinite(score) or len(top) > 64 or len(last) > 64:
            raise BadCursor(f"cursor {text[:80]!r} is not one a ranked page handed out")
        return cls(top, float(score), last)


@dataclass(frozen=True)
class RankedPage:
    activities: list[Activity]
    scores: list[float]
    next: RankedCursor | None


def ranked_page(
    feed: Feed,
    ranking: Ranking,
    limit: int,
    cursor: RankedCursor | None = None,
    reader: Any = None,
) -> RankedPage:
    """A page of `limit` activities of the feed in the ranking's order, after the cursor.

    Round trips on Redis: the window's ids with the reaction counts the ranking names (one
    script call; its bodies too, in a second, if the ranking reads them), and the bodies of the
    page shown.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive int, not {limit!r}")
    needs = ranking.needs
    top = None if cursor is None else cursor.top
    candidates, bodies, reactions = feed.ranking_candidates(top, needs.activity, sorted(needs.reactions))
    if not candidates:
        return RankedPage([], [], None)
    affinity: dict[str, float] = {}
    if needs.affinity:
        window = [bodies[i] for i in candidates if i in bodies]
        affinity = dict(feed.affinities(reader if reader is not None else feed.user_id, window))
    ordered = score_all(ranking, candidates, bodies, reactions, affinity)
    start = 0
    if cursor is not None:
        start = next(
            (n for n, (s, i, _) in enumerate(ordered) if comes_after(s, i, cursor.score, cursor.last)),
            len(ordered),
        )
    shown = ordered[start : start + limit]
    if not needs.activity:  # the bodies of the page only
        found = feed.backend.activities.get_states([i for _, i, _ in shown], feed.activity_class)
        bodies = {i: state.activity for i, state in found.items() if not state.removed}
    more = start + limit < len(ordered)
    top = cursor.top if cursor is not None else max(candidates)
    following = RankedCursor(top, shown[-1][0], shown[-1][1]) if shown and more else None
    kept = [(s, bodies[i]) for s, i, _ in shown if i in bodies]  # removed meanwhile: left out
    return RankedPage([a for _, a in kept], [s for s, _ in kept], following)


def window_affinity(backend: Backend, reader: str, candidates: Sequence[Activity]) -> dict[str, float]:
    """Per actor of the window, the share of their activities in it the reader reacted to."""
    if not candidates:
        return {}
    own = backend.reactions.own_counts([(a.id, a.id) for a in candidates], reader)
    shown: dict[str, int] = {}
    reacted: dict[str, int] = {}
    for activity, mine in zip(candidates, own, strict=True):
        shown[activity.actor_id] = shown.get(activity.actor_id, 0) + 1
        if mine:
            reacted[activity.actor_id] = reacted.get(activity.actor_id, 0) + 1
    return {actor: reacted.get(actor, 0) / count for actor, count in shown.items()}
