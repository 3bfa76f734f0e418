"""Reactions on every backend that keeps them (issue 30): states, counts per kind, newest-first
pages by (time, id), the reader's own, child reactions; equal under any order and redelivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from streamfeed.domain.activity import Activity
from streamfeed.domain.reactions import add_event, reaction_identity, remove_event, update_event
from streamfeed.storage.reactions import cursor_of

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def activity_id(user: str) -> str:
    return Activity(user, "add", "pin:1", time=T0).id


def like(rid: str, activity: str, user: str, seconds: int, kind: str = "like", parent: str | None = None):
    identity = reaction_identity(kind, user, activity, parent, T0 + timedelta(seconds=seconds))
    return add_event(rid, identity, {"n": seconds}, T0 + timedelta(seconds=seconds))


def ids(states) -> list[str]:
    return [s.reaction_id for s in states]


def test_counts_pages_own_and_children(backend, user):
    store, a = backend.reactions, activity_id(user)
    target = (a, a)
    events = [like(f"l{n:02d}", a, f"fan{n % 4}", n // 2) for n in range(12)]  # equal times in pairs
    events += [like("c1", a, "fan0", 30, "comment"), like("c1x", a, "fan1", 31, "like", parent="c1")]
    events += [update_event("c1", a, {"text": "edited"}, T0 + timedelta(seconds=40))]
    events += [remove_event("l03", a, T0 + timedelta(seconds=50))]
    changes = store.apply(events)
    assert len(changes) == 14
    assert store.apply(events) == []  # everything again: nothing changes
    assert store.counts([target, (a, "c1"), (a, "nothing")]) == [{"comment": 1, "like": 11}, {"like": 1}, {}]

    expected = sorted(((n // 2, f"l{n:02d}") for n in range(12) if n != 3), reverse=True)
    pages, before = [], None
    while page := store.newest(target, "like", 4, before):
        pages.append(ids(page))
        before = cursor_of(page[-1])
    assert [rid for page in pages for rid in page] == [rid for _, rid in expected]
    assert [len(page) for page in pages] == [4, 4, 3]

    (comment,) = store.newest(target, "comment", 10)
    assert comment.data == {"text": "edited"} and comment.identity.user_id == "fan0"
    own = store.own([target, (a, "c1")], "fan1")
    assert ids(own[0]) == ["l09", "l05", "l01"] and ids(own[1]) == ["c1x"]
    (latest,) = store.summaries([target], None, 2)
    assert {kind: ids(states) for kind, states in latest.recent.items()} == {
        "comment": ["c1"],
        "like": ["l11", "l10"],
    }


def test_any_order_and_redelivery_store_the_same(backend, user):
    a = activity_id(user)
    events = [like(f"r{n}", a, f"fan{n % 3}", n % 5, ["like", "love"][n % 2]) for n in range(10)]
    events += [update_event(f"r{n}", a, {"edit": n}, T0 + timedelta(seconds=20 + n)) for n in range(0, 10, 3)]
    events += [remove_event(f"r{n}", a, T0 + timedelta(seconds=30)) for n in (1, 4)]
    first = backend.reactions
    first.apply(events)
    reference = (first.counts([(a, a)]), [ids(first.own([(a, a)], f"fan{n}")[0]) for n in range(3)])
    rng = random.Random(7)
    for trial in range(3):
        b = activity_id(f"{user}t{trial}")
        shuffled = [e for e in events for _ in range(rng.randint(1, 2))]
        rng.shuffle(shuffled)
        moved = [_on(e, b) for e in shuffled]
        for start in range(0, len(moved), 3):  # in small batches, as partitions deliver them
            first.apply(moved[start : start + 3])
        again = (first.counts([(b, b)]), [ids(first.own([(b, b)], f"fan{n}")[0]) for n in range(3)])
        assert again == reference


def _on(event, activity: str):
    """The same event on another activity (a fresh key space for each trial)."""
    from dataclasses import replace

    identity = None if event.identity is None else replace(event.identity, activity_id=activity)
    return replace(event, activity_id=activity, identity=identity)


def test_a_page_of_summaries_is_what_counts_own_and_newest_say(backend, user):
    """summaries (what a feed page shows, read for the page at once) agrees with the one-by-one
    reads on every backend, for targets with reactions, without, and on a child reaction."""
    from streamfeed.storage.reactions import ReactionStorage

    store = backend.reactions
    a, b, empty = activity_id(user), activity_id(f"{user}b"), activity_id(f"{user}e")
    events = [
        like(f"s{n}", [a, b][n % 2], f"fan{n % 3}", n, ["like", "comment"][n % 3 == 0]) for n in range(14)
    ]
    events += [
        like("s99", a, "fan1", 99, "like", parent="s0"),
        remove_event("s2", a, T0 + timedelta(seconds=60)),
    ]
    store.apply(events)
    targets = [(a, a), (b, b), (empty, empty), (a, "s0")]
    for reader, per_kind in (("fan1", 2), (None, 0), ("nobody", 5)):
        page = store.summaries(targets, reader, per_kind)
        assert page == ReactionStorage.summaries(store, targets, reader, per_kind)  # the generic reads
        assert [s.counts for s in page] == store.counts(targets)
    page = store.summaries(targets, "fan1", 2)
    assert (
        page[0].counts == {"comment": 3, "like": 3} and page[2].counts == {} and page[3].counts == {"like": 1}
    )
    assert ids(page[0].own) == ["s10", "s4"] and ids(page[3].own) == ["s99"]
    assert {kind: ids(states) for kind, states in page[0].recent.items()} == {
        "comment": ["s12", "s6"],
        "like": ["s10", "s8"],
    }
