"""Reactions converge (issue 30): the state of a reaction, and what it counts towards, do not
depend on the order its events arrive in nor on how often each arrives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.reactions import (
    ReactionEvent,
    ReactionOp,
    add_event,
    index_entries,
    merged,
    reaction_identity,
    remove_event,
    update_event,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ACTIVITY = Activity("ann", "add", "pin:1", time=T0).id


def identity(kind: str = "like", user: str = "bob", parent: str | None = None):
    return reaction_identity(kind, user, ACTIVITY, parent, T0, ())


def fold(events):
    states: dict = {}
    for event in events:
        states[event.reaction_id] = merged(states.get(event.reaction_id), event)
    return states


def entries(states) -> set:
    return set().union(*(index_entries(s) for s in states.values())) if states else set()


events_of_one_reaction = st.lists(
    st.one_of(
        st.builds(
            lambda rid, v, kind, text: add_event(
                rid, identity(kind), {"text": text}, T0 + timedelta(seconds=v)
            ),
            st.sampled_from(["r1", "r2"]),
            st.integers(0, 3),
            st.sampled_from(["like", "comment"]),
            st.sampled_from(["a", "b"]),
        ),
        st.builds(
            lambda rid, v, text: update_event(rid, ACTIVITY, {"text": text}, T0 + timedelta(seconds=v)),
            st.sampled_from(["r1", "r2"]),
            st.integers(0, 3),
            st.sampled_from(["a", "b", "c"]),
        ),
        st.builds(
            lambda rid, v: remove_event(rid, ACTIVITY, T0 + timedelta(seconds=v)),
            st.sampled_from(["r1", "r2"]),
            st.integers(0, 3),
        ),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(events_of_one_reaction, st.randoms(use_true_random=False), st.data())
def test_any_order_and_any_redelivery_give_the_same_state_and_counts(events, rng, data):
    reordered = list(events)
    rng.shuffle(reordered)
    redelivered = reordered + data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    rng.shuffle(redelivered)
    assert fold(reordered) == fold(events)
    assert fold(redelivered) == fold(events)
    assert entries(fold(redelivered)) == entries(fold(events))


def test_a_removal_is_final_and_an_early_update_is_kept():
    add = add_event("r1", identity("comment"), {"text": "first"}, T0)
    edit = update_event("r1", ACTIVITY, {"text": "edited"}, T0 + timedelta(seconds=1))
    state = reduce(lambda s, e: merged(s, e), [edit, add], None)
    assert state.live and state.data == {"text": "edited"}
    gone = merged(state, remove_event("r1", ACTIVITY, T0))
    assert not gone.live and index_entries(gone) == set()
    late = merged(gone, add_event("r1", identity(), {}, T0 + timedelta(days=1)))
    assert not late.live
    (entry,) = index_entries(state)
    assert (entry.on, entry.kind, entry.user_id) == (ACTIVITY, "comment", "bob")
    child = merged(None, add_event("r2", identity("like", "cat", parent="r1"), {}, T0))
    assert [e.on for e in index_entries(child)] == ["r1"]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: reaction_identity("Like!", "bob", ACTIVITY), "kind"),
        (lambda: reaction_identity("like", "bad user", ACTIVITY), "user_id"),
        (lambda: reaction_identity("like", "bob", "pin:1"), "activity_id"),
        (lambda: reaction_identity("like", "bob", ACTIVITY, parent_id="no/slash"), "parent_id"),
        (lambda: reaction_identity("like", "bob", ACTIVITY, target_feeds=["x"] * 21), "target_feeds"),
        (lambda: reaction_identity("like", "bob", ACTIVITY, target_feeds="notification:ann"), "target_feeds"),
        (lambda: ReactionEvent(ReactionOp.ADD, "r1", ACTIVITY, 1), "identity"),
        (lambda: ReactionEvent(ReactionOp.REMOVE, "", ACTIVITY, 1), "id"),
        (lambda: ReactionEvent(ReactionOp.REMOVE, "r1", "pin:1", 1), "activity_id"),
        (lambda: update_event("r1", ACTIVITY, {"text": object()}, T0), "data"),
    ],
)
def test_bad_reactions_name_the_field(build, field):
    with pytest.raises(ValidationError) as raised:
        build()
    assert raised.value.field == field
