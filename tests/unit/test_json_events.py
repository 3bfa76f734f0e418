import json

import pytest

from streamfeed.domain.events import ActivityEvent, ActivityOp, FollowEvent, FollowOp
from streamfeed.domain.json_events import JsonEventError, parse_json_event


def test_activity_and_follow_lines():
    event = parse_json_event(
        '{"type": "activity", "op": "remove", "actor": "1", "verb": "love", "object": "p",'
        ' "time": "2026-01-02T03:04:05Z", "to": ["notification:2"], "priority": "low"}'
    )
    assert isinstance(event, ActivityEvent) and event.op is ActivityOp.REMOVE
    assert event.activity.time.isoformat() == "2026-01-02T03:04:05+00:00"
    assert event.activity.to == ("notification:2",) and event.priority.value == "low"
    follow = parse_json_event('{"type": "follow", "op": "unfollow", "follower": "1", "followed": "2"}')
    assert isinstance(follow, FollowEvent) and follow.op is FollowOp.UNFOLLOW


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "not JSON: expected ident at line 1 column 2"),
        ('{"type": "activity", "actor": "1"', "not JSON: EOF while parsing an object at line 1 column 33"),
        ("[" * 10_000, "not JSON: recursion limit exceeded"),
        ("[1]", "JSON object"),
        ('{"type": "like"}', "type must be"),
        ('{"type": "activity", "actor": "1", "verb": "pin", "object": "p"}', "verb: unknown verb"),
        ('{"type": "activity", "verb": "love", "object": "p"}', "actor: is required"),
        (
            '{"type": "activity", "actor": 5, "verb": "love", "object": "p"}',
            "actor: Input should be a valid string",
        ),
        (
            '{"type": "activity", "actor": "a b", "verb": "love", "object": "p"}',
            "actor: is not a valid user id",
        ),
        (
            '{"type": "activity", "actor": "1", "verb": "love", "object": "p", "colour": 1}',
            "colour: unknown field",
        ),
        (
            '{"type": "activity", "actor": "1", "verb": "love", "object": "p", "time": "soon"}',
            "time: .*datetime",
        ),
        (
            '{"type": "activity", "op": "shout", "actor": "1", "verb": "love", "object": "p"}',
            "op: Input should be",
        ),
        (
            '{"type": "activity", "actor": "1", "verb": "love", "object": "p", "to": ["x"]}',
            "to: entries must be",
        ),
        ('{"type": "follow", "follower": "1"}', "followed: is required"),
        (
            '{"type": "follow", "follower": "1", "followed": "2", "activity_copy_limit": -1}',
            "greater than or equal",
        ),
        (
            '{"type": "follow", "follower": "1", "followed": "2", "activity_copy_limit": true}',
            "valid integer",
        ),
        (
            '{"type": "follow", "follower": "1", "followed": "2", "activity_copy_limit": 4294967296}',
            "less than",
        ),
    ],
)
def test_bad_lines_say_why(line, reason):
    with pytest.raises(JsonEventError, match=reason):
        parse_json_event(line)


def test_the_published_json_schema_is_the_models():
    """schemas/events.schema.json is what other languages validate against: kept in step."""
    from streamfeed.domain.json_events import dump_json_schema
    from streamfeed.schemas.catalog import SCHEMA_DIR

    committed = (SCHEMA_DIR / "events.schema.json").read_text()
    assert committed == dump_json_schema(), (
        "regenerate: python -c 'from streamfeed.domain.json_events import ...'"
    )


def test_the_example_file_is_valid(tmp_path):
    from streamfeed.schemas.catalog import SCHEMA_DIR

    lines = (SCHEMA_DIR / "examples" / "events.jsonl").read_text().splitlines()
    events = [parse_json_event(line) for line in lines if line.strip()]
    assert {type(e) for e in events} == {ActivityEvent, FollowEvent} and len(events) >= 5


PIN = "0" * 14 + "a" * 16  # an activity id's shape: 30 lowercase hex digits


def reaction_line(**fields) -> str:
    return json.dumps({"type": "reaction", "id": "c1", "activity_id": PIN, **fields})


def test_reaction_lines_add_update_and_remove():
    from streamfeed.domain.reactions import ReactionEvent, ReactionOp

    add = parse_json_event(
        reaction_line(
            kind="comment",
            user_id="9",
            parent_id=None,
            time="2026-12-07T10:00:00Z",
            data={"text": "hi"},
            version=7,
        )
    )
    assert isinstance(add, ReactionEvent) and add.op is ReactionOp.ADD and add.version == 7
    assert add.identity.kind == "comment" and add.identity.time.isoformat() == "2026-12-07T10:00:00+00:00"
    assert add.data == {"text": "hi"}
    update = parse_json_event(reaction_line(op="update", data={"text": "x"}))
    assert update.op is ReactionOp.UPDATE and update.identity is None and update.version > 7
    remove = parse_json_event(reaction_line(op="REMOVE"))
    assert remove.op is ReactionOp.REMOVE and remove.data == {}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "like"}, "user_id: is required"),
        ({"user_id": "9"}, "kind: must be"),
        ({"kind": "Like!", "user_id": "9"}, "kind: must be"),
        ({"kind": "like", "user_id": "9", "target_feeds": ["nofeed"]}, "target_feeds"),
        ({"op": "update", "kind": "like"}, "kind: only an add"),
        ({"op": "remove", "data": {"a": 1}}, "data: a remove carries no data"),
        ({"kind": "like", "user_id": "9", "version": -1}, "version: .*greater than or equal"),
        ({"kind": "like", "user_id": "9", "colour": 1}, "colour: unknown field"),
        ({"kind": "like", "user_id": "9", "activity_id": "pin:1"}, "activity_id: must be an activity id"),
        ({"kind": "like", "user_id": "9", "id": "a b"}, "id: must be a reaction id"),
    ],
)
def test_bad_reaction_lines_say_why(fields, reason):
    with pytest.raises(JsonEventError, match=reason):
        parse_json_event(reaction_line(**fields))
