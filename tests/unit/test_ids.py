from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from streamfeed.domain.activity import Activity
from streamfeed.domain.ids import (
    ID_LENGTH,
    MAX_SORT_KEY,
    MAX_TIME,
    is_activity_id,
    make_activity_id,
    sort_key_for,
    sort_key_of,
    time_for,
)

times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2255, 1, 1), timezones=st.just(UTC))
ids = st.one_of(st.text(min_size=1, max_size=40), st.integers(min_value=0, max_value=10**30))
user_ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:@\-]{1,40}", fullmatch=True), st.integers(min_value=0, max_value=10**30)
)


@settings(max_examples=200)
@given(times, times, user_ids, ids)
def test_ids_order_like_times(first, second, actor, obj):
    a = Activity(actor, "love", obj, time=first)
    b = Activity(actor, "love", obj, time=second)
    if first < second:
        assert a.id < b.id
    elif first > second:
        assert a.id > b.id
    else:
        assert a.id == b.id


@settings(max_examples=200)
@given(user_ids, ids, st.one_of(st.none(), ids), times, st.one_of(st.none(), st.text(min_size=1)))
def test_equal_inputs_give_equal_ids(actor, obj, target, time, foreign_id):
    a = Activity(actor, "add", obj, target, time, foreign_id=foreign_id)
    b = Activity(actor, "add", obj, target, time, extra_context={"x": 1}, foreign_id=foreign_id)
    assert a.id == b.id and a == b and hash(a) == hash(b)
    assert is_activity_id(a.id) and len(a.id) == ID_LENGTH


@settings(max_examples=100)
@given(st.lists(st.tuples(user_ids, ids, ids), min_size=2, max_size=50, unique=True), times)
def test_different_activities_at_the_same_time_do_not_collide(triples, time):
    activities = {Activity(actor, "love", obj, target, time) for actor, obj, target in triples}
    keys = {(a.actor_id, a.object_id, a.target_id) for a in activities}
    assert len({a.id for a in activities}) == len(keys)


def test_parts_are_length_prefixed_so_concatenations_differ():
    assert make_activity_id(5, "ab", "c") != make_activity_id(5, "a", "bc")
    assert make_activity_id(5, None, "x") != make_activity_id(5, "", "x")


@settings(max_examples=200)
@given(times)
def test_sort_key_is_exact_in_a_double_and_round_trips(time):
    key = sort_key_for(time)
    assert 0 <= key <= MAX_SORT_KEY
    assert int(float(key)) == key
    assert time_for(key) == time
    assert sort_key_of(make_activity_id(key, "a")) == key


def test_limits():
    assert sort_key_for(MAX_TIME) == MAX_SORT_KEY
    assert time_for(MAX_SORT_KEY) == MAX_TIME
    assert sort_key_for(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=1)) == 1
    assert not is_activity_id("0" * 29)
    assert not is_activity_id("Z" * 30)
    assert not is_activity_id("A" * 30)
    assert is_activity_id("a" * 30)
