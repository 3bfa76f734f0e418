"""Author modes as a set of changes: order-free, idempotent, and read the same by fanout and read."""

from __future__ import annotations

import itertools

import pytest

from streamfeed.domain.author_modes import (
    AuthorModeEvent,
    currently_pulled,
    decode_changes,
    encode_changes,
    pulled_at,
    pulled_ranges,
    with_change,
)
from streamfeed.domain.exceptions import ValidationError
from streamfeed.schemas.catalog import AUTHOR_MODE_EVENT, FOLLOW_EVENT
from streamfeed.schemas.codec import AvroCodec

SWITCHES = [(10, True), (20, False), (30, True), (20, False)]


def test_changes_applied_in_any_order_or_twice_give_the_same_modes():
    results = set()
    for order in itertools.permutations(SWITCHES):
        changes = ()
        for time, pulled in order:
            changes = with_change(changes, time, pulled)
        results.add(changes)
    assert results == {((10, True), (20, False), (30, True))}


def test_an_activity_takes_the_mode_of_the_latest_change_at_or_before_its_time():
    changes = ((10, True), (20, False), (30, True))
    assert [pulled_at(changes, t) for t in (9, 10, 19, 20, 29, 30, 10**15)] == [
        False, True, True, False, False, True, True,
    ]  # fmt: skip
    assert pulled_at((), 50) is False
    assert pulled_ranges(changes) == [(10, 20), (30, None)]
    assert currently_pulled(changes) and not currently_pulled(((10, True), (20, False)))


def test_a_tie_resolves_to_pulled_whichever_came_first():
    assert with_change(with_change((), 5, False), 5, True) == with_change(with_change((), 5, True), 5, False)
    assert pulled_at(with_change(with_change((), 5, False), 5, True), 5)


def test_changes_survive_their_stored_form():
    changes = ((10, True), (20, False), (30, True))
    assert decode_changes(encode_changes(changes)) == changes
    assert decode_changes("") == ()


def test_the_switch_is_an_avro_record_on_the_follows_topic_told_apart_from_follows():
    codec = AvroCodec()
    event = AuthorModeEvent("celebrity", True, 1_790_000_000_000_000)
    data = codec.encode(AUTHOR_MODE_EVENT, event.to_record())
    assert codec.is_record(AUTHOR_MODE_EVENT, data) and not codec.is_record(FOLLOW_EVENT, data)
    assert AuthorModeEvent.from_record(codec.decode(AUTHOR_MODE_EVENT, data)) == event
    assert not codec.is_record(AUTHOR_MODE_EVENT, b"\x00garbage")


def test_a_bad_author_id_is_a_validation_error_naming_the_field():
    with pytest.raises(ValidationError, match="author"):
        AuthorModeEvent.from_record({"author": "has space", "pulled": True, "time": 1})
