"""Stream Framework's own notification-feed tests, ported, on every backend.

Its tests (stream_framework/tests/feeds/notification_feed/base.py and
aggregated_feed/notification_feed.py) build their activities minutes in the
future (`datetime.now() + timedelta(seconds=x, minutes=object_id)`) and
assert seen/read after marking groups or everything. With marks judged by
clocks, four of them failed here: a mark made now never covered activities
dated minutes ahead. Marks now name the members the user saw, so they pass
as they pass there; the assertions are theirs (group order, seen/read per
slice, counts after removals).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.feeds.aggregated import NotificationFeed

USER_ID = 42


def create_activities(verb: str, object_id: int, count: int) -> list[Activity]:
    """Their fixture: actors 0..count-1, dated object_id minutes (plus x seconds) ahead."""
    now = datetime.now(UTC)
    return [
        Activity(x, verb, object_id, x, now + timedelta(seconds=x, minutes=object_id), {"x": x})
        for x in range(count)
    ]


@pytest.fixture
def world(backend, user):
    feed = NotificationFeed(user, backend=backend)
    loves = create_activities("love", 1, 5)
    comments = create_activities("comment", 2, 5)
    followers = create_activities("follow", USER_ID, 5)
    aggregator = feed.get_aggregator()
    groups = {
        name: aggregator.aggregate(activities)[0]
        for name, activities in (("love", loves), ("comment", comments), ("follower", followers))
    }
    return feed, loves, comments, followers, groups


def assert_markers(groups: list[AggregatedActivity], seen: bool = False, read: bool = False) -> None:
    for group in groups:
        assert (group.is_seen(), group.is_read()) == (seen, read), group.group


def names(groups: list[AggregatedActivity]) -> list[str]:
    return [g.group for g in groups]


def test_add_activities(world):
    feed, loves, comments, _, groups = world
    feed.add_many(loves[:-1])
    feed.mark_all(seen=True, read=True)
    feed.add(loves[-1])  # a new member after the mark: the group is unseen again
    assert_markers(feed[:])
    assert names(feed[:]) == [groups["love"].group]
    assert [a.id for a in feed[:][0].activities] == [a.id for a in loves]
    feed.add_many(comments)
    assert names(feed[:]) == [groups["comment"].group, groups["love"].group]
    assert_markers(feed[:])


def test_remove_activities(world):
    feed, loves, *_ = world
    feed.add_many(loves)
    feed.remove_many(loves)
    assert feed[:] == []
    assert (feed.count_unseen(), feed.count_unread()) == (0, 0)


def test_remove_many_aggregated_activities(world):
    feed, loves, comments, followers, groups = world
    feed.add_many(followers + comments + loves)
    feed.remove_many(followers)
    assert names(feed[:]) == [groups["comment"].group, groups["love"].group]
    assert_markers(feed[:])
    feed.remove_many(comments + loves)
    assert feed[:] == []
    assert (feed.count_unseen(), feed.count_unread()) == (0, 0)


def test_mark_aggregated_activity(world):
    feed, loves, comments, followers, groups = world
    feed.add_many(followers + comments + loves)
    assert_markers(feed[0:1], seen=False, read=False)

    feed.mark_activities([groups["follower"].group])
    assert_markers(feed[0:1], seen=True, read=False)
    assert_markers(feed[1:])

    feed.mark_activities([groups["follower"].group], read=True)
    assert_markers(feed[0:1], seen=True, read=True)
    assert_markers(feed[1:])

    feed.mark_activities([groups["comment"].group], read=True)
    assert_markers(feed[0:2], seen=True, read=True)
    assert_markers(feed[2:])


def test_mark_aggregated_activities(world):
    feed, loves, comments, followers, groups = world
    feed.add_many(followers + comments + loves)
    assert_markers(feed[:], seen=False, read=False)

    feed.mark_activities([groups["follower"].group, groups["comment"].group], read=False)
    assert_markers(feed[0:2], seen=True, read=False)
    assert_markers(feed[2:])

    feed.mark_activities([groups["follower"].group, groups["comment"].group], read=True)
    assert_markers(feed[0:2], seen=True, read=True)
    assert_markers(feed[2:])

    feed.mark_activities([groups[name].group for name in ("follower", "comment", "love")], read=True)
    assert_markers(feed[:], seen=True, read=True)


def test_mark_all_aggregated_activities_as_seen(world):
    feed, loves, comments, followers, _ = world
    feed.add_many(followers + comments + loves)
    assert_markers(feed[:], seen=False, read=False)
    feed.mark_all()
    assert_markers(feed[:], seen=True, read=False)


def test_mark_all_aggregated_activities_as_read(world):
    feed, loves, comments, followers, _ = world
    feed.add_many(followers + comments + loves)
    assert_markers(feed[:], seen=False, read=False)
    feed.mark_all(read=True)
    assert_markers(feed[:], seen=True, read=True)


def test_mark_all_counts(world):
    """aggregated_feed/notification_feed.py's test_mark_all: one group, then none unseen."""
    feed, loves, *_ = world
    feed.add_many(loves)
    assert len(feed[:10]) == 1
    assert feed.count_unseen() == 1
    feed.mark_all()
    assert feed.count_unseen() == 0
