import pytest

from pipeline.events import ActivityEvent, ActivityOp, FollowEvent, FollowOp
from pipeline.json_events import JsonEventError, parse_json_event


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
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"type": "like"}', "type must be"),
        ('{"type": "activity", "actor": "1", "verb": "pin", "object": "p"}', "verb: unknown verb"),
        ('{"type": "activity", "verb": "love", "object": "p"}', "actor: is required"),
        ('{"type": "activity", "actor": "1", "verb": "love", "object": "p", "colour": 1}', "unknown fields"),
        ('{"type": "activity", "actor": "1", "verb": "love", "object": "p", "time": "soon"}', "ISO 8601"),
        ('{"type": "activity", "op": "shout", "actor": "1", "verb": "love", "object": "p"}', "op: must be"),
        ('{"type": "follow", "follower": "1"}', "followed: must be a user id"),
        ('{"type": "follow", "follower": "1", "followed": "2", "activity_copy_limit": -1}', "non-negative"),
    ],
)
def test_bad_lines_say_why(line, reason):
    with pytest.raises(JsonEventError, match=reason):
        parse_json_event(line)
