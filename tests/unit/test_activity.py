from datetime import UTC, datetime, timedelta, timezone

import pytest

from streamfeed.domain.activity import Activity, DehydratedActivity
from streamfeed.domain.exceptions import ActivityNotFound, UnknownVerb, ValidationError
from streamfeed.domain.verbs import Add, Love

T = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)


class User:
    def __init__(self, id):
        self.id = id


def test_fields_and_ids_from_objects():
    activity = Activity(User(13), "love", User(42), User(7), T, {"a": "b"}, "f-1", ["notification:9"])
    assert activity.actor_id == "13"
    assert activity.verb is Love
    assert activity.object_id == "42"
    assert activity.target_id == "7"
    assert activity.time == T
    assert activity.extra_context == {"a": "b"}
    assert activity.foreign_id == "f-1"
    assert activity.to == ("notification:9",)
    assert activity.serialization_id == activity.id
    assert activity.sort_key == int(T.timestamp()) * 1_000_000 + 123456
    assert "13 loved 42 to 7" in repr(activity)


def test_time_defaults_to_now_in_utc_and_naive_means_utc():
    before = datetime.now(UTC)
    activity = Activity(1, Add, 2)
    assert before <= activity.time <= datetime.now(UTC)
    assert activity.time.tzinfo is UTC
    naive = Activity(1, Add, 2, time=T.replace(tzinfo=None))
    assert naive.time == T and naive.id == Activity(1, Add, 2, time=T).id
    shifted = T.astimezone(timezone(timedelta(hours=5)))
    assert Activity(1, Add, 2, time=shifted).id == Activity(1, Add, 2, time=T).id


def test_equality_and_hash_go_by_id():
    a = Activity(1, "add", 2, time=T, extra_context={"x": 1})
    b = Activity("1", Add, "2", time=T)
    c = Activity(1, "add", 3, time=T)
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    assert (a == "x") is False


def test_dehydrate_and_hydrate():
    activity = Activity(1, "love", 2, time=T)
    dehydrated = activity.get_dehydrated()
    assert isinstance(dehydrated, DehydratedActivity) and dehydrated.dehydrated
    assert dehydrated == activity and dehydrated.serialization_id == activity.id
    assert dehydrated.get_hydrated({activity.id: activity}) is activity
    assert activity.get_hydrated() is activity
    with pytest.raises(ActivityNotFound, match=activity.id):
        dehydrated.get_hydrated({})


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"actor": None}, "actor", "is required"),
        ({"object": None}, "object", "is required"),
        ({"actor": ""}, "actor", "is not a valid user id"),
        ({"object": 1.5}, "object", "string or integer"),
        ({"time": "yesterday"}, "time", "must be a datetime"),
        ({"time": datetime(1969, 12, 31, tzinfo=UTC)}, "time", "must be between"),
        ({"time": datetime(2300, 1, 1, tzinfo=UTC)}, "time", "must be between"),
        ({"extra_context": {"nested": {"a": 1}}}, "extra_context['nested']", "cannot be stored"),
        ({"extra_context": {"n": 2**64}}, "extra_context['n']", "64 bits"),
        ({"extra_context": {"n": float("nan")}}, "extra_context['n']", "finite"),
        ({"extra_context": {"l": [1, object()]}}, "extra_context['l']", "cannot be stored"),
        ({"extra_context": {1: "a"}}, "extra_context", "keys must be strings"),
        ({"extra_context": ["a"]}, "extra_context", "mapping"),
        ({"extra_context": {"big": "x" * 20_000}}, "extra_context", "exceeds the limit"),
        ({"foreign_id": ""}, "foreign_id", "non-empty"),
        ({"to": "notification:1"}, "to", "not one string"),
        ({"to": ["notification:1", ""]}, "to", "FEED:USER_ID"),
        ({"to": ["notification:a b"]}, "to['notification:a b']", "not a valid user id"),
        ({"actor": "a}"}, "actor", "not a valid user id"),
    ],
)
def test_validation_names_field_and_value(kwargs, field, reason):
    arguments = {"actor": 1, "verb": "love", "object": 2, **kwargs}
    with pytest.raises(ValidationError) as error:
        Activity(**arguments)
    assert error.value.field == field
    assert reason in str(error.value)
    assert str(error.value).startswith(f"{field}: ")


def test_unknown_verb():
    with pytest.raises(UnknownVerb, match="verb: unknown verb"):
        Activity(1, "pin", 2)


def test_extra_context_limit_is_a_class_attribute():
    class Small(Activity):
        max_extra_context_bytes = 10

    Activity(1, "add", 2, extra_context={"k": "x" * 50})
    with pytest.raises(ValidationError, match="limit of 10 bytes"):
        Small(1, "add", 2, extra_context={"k": "x" * 50})


def test_record_round_trip_keeps_subclass():
    class Pin(Activity):
        @property
        def title(self):
            return self.extra_context.get("title")

    pin = Pin(1, "add", 2, 3, T, {"title": "lagoon", "tags": ["a", "b"], "n": 3}, "f", ["x:1"])
    record = pin.to_record()
    assert record == {
        "id": pin.id,
        "actor": "1",
        "verb": "add",
        "object": "2",
        "target": "3",
        "time": pin.sort_key,
        "foreign_id": "f",
        "to": ["x:1"],
        "extra_context": {"title": "lagoon", "tags": ["a", "b"], "n": 3},
    }
    back = Pin.from_record(record)
    assert type(back) is Pin and back == pin and back.title == "lagoon"
    assert back.time == T and back.to == ("x:1",) and back.target_id == "3"
    assert Pin.from_record(dict(record, time=T)).id == pin.id


def test_from_record_rejects_a_wrong_id_and_bad_time():
    record = Activity(1, "add", 2, time=T).to_record()
    with pytest.raises(ValidationError, match="does not match"):
        Activity.from_record(dict(record, id="0" * 30))
    with pytest.raises(ValidationError, match="time: "):
        Activity.from_record(dict(record, time=-5))
    with pytest.raises(ValidationError, match="actor: is required"):
        Activity.from_record(dict(record, actor=None))


def test_with_extra_context_keeps_the_id():
    activity = Activity(1, "add", 2, time=T, extra_context={"a": "1"})
    updated = activity.with_extra_context({"a": "2"})
    assert updated.id == activity.id and updated.extra_context == {"a": "2"}
    assert activity.extra_context == {"a": "1"}
