"""The fanout's and materializer's per-recipient memos: same answers as computing each time, and
bounded whatever the follower counts."""

from aiokafka.partitioner import murmur2

import streamfeed.app.steps.partitioning as steps
import streamfeed.feeds.flat as feeds
from streamfeed.app.steps.partitioning import by_partition, partition_for
from streamfeed.feeds.flat import Feed, FeedKeyError, feed_key, feed_keys


def test_by_partition_groups_users_in_their_order_by_kafkas_partition():
    users = [f"user{n}" for n in range(50, 0, -1)]
    groups = by_partition(users, 8)
    assert sorted(u for group in groups.values() for u in group) == sorted(users)
    for partition, group in groups.items():
        assert all((murmur2(u.encode()) & 0x7FFFFFFF) % 8 == partition for u in group)
        assert group == [u for u in users if u in group]  # order kept
    assert {partition_for(u, 8) for u in groups[3]} == {3}
    assert by_partition(users, 3) != groups  # remembered per partition count


def test_the_c_partition_function_equals_kafkas_murmur2_in_python():
    keys = [f"user{n}" for n in range(2_000)] + ["", "ünïcødé-名前", "x" * 1_000, "a:b|c{d}"]
    for partitions in (1, 3, 8, 64):
        assert [steps.kafka_partition(k.encode(), partitions) for k in keys] == [
            steps._python_partition(k.encode(), partitions) for k in keys
        ]
    assert steps.kafka_partition is not steps._python_partition  # the C one is what runs here


def test_feed_keys_equal_feed_key_and_refuse_bad_ids_every_time():
    users = ["alice", "bob", "alice", "42"]
    assert (
        Feed.keys_for(users)
        == [feed_key("feed:{user_id}", u) for u in users]
        == [
            "feed:{alice}",
            "feed:{bob}",
            "feed:{alice}",
            "feed:{42}",
        ]
    )
    assert feed_keys("feed:{user_id}", [7]) == ["feed:{7}"]
    for _ in range(2):
        try:
            feed_keys("feed:{user_id}", ["ok", "has space"])
        except FeedKeyError as error:
            assert "has space" in str(error)
        else:
            raise AssertionError("a user id with a space made a key")


def test_keys_built_on_a_miss_equal_the_general_format(monkeypatch):
    monkeypatch.setattr(feeds, "_keys_by_format", {})
    users = ["u1", "a.b@c:d-e_f", "9" * 200]
    for key_format in ("feed:{user_id}", "{{literal}}:{user_id}:tail", "{user_id}"):
        assert feed_keys(key_format, users) == [key_format.format(user_id="{" + u + "}") for u in users]
    for bad in ("", "x" * 201, "new\nline", "brace}"):
        try:
            feed_keys("feed:{user_id}", [bad])
        except FeedKeyError:
            pass
        else:
            raise AssertionError(f"{bad!r} made a key")


def test_memos_stay_bounded(monkeypatch):
    monkeypatch.setattr(feeds, "KEY_CACHE_SIZE", 100)
    monkeypatch.setattr(steps, "PARTITION_CACHE_SIZE", 100)
    monkeypatch.setattr(feeds, "_keys_by_format", {})
    monkeypatch.setattr(steps, "_partitions_by_count", {})
    users = [f"follower{n}" for n in range(1_000)]
    for start in range(0, len(users), 50):
        chunk = users[start : start + 50]
        assert feed_keys("feed:{user_id}", chunk) == [f"feed:{{{u}}}" for u in chunk]
        by_partition(chunk, 4)
    assert 0 < len(feeds._keys_by_format["feed:{user_id}"]) <= 150
    assert 0 < len(steps._partitions_by_count[4]) <= 150
