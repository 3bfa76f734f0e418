from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.exceptions import ActivityNotFound, DuplicateActivityException
from streamfeed.domain.verbs import Add, Love

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def love(actor, obj=1, minutes=0):
    return Activity(actor, "love", obj, time=T0 + timedelta(minutes=minutes))


def test_append_tracks_times_counts_and_order():
    group = AggregatedActivity("love-2026-01-01")
    group.append(love(1, minutes=5))
    group.append(love(2, minutes=1))
    group.append(love(1, obj=2, minutes=9))
    assert group.created_at == T0 + timedelta(minutes=1)
    assert group.updated_at == T0 + timedelta(minutes=9)
    assert group.activity_count == 3
    assert group.actor_ids == ["1", "2"]
    assert group.object_ids == ["2", "1"]
    assert group.actor_count == 2
    assert group.other_actor_count == 0
    assert group.verbs == [Love]
    assert group.verb is Love
    assert group.last_activity == love(1, obj=2, minutes=9)
    assert [a.time.minute for a in group.last_activities] == [9, 5, 1]
    assert group.contains(love(2, minutes=1)) and love(2, minutes=1) in group
    assert not group.contains(love(3))


def test_append_refuses_a_duplicate():
    group = AggregatedActivity("g", [love(1)])
    with pytest.raises(DuplicateActivityException, match="already in group 'g'"):
        group.append(love(1))
    assert group.activity_count == 1


def test_cap_drops_oldest_and_counts_them():
    class Small(AggregatedActivity):
        max_aggregated_activities_length = 3

    group = Small("g", [love(actor, minutes=actor) for actor in range(1, 6)])
    assert [a.actor_id for a in group.activities] == ["3", "4", "5"]
    assert group.minimized_activities == 2
    assert group.activity_count == 5
    assert group.actor_count == 5
    assert group.other_actor_count == 3
    assert AggregatedActivity.max_aggregated_activities_length == 15


def test_remove_and_remove_many():
    a, b, c = love(1, minutes=1), love(2, minutes=2), love(3, minutes=3)
    group = AggregatedActivity("g", [a, b, c])
    group.remove(c)
    assert group.updated_at == b.time and group.activity_count == 2
    with pytest.raises(ActivityNotFound, match="not in group"):
        group.remove(c)
    with pytest.raises(ActivityNotFound):
        group.remove_many([a, c])
    assert group.activity_count == 2  # nothing removed when one is missing
    assert group.remove_many([a, c], missing_ok=True) == [a]
    assert group.activities == [b]
    assert group.remove_many([b]) == [b]
    assert group.activities == []
    with pytest.raises(ActivityNotFound, match="holds no activities"):
        _ = group.last_activity


def test_seen_and_read_follow_updates():
    group = AggregatedActivity("g", [love(1, minutes=1)])
    assert not group.is_seen() and not group.is_read()
    group.update_seen_at(T0 + timedelta(minutes=2))
    assert group.is_seen() and not group.is_read()
    group.update_read_at(T0 + timedelta(minutes=2))
    assert group.is_read()
    group.append(love(2, minutes=3))
    assert not group.is_seen() and not group.is_read()
    group.update_seen_at()
    assert group.is_seen() and group.seen_at.tzinfo is UTC


def test_mixed_verbs_and_equality():
    added = Activity(1, Add, 5, time=T0)
    a = AggregatedActivity("g", [added, love(2)])
    b = AggregatedActivity("g", [love(2), added])
    assert a == b
    assert set(a.verbs) == {Add, Love}
    b.update_seen_at(T0)
    assert a != b
    assert "2 activities" in repr(a)
