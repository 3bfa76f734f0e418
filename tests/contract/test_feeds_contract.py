"""The storage contract: memory, Redis and Cassandra give identical results.

Every test runs once per backend (tests/contract/conftest.py) and asserts
exact values, so passing on all three means the three agree.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregation import AggregatedWrite
from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed
from streamfeed.feeds.flat import Feed, FeedKeyError, direct_states
from streamfeed.storage.base import Bounds, PageRequest, Unfollowed
from streamfeed.storage.serialization import CorruptStoredData

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float, actor="1", verb="love", obj="9", **kwargs) -> Activity:
    return Activity(actor, verb, obj, time=T0 + timedelta(minutes=minutes), **kwargs)


def ids(activities):
    return [a.id for a in activities]


def newest_first(activities):
    return sorted(activities, key=lambda a: a.id, reverse=True)


class SmallFeed(Feed):
    key_format = "small:{user_id}"
    max_length = 5


# -- flat feeds ----------------------------------------------------------------


def test_newest_first_with_ties_broken_by_id(backend, user):
    feed = Feed(user, backend=backend)
    same_time = [at(5, obj=str(n)) for n in range(4)]
    others = [at(1), at(9), at(3)]
    feed.add_many(same_time + others)
    expected = newest_first(same_time + others)
    assert ids(feed[:]) == ids(expected)
    assert ids(feed.order_by("activity_id")[:]) == ids(expected[::-1])
    assert ids(feed.order_by("-activity_id")[:3]) == ids(expected[:3])
    assert feed.count() == 7
    assert feed[:][0].time == T0 + timedelta(minutes=9)


def test_slicing(backend, user):
    feed = Feed(user, backend=backend)
    activities = [at(m) for m in range(10)]
    feed.add_many(activities)
    expected = newest_first(activities)
    assert ids(feed[:3]) == ids(expected[:3])
    assert ids(feed[3:6]) == ids(expected[3:6])
    assert ids(feed[8:20]) == ids(expected[8:])
    assert feed[4] == expected[4]
    assert feed[5:5] == [] and feed[20:30] == []
    with pytest.raises(IndexError):
        feed[10]
    with pytest.raises(ValueError, match="step"):
        feed[::-1]
    with pytest.raises(ValueError, match="negative"):
        feed[-3:]
    with pytest.raises(IndexError, match="negative"):
        feed[-1]


def test_filters_by_id(backend, user):
    feed = Feed(user, backend=backend)
    activities = newest_first([at(m) for m in range(8)] + [at(4, obj="x"), at(4, obj="y")])
    feed.add_many(activities)
    pivot = activities[4].id
    assert ids(feed.filter(activity_id__lt=pivot)[:]) == [i for i in ids(activities) if i < pivot]
    assert ids(feed.filter(activity_id__lte=pivot)[:]) == [i for i in ids(activities) if i <= pivot]
    assert ids(feed.filter(activity_id__gt=pivot)[:]) == [i for i in ids(activities) if i > pivot]
    assert ids(feed.filter(activity_id__gte=pivot)[:2]) == [i for i in ids(activities) if i >= pivot][:2]
    low, high = activities[7].id, activities[1].id
    between = feed.filter(activity_id__gt=low).filter(activity_id__lt=high)
    assert ids(between[:]) == [i for i in ids(activities) if low < i < high]
    assert (
        ids(between.order_by("activity_id")[1:3]) == sorted(i for i in ids(activities) if low < i < high)[1:3]
    )
    with pytest.raises(ValueError, match="unknown filter 'time__lt'"):
        feed.filter(time__lt=pivot)
    with pytest.raises(ValueError, match="cannot order by"):
        feed.order_by("time")


def test_cursor_paging_has_no_gaps_or_repeats_while_activities_arrive(backend, user):
    feed = Feed(user, backend=backend)
    feed.max_length = 1000
    original = [at(m) for m in range(0, 50)]
    feed.add_many(original)
    seen: list[str] = []
    page = feed[:7]
    minute = 100
    while page:
        seen += ids(page)
        feed.add_many([at(minute), at(minute + 0.5, obj="z")])  # newer ones arrive meanwhile
        minute += 1
        page = feed.filter(activity_id__lt=page[-1].id)[:7]
    assert seen == ids(newest_first(original))


def test_trimming_keeps_the_newest(backend, user):
    feed = SmallFeed(user, backend=backend)
    activities = [at(m) for m in range(8)]
    feed.add_many(activities[:4])
    feed.add_many(activities[4:])
    assert feed.count() == 5
    assert ids(feed[:]) == ids(newest_first(activities)[:5])
    feed.add(at(-10))  # older than everything kept: trimmed at once
    assert ids(feed[:]) == ids(newest_first(activities)[:5])
    feed.trim(2)
    assert ids(feed[:]) == ids(newest_first(activities)[:2])


class NoSlackFeed(SmallFeed):
    trim_slack = 0


class OneSlackFeed(SmallFeed):
    trim_slack = 1


def test_a_takeout_refills_from_the_trim_slack(backend, user):
    feed = SmallFeed(user, backend=backend)
    activities = [at(m) for m in range(8)]
    feed.add_many(activities[:6])
    feed.add_many(activities[6:])
    assert ids(backend.timelines.spilled(feed.key)) == ids(activities[:3])  # cut, unread
    assert ids(feed[:]) == ids(newest_first(activities)[:5])
    feed.remove_many([activities[6].id, activities[4].id])
    assert ids(feed[:]) == ids(newest_first([activities[n] for n in (7, 5, 3, 2, 1)]))
    assert ids(backend.timelines.spilled(feed.key)) == [activities[0].id]
    feed.remove(activities[0])  # out of the spill too: never comes back
    feed.remove(activities[7])
    assert ids(feed[:]) == ids(newest_first([activities[n] for n in (5, 3, 2, 1)]))
    assert backend.timelines.spilled(feed.key) == []
    feed.add(at(20))
    assert feed.count() == 5


def test_the_trim_slack_keeps_at_most_its_size_and_hidden_flags(backend, user):
    one, none = OneSlackFeed(user, backend=backend), NoSlackFeed(user + "n", backend=backend)
    theirs = [at(m, actor="2") for m in range(3)]
    mine = [at(10 + m) for m in range(5)]
    for feed in (one, none):
        feed.add_many(theirs)
        feed.hide_actor("2")  # an unfollow of 2: its entries keep their places, hidden
        feed.add_many(mine)  # all three of 2's cut; the newest waits in the slack, still hidden
    assert ids(backend.timelines.spilled(one.key)) == [theirs[2].id]
    assert backend.timelines.spilled(none.key) == []
    for feed in (one, none):
        feed.remove(mine[4])
    assert ids(one[:]) == ids(newest_first(mine[:4]))  # refilled with 2's hidden entry
    assert backend.timelines.hidden_ids(one.key) == [theirs[2].id]
    assert ids(none[:]) == ids(newest_first(mine[:4]))
    assert (one.count(), none.count()) == (4, 4)
    one.add(at(30))
    none.add(at(30))
    assert ids(one[:]) == ids(none[:])  # the hidden refill held a place: 30 pushed it out


def test_a_spilled_entry_added_again_leaves_the_slack(backend, user):
    feed = SmallFeed(user, backend=backend)
    activities = [at(m) for m in range(7)]
    feed.add_many(activities)
    back = activities[1]
    feed.trim(4)  # 6 5 4 3 shown; 2 1 0 aside
    feed.add(back)  # older than what the feed keeps, with room: held again
    assert ids(feed[:]) == ids(newest_first([*activities[3:], back]))
    assert ids(backend.timelines.spilled(feed.key)) == ids([activities[0], activities[2]])
    feed.remove(activities[6])
    assert ids(feed[:]) == ids(newest_first(activities[1:6]))


def test_an_entry_refilled_from_the_slack_shows_its_current_state(backend, user):
    """Updates and removals while an entry waits aside reach it when it comes back (Cassandra
    copies rows aside: the refill reads the current state)."""
    feed = SmallFeed(user, backend=backend)
    activities = [at(m) for m in range(7)]
    feed.add_many(activities)  # 6..2 in place; 1 and 0 aside
    later = activities[6].sort_key + 1  # versions above every add's
    edited = ActivityState(activities[1].with_extra_context({"title": "new"}), later, activities[1].sort_key)
    gone = ActivityState(activities[0], later, activities[0].sort_key, removed=True)
    backend.activities.apply([edited, gone])
    Feed.refresh_in_many_users([user], [edited, gone], backend=backend)
    feed.remove_many([activities[6].id, activities[5].id])
    page = feed[:]
    assert ids(page) == ids(newest_first(activities[1:5]))  # 0 is back, removed: holds its place
    assert page[-1].extra_context == {"title": "new"}
    assert feed.count() == 4


def test_remove(backend, user):
    feed = Feed(user, backend=backend)
    a, b, c = at(1), at(2), at(3)
    feed.add_many([a, b, c])
    feed.remove(b)
    assert ids(feed[:]) == ids([c, a])
    feed.remove_many([a.id, at(99).id])
    assert ids(feed[:]) == [c.id]
    feed.delete()
    assert feed.count() == 0 and feed[:] == []


def test_fanout_to_many_users_and_activity_fields_survive(backend, user):
    users = [f"{user}-{n}" for n in range(30)]
    rich = at(
        1,
        actor="user:1",
        obj="pin:2",
        target="board:3",
        extra_context={"t": "x", "l": [1, 2.5, None]},
        foreign_id="f-1",
        to=["notification:u7"],
    )
    states = direct_states([rich, at(2)])
    backend.activities.apply(states)
    Feed.add_to_many_users(users, states, backend=backend)
    for u in users:
        page = Feed(u, backend=backend)[:]
        assert ids(page) == ids([at(2), rich])
    got = Feed(users[3], backend=backend)[1]
    assert (got.actor_id, got.verb.infinitive, got.object_id, got.target_id) == (
        "user:1",
        "love",
        "pin:2",
        "board:3",
    )
    assert got.extra_context == {"t": "x", "l": [1, 2.5, None]}
    assert (got.foreign_id, got.to, got.time) == ("f-1", ("notification:u7",), rich.time)
    Feed.remove_from_many_users(users[:10], [rich.id], backend=backend)
    assert ids(Feed(users[0], backend=backend)[:]) == [at(2).id]
    assert ids(Feed(users[10], backend=backend)[:]) == ids([at(2), rich])


def test_custom_activity_class_is_returned(backend, user):
    class Pin(Activity):
        @property
        def title(self):
            return self.extra_context.get("title")

    class PinFeed(Feed):
        key_format = "pins:{user_id}"
        activity_class = Pin

    feed = PinFeed(user, backend=backend)
    feed.add(at(1, extra_context={"title": "lagoon"}))
    assert type(feed[0]) is Pin and feed[0].title == "lagoon"


def test_flat_writes_are_idempotent(backend, user):
    once, twice = SmallFeed(f"{user}a", backend=backend), SmallFeed(f"{user}b", backend=backend)
    batch1, batch2 = [at(m) for m in range(4)], [at(m) for m in range(3, 9)]
    for feed, times in ((once, 1), (twice, 2)):
        for _ in range(times):
            feed.add_many(batch1)
        for _ in range(times):
            feed.add_many(batch2)
        for _ in range(times):
            feed.remove(batch2[-1])
    assert ids(once[:]) == ids(twice[:]) == ids(newest_first(batch2[:-1])[:5])
    assert once.count() == twice.count() == 5  # trimmed to 5, one removed, refilled from the slack


# -- aggregated feeds --------------------------------------------------------------


def group_summary(groups: list[AggregatedActivity]):
    return [(g.group, ids(g.activities), g.minimized_activities, g.created_at, g.updated_at) for g in groups]


class TwoGroupFeed(AggregatedFeed):
    key_format = "two:{user_id}"
    max_length = 2
    trim_slack = 1


def members(feed: AggregatedFeed) -> list[list[str]]:
    return [ids(g.activities) for g in feed[:]]


def test_a_group_pushed_out_waits_aside_and_a_late_member_brings_it_back(backend, user):
    """Groups are a day's activities of one verb; the love group, pushed out, waits aside: a
    later love joins it (both shown) instead of starting it again."""
    feed = TwoGroupFeed(user, backend=backend)
    love, comment, pin = at(0), at(60, verb="comment"), at(120, verb="add")
    feed.add_many([love, comment, pin])
    assert members(feed) == [[pin.id], [comment.id]]
    later = at(180, obj="10")
    feed.add(later)
    assert members(feed) == [[love.id, later.id], [pin.id]]
    assert feed.count() == 2


def test_the_group_slack_keeps_the_newest_pushed_out(backend, user):
    feed = TwoGroupFeed(user, backend=backend)
    love, comment, pin, follow = at(0), at(60, verb="comment"), at(120, verb="add"), at(180, verb="follow")
    feed.add_many([love, comment, pin, follow])  # love, then comment pushed out; one waits
    later_comment, later_love = at(240, verb="comment", obj="10"), at(250, obj="10")
    feed.add(later_comment)  # comment waited aside: comes back whole, pushing the pin aside
    assert members(feed) == [[comment.id, later_comment.id], [follow.id]]
    feed.add(later_love)  # love fell past the slack: starts again
    assert members(feed) == [[later_love.id], [comment.id, later_comment.id]]


def test_a_takeout_lets_the_newest_group_aside_back_in(backend, user):
    feed = TwoGroupFeed(user, backend=backend)
    love, comment, pin = at(0), at(60, verb="comment"), at(120, actor="2", verb="add")
    feed.add_many([love, comment, pin])
    assert members(feed) == [[pin.id], [comment.id]]
    feed.hide_actor("2", before=pin.sort_key)  # an unfollow older than the pin: taken out
    assert members(feed) == [[comment.id], [love.id]]
    assert feed.count() == 2


def test_aggregated_merge_rules(backend, user):
    feed = AggregatedFeed(user, backend=backend)
    day1 = [at(m, actor=str(m)) for m in range(3)]
    day2 = [at(24 * 60 + m, actor=str(m)) for m in range(2)]
    comment = at(5, verb="comment")
    feed.add_many([*day1, comment])
    feed.add_many(day2)
    groups = feed[:]
    assert [g.group for g in groups] == ["4-2026-03-02", "2-2026-03-01", "4-2026-03-01"]
    assert ids(groups[2].activities) == ids(day1)
    assert groups[2].actor_ids == ["2", "1", "0"]
    assert feed.count() == 3
    assert [g.group for g in feed[1:2]] == ["2-2026-03-01"]
    feed.add(at(24 * 60 + 9, actor="7"))  # joins the existing day-2 group
    assert feed[0].activity_count == 3 and feed[0].actor_ids[0] == "7"
    feed.remove(comment)
    assert [g.group for g in feed[:]] == ["4-2026-03-02", "4-2026-03-01"]
    feed.remove_many(day1)
    assert [g.group for g in feed[:]] == ["4-2026-03-02"]


def test_aggregated_cap_and_max_length(backend, user):
    class Small(AggregatedActivity):
        max_aggregated_activities_length = 3

    class SmallAggregated(AggregatedFeed):
        key_format = "small_agg:{user_id}"
        max_length = 2
        aggregated_activity_class = Small

    feed = SmallAggregated(user, backend=backend)
    feed.add_many([at(m, actor=str(m)) for m in range(5)])
    (group,) = feed[:]
    assert isinstance(group, Small)
    assert [a.actor_id for a in group.activities] == ["2", "3", "4"]
    assert group.minimized_activities == 2 and group.activity_count == 5 and group.other_actor_count == 3
    feed.add_many([at(60 * 24 * d, verb="comment") for d in (1, 2, 3)])
    assert [g.group for g in feed[:]] == ["2-2026-03-04", "2-2026-03-03"]


def test_aggregated_writes_are_idempotent(backend, user):
    results = []
    for suffix, times in (("once", 1), ("twice", 2)):
        feed = AggregatedFeed(f"{user}{suffix}", backend=backend)
        for batch in ([at(m, actor=str(m)) for m in range(20)], [at(100), at(60 * 24)]):
            for _ in range(times):
                feed.add_many(batch)
        for _ in range(times):
            feed.remove(at(100))
        results.append(group_summary(feed[:]))
    assert results[0] == results[1]
    assert results[0][1][2] == 5  # 20 live of 21 (one removed), 15 kept in full: replays added nothing


def test_aggregated_filters_and_order(backend, user):
    feed = AggregatedFeed(user, backend=backend)
    feed.add_many([at(24 * 60 * d) for d in range(4)])
    groups = feed[:]
    pivot = groups[1].last_activity.id
    assert [g.group for g in feed.filter(activity_id__lt=pivot)[:]] == [g.group for g in groups[2:]]
    assert [g.group for g in feed.order_by("activity_id")[:2]] == [g.group for g in groups[::-1][:2]]


# -- notification feeds ------------------------------------------------------------


def test_notification_counts_and_marking(backend, user):
    feed = NotificationFeed(user, backend=backend)
    published = []
    if hasattr(backend.publisher, "subscribe"):
        backend.publisher.subscribe(published.append)
    feed.add_many([at(1, actor="a", obj="p1"), at(2, actor="b", obj="p1"), at(3, actor="c", obj="p2")])
    assert feed.count() == 2
    assert (feed.count_unseen(), feed.count_unread()) == (2, 2)
    first, second = feed[:]
    assert first.group == f"4-p2-{T0.date()}" and second.actor_ids == ["b", "a"]
    feed.mark_activities([second], seen=True, when=T0 + timedelta(hours=1))
    assert (feed.count_unseen(), feed.count_unread()) == (1, 2)
    feed.mark_all(seen=True, read=True, when=T0 + timedelta(hours=1))
    assert (feed.count_unseen(), feed.count_unread()) == (0, 0)
    assert all(g.is_seen() and g.is_read() for g in feed[:])
    feed.add(at(90, actor="d", obj="p1"))  # new activity makes its group unseen again
    assert (feed.count_unseen(), feed.count_unread()) == (1, 1)
    feed.remove(at(90, actor="d", obj="p1"))
    assert (feed.count_unseen(), feed.count_unread()) == (0, 0)
    if hasattr(backend.publisher, "subscribe"):
        assert [m["unseen"] for m in published] == [2, 1, 0, 1, 0]
        assert published[0] == {
            "user_id": user,
            "feed": f"notification:{{{user}}}",
            "unseen": 2,
            "unread": 2,
        }


def test_notification_writes_are_idempotent(backend, user):
    results = []
    when = T0 + timedelta(hours=2)
    for suffix, times in (("once", 1), ("twice", 2)):
        feed = NotificationFeed(f"{user}{suffix}", backend=backend)
        for _ in range(times):
            feed.add_many([at(1, actor="a"), at(2, actor="b", obj="q")])
        for _ in range(times):
            feed.mark_all(when=when)
        for _ in range(times):
            feed.add(at(200, actor="c"))
        results.append((group_summary(feed[:]), feed.count_unseen(), feed.count_unread()))
    assert results[0] == results[1]
    assert results[0][1:] == (1, 2)


# -- bad input -----------------------------------------------------------------------


def test_bad_user_ids_and_key_formats(backend):
    for bad in ("", "a b", "x{y}", "é", "a\nb", True):
        with pytest.raises(FeedKeyError, match="user id"):
            Feed(bad, backend=backend)

    class NoUser(Feed):
        key_format = "feed:all"

    class Twice(Feed):
        key_format = "{user_id}:{user_id}"

    for feed_class in (NoUser, Twice):
        with pytest.raises(FeedKeyError, match="exactly once"):
            feed_class("1", backend=backend)


def corrupt_activity(backend, feed: Feed, activity: Activity) -> None:
    garbage = b"\xc3\x01 this is not an activity"
    if backend.name == "memory":
        backend.activities.data[activity.id] = (2**62, garbage)
    elif backend.name == "redis":  # a valid live header, then garbage
        backend.client.set(backend.activities.key(activity.id), b"%016xL" % 2**62 + garbage)
    else:
        backend.session.execute(
            f"UPDATE {backend.keyspace}.timeline SET activity = %s WHERE feed_id = %s AND activity_id = %s",
            (garbage, feed.key, activity.id),
        )


def test_corrupt_stored_bytes_fail_that_feed_only(backend, user):
    broken, healthy = Feed(f"{user}x", backend=backend), Feed(f"{user}y", backend=backend)
    bad = at(1, actor="bad")
    broken.add_many([bad, at(2)])
    healthy.add_many([at(2), at(3)])
    corrupt_activity(backend, broken, bad)
    with pytest.raises(CorruptStoredData, match="cannot be read") as error:
        broken[:]
    assert bad.id in str(error.value)
    assert ids(healthy[:]) == ids([at(3), at(2)])


# -- follow graph ------------------------------------------------------------------


def test_follow_graph(backend, user):
    a, b, c = f"{user}a", f"{user}b", f"{user}c"
    follows = backend.follows
    follows.follow(a, c)
    follows.follow(b, c)
    follows.follow(b, c)  # twice is once
    follows.follow(a, b)
    assert follows.followers(c) == [a, b]
    assert follows.following(a) == [b, c]
    follows.unfollow(a, c)
    follows.unfollow(a, c)
    assert follows.followers(c) == [b]
    assert follows.following(a) == [b]
    assert follows.followers(a) == [] and follows.following(c) == []


def test_the_graph_lists_in_id_order_pages_and_counts(backend, user):
    """What an app shows: followers and following in user id order, paged by the last id of a
    page (each once, none skipped, also when one of a page leaves meanwhile), and exact counts."""
    follows = backend.follows
    star, fan = f"{user}star", f"{user}fan"
    everyone = sorted(f"{user}f{n:03d}" for n in range(150))
    for follower in reversed(everyone):
        follows.follow(follower, star)
        follows.follow(fan, follower)
    pages, after = [], None
    while page := follows.followers_after(star, after, 40):
        pages.append(page)
        after = page[-1]
        if len(pages) == 1:
            follows.unfollow(page[-1], star)  # the cursor's own user leaves: the next page holds
        assert len(pages) < 10, "paging does not end"
    assert [len(page) for page in pages] == [40, 40, 40, 30]
    assert [u for page in pages for u in page] == everyone
    assert follows.following_after(fan, None, 3) == everyone[:3]
    assert follows.following_after(fan, everyone[146], 10) == everyone[147:]
    assert follows.following_after(fan, everyone[-1], 10) == []
    assert follows.followers_after(f"{user}nobody", None, 10) == []
    assert follows.graph_counts([star, fan, f"{user}nobody", everyone[0]]) == [
        (149, 0),
        (0, 150),
        (0, 0),
        (1, 1),
    ]


def test_followers_come_in_pages_that_cover_them_all(backend, user):
    """The fanout's paging: 700 followers (past Redis's packed-hash size) in pages of about 100."""
    follows = backend.follows
    star = f"{user}star"
    everyone = sorted(f"{user}f{n:03d}" for n in range(700))
    for follower in everyone:
        follows.follow(follower, star)
    (first, cursor), nobody = follows.followers_pages_many([star, f"{user}nobody"], 100)
    assert nobody == ([], None)
    seen, pages = list(first), 1
    while cursor is not None:
        page, cursor = follows.followers_page(star, cursor, 100)
        seen += page
        pages += 1
        assert pages < 100, "paging does not end"
    assert sorted(set(seen)) == everyone
    assert pages > 1 and len(seen) < 2 * len(everyone)  # pages, few repeats if any
    assert follows.followers_pages_many([f"{user}f000"], 100) == [([], None)]


def test_update_reaches_every_holder_and_resurrects_nothing(backend, user):
    holder, remover = Feed(f"{user}h", backend=backend), Feed(f"{user}r", backend=backend)
    original = at(1, extra_context={"title": "old"})
    states = [ActivityState(original, 10, 10), ActivityState(at(2), 10, 10)]
    backend.activities.apply(states)
    Feed.add_to_many_users([f"{user}h", f"{user}r"], states, backend=backend)
    remover.remove(original)
    updated = ActivityState(original.with_extra_context({"title": "new"}), 20, 10)
    backend.activities.apply([updated])
    Feed.refresh_in_many_users([f"{user}h", f"{user}r"], [updated], backend=backend)
    assert holder[1].extra_context == {"title": "new"} and holder[1].id == original.id
    assert ids(remover[:]) == [at(2).id]
    aggregated = AggregatedFeed(user, backend=backend)
    aggregated.add_many([original, at(3, actor="2")])
    aggregated.update_many([updated.activity])
    assert [a.extra_context for a in aggregated[0].activities] == [{"title": "new"}, {}]


def test_activity_states_keep_the_newest_version_in_any_order(backend, user):
    activity = at(1, actor=user, extra_context={"n": 1})
    add = ActivityState(activity, 10, 10)
    update = ActivityState(activity.with_extra_context({"n": 2}), 20, 10)
    remove = ActivityState(activity, 30, 10, removed=True)
    for order in ([add, update, remove], [remove, add, update], [update, remove, add]):
        other = at(1, actor=f"{user}{len(order)}{order.index(add)}")
        states = [ActivityState(other, s.version, s.added, s.removed) for s in order]
        for state in states:
            backend.activities.apply([state])
        backend.activities.apply(states)  # a replay changes nothing
        got = backend.activities.get_states([other.id])[other.id]
        assert (got.version, got.added, got.removed) == (30, 10, True)
    backend.activities.apply([add, update])
    assert backend.activities.get_states([activity.id])[activity.id].activity.extra_context == {"n": 2}
    assert backend.activities.get_many([activity.id]) == {activity.id: update.activity}
    feed = Feed(user, backend=backend)
    Feed.add_to_many_users([user], [add], backend=backend)
    assert feed.count() == 1
    backend.activities.apply([remove])
    Feed.refresh_in_many_users([user], [remove], backend=backend)  # denormalized rows need it
    assert feed.count() == 0 and feed[:] == []  # the entry stays, hidden: it keeps its place
    assert [s.id for s in backend.timelines.entries(feed.key)] == [activity.id]


def test_follow_versions(backend, user):
    star = f"{user}star"
    for version, fan in enumerate(("x", "y"), start=5):
        backend.follows.follow(f"{user}{fan}", star, version)
    assert backend.follows.follow_versions([f"{user}x", f"{user}y", f"{user}z"], star) == {
        f"{user}x": 5,
        f"{user}y": 6,
    }
    backend.follows.unfollow(f"{user}x", star)
    assert backend.follows.following_among([f"{user}x", f"{user}y"], star) == {f"{user}y"}
    assert backend.follows.unfollows([f"{user}x", f"{user}y"], star) == {f"{user}x": Unfollowed(5, 5)}
    other = f"{user}other"
    backend.follows.follow(f"{user}x", other, 9)
    fans = [f"{user}x", f"{user}y"]
    assert backend.follows.follow_versions_many([(fans, star), ([], star), (fans, other)]) == [
        {f"{user}y": 6},
        {},
        {f"{user}x": 9},
    ]
    assert backend.follows.unfollows_many([(fans, star), (fans, other)]) == [
        {f"{user}x": Unfollowed(5, 5)},
        {},
    ]


def test_the_newest_follow_event_of_a_pair_wins_under_redelivery(backend, user):
    """Follow 10, unfollow 20, follow 30, unfollow 40, in their partition's order, with
    uncommitted suffixes delivered again: the pair ends unfollowed at 40, ending the follow of 30."""
    star, fan = f"{user}star", f"{user}fan"
    events = [(True, 10), (False, 20), (True, 30), (False, 40)]
    for number, order in enumerate((events, events + events[1:], events[:3] + events[1:], events + events)):
        pair = f"{star}{number}"
        for follow, version in order:
            if follow:
                backend.follows.follow(fan, pair, version)
            else:
                backend.follows.unfollow(fan, pair, version)
        assert backend.follows.state(fan, pair) == Unfollowed(30, 40)
        assert backend.follows.followers(pair) == [] and pair not in backend.follows.following(fan)
        assert backend.follows.follow_versions([fan], pair) == {}
        assert backend.follows.former_followers(pair, 39) == [fan]
        assert backend.follows.former_followers(pair, 40) == []
    backend.follows.unfollow(fan, f"{star}never", 50)  # ends no follow: nothing to remember
    assert backend.follows.state(fan, f"{star}never") is None
    backend.follows.follow(fan, f"{star}0", 35)  # older than the stored unfollow: changes nothing
    assert backend.follows.state(fan, f"{star}0") == Unfollowed(30, 40)
    backend.follows.follow(fan, f"{star}0", 45)
    assert backend.follows.follow_versions([fan], f"{star}0") == {fan: 45}
    assert backend.follows.unfollows([fan], f"{star}0") == {}


def test_hidden_entries_keep_their_places_and_are_not_shown(backend, user):
    feed_key = Feed.key_for(user)
    states = [
        direct_states([Activity(user, "love", f"p{n}", time=T0 + timedelta(seconds=n))])[0] for n in range(5)
    ]
    backend.activities.apply(states)
    backend.timelines.add_batches([([feed_key], states[:3])], 4)
    backend.timelines.hide(feed_key, [states[1].id, states[2].id, "0-not-held"])
    assert backend.timelines.hidden_ids(feed_key) == sorted([states[1].id, states[2].id])
    assert backend.timelines.count(feed_key) == 1
    assert [a.id for a in backend.timelines.get_page(feed_key, PageRequest())] == [states[0].id]
    backend.timelines.add_batches([([feed_key], states[3:])], 4, hidden=True)  # trims states[0]
    assert [s.id for s in backend.timelines.entries(feed_key)] == [s.id for s in states[1:]]
    assert (
        backend.timelines.count(feed_key) == 0 and backend.timelines.get_page(feed_key, PageRequest()) == []
    )
    backend.timelines.add_batches([([feed_key], states[2:4])], 4)  # shown again (a new follow's copy)
    page = backend.timelines.get_page(feed_key, PageRequest(bounds=Bounds(lt=states[4].id)))
    assert [a.id for a in page] == [states[3].id, states[2].id]
    backend.timelines.trim(feed_key, 1)
    assert backend.timelines.hidden_ids(feed_key) == [states[4].id]
    backend.timelines.delete(feed_key)
    assert backend.timelines.hidden_ids(feed_key) == []


def test_dormant_groups_are_stored_and_ranked_but_not_shown(backend, user):
    key = f"aggregated:{{{user}}}"
    live = AggregatedActivity("live", [Activity(user, "love", "p1", time=T0)])
    dormant = AggregatedActivity("dormant", [Activity(user, "love", "p2", time=T0 + timedelta(seconds=1))])
    dormant.put(dormant.activities[0], 1, removed=True)
    assert not dormant.has_live
    backend.aggregated.write(key, AggregatedWrite([live, dormant]))
    assert backend.aggregated.count(key) == 1
    assert [g.group for g in backend.aggregated.get_page(key, 0, None)] == ["live"]
    assert [g.group for g in backend.aggregated.get_page(key, 0, 1)] == ["live"]
    assert backend.aggregated.get_page(key, 1, 1) == []
    assert [g.group for g in backend.aggregated.get_all(key)] == ["dormant", "live"]
    assert [name for _, name in backend.aggregated.get_ranks(key)] == ["dormant", "live"]
    revived = backend.aggregated.get_groups(key, ["dormant"])["dormant"]
    revived.put(Activity(user, "love", "p2", time=T0 + timedelta(seconds=1)), 2, removed=False)
    backend.aggregated.write(key, AggregatedWrite([revived], ["live"]))
    assert backend.aggregated.count(key) == 1
    assert [g.group for g in backend.aggregated.get_page(key, 0, None)] == ["dormant"]


def test_huge_slice_bounds_read_to_the_end_on_every_backend(backend, user):
    feed = Feed(user, backend=backend)
    feed.add_many([Activity(user, "love", f"p{n}", time=T0 + timedelta(seconds=n)) for n in range(3)])
    assert len(feed[0 : 10**30]) == 3 and feed[2 : 2**63] == feed[2:3]
    assert feed[10**30 :] == [] and feed[2**63 :] == []
    with pytest.raises(IndexError):
        feed[10**30]
    notifications = NotificationFeed(user, backend=backend)
    notifications.add(Activity(user, "love", "p", time=T0, to=()))
    assert len(notifications[0 : 10**30]) == 1 and notifications[2**63 :] == []


BAD_INDEXES = [
    (lambda f: f[True:3], TypeError, "slice bounds are ints or None, not bool"),
    (lambda f: f[1.5:3], TypeError, "slice bounds are ints or None, not float"),
    (lambda f: f[0:2.0], TypeError, "slice bounds are ints or None, not float"),
    (lambda f: f["a":], TypeError, "slice bounds are ints or None, not str"),
    (lambda f: f[True], TypeError, "feed indexes are ints or slices, not bool"),
    (lambda f: f["0"], TypeError, "feed indexes are ints or slices, not str"),
    (lambda f: f[::2], ValueError, "slice step 2 is not supported"),
    (lambda f: f[-1:], ValueError, "negative slice bounds are not supported"),
    (lambda f: f[0:-1], ValueError, "negative slice bounds are not supported"),
    (lambda f: f[-1], IndexError, "negative indexes are not supported"),
    (lambda f: f.filter(activity_id__gt=5), ValueError, "needs an activity id, got 5"),
    (lambda f: f.filter(size__gt="x"), ValueError, "unknown filter 'size__gt'"),
]


@pytest.mark.parametrize("read, error, message", BAD_INDEXES)
def test_bad_slices_and_filters_are_refused_alike_on_every_backend(backend, user, read, error, message):
    """Failed before issue 26: feed[True:3] was [] on memory and a raw DataError on Redis,
    feed[1.5:3] a TypeError on memory and [] on Redis."""
    flat = Feed(user, backend=backend)
    flat.add(Activity(user, "love", "p", time=T0))
    grouped = AggregatedFeed(user, backend=backend)
    for feed in (flat, grouped):
        with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
            read(feed)


def test_realtime_events_are_kept_for_clients_that_reconnect(backend, user):
    from streamfeed.storage.cassandra import NullCountsPublisher

    publisher = backend.publisher
    if isinstance(publisher, NullCountsPublisher):  # no realtime channel configured: nothing kept
        assert publisher.read(user, "0", 0) == []
        return
    for unseen in (1, 2, 3):
        publisher.publish(user, f"notification:{{{user}}}", unseen, unseen)
    kept = publisher.read(user, "0", 0.1)
    assert [data["unseen"] for _, data in kept] == [1, 2, 3]
    assert [data["unseen"] for _, data in publisher.read(user, kept[0][0], 0.1)] == [2, 3]
    assert publisher.read(user, kept[-1][0], 0.1) == []  # nothing newer: waited, then nothing
    assert publisher.read(f"{user}other", None, 0.1) == []


def test_deliveries_to_many_users_at_once_equal_one_user_at_a_time(backend, user):
    """A fanout's aggregated writes go out together (one pipelined round trip on Redis, side by
    side on Cassandra): each user's feed ends exactly as delivering to that user alone makes it,
    counts and the bodies of removed members included."""
    from streamfeed.domain.aggregation import Delivery

    def state(activity: Activity, removed: bool = False) -> ActivityState:
        version = int(activity.time.timestamp() * 1e6)
        return ActivityState(activity, version + (1 if removed else 0), version, removed)

    early = [at(n, actor=f"a{n}", obj=f"p{n % 2}") for n in range(6)]
    late = [at(30 + n, actor=f"b{n}", obj=f"p{n % 3}") for n in range(4)]
    gone = state(early[1], removed=True)
    rounds = [
        [Delivery(state(a), state(a).added) for a in early],
        [Delivery(gone, gone.added), *(Delivery(state(a), state(a).added) for a in late)],
    ]
    users = [f"{user}m{n}" for n in range(3)]
    backend.activities.apply([state(a) for a in early + late] + [gone])
    for deliveries in rounds:
        NotificationFeed.deliver_to_many(backend, [(u, deliveries[: 3 + n]) for n, u in enumerate(users)])
    for n, batched_user in enumerate(users):
        alone = NotificationFeed(f"{user}alone{n}", backend=backend)
        for deliveries in rounds:
            alone.deliver(deliveries[: 3 + n])
        batched = NotificationFeed(batched_user, backend=backend)
        assert group_summary(batched[:]) == group_summary(alone[:])
        assert (batched.count_unseen(), batched.count_unread()) == (
            alone.count_unseen(),
            alone.count_unread(),
        )
        assert batched.count() == alone.count() > 0


def test_new_entries_are_kept_only_for_users_listening(backend, user):
    from streamfeed.storage.base import NewEntries
    from streamfeed.storage.cassandra import NullCountsPublisher

    publisher = backend.publisher
    if isinstance(publisher, NullCountsPublisher):  # no realtime channel: nobody listens
        publisher.listen(user, 60)
        assert publisher.listening([user]) == set() and publisher.listeners() == []
        return
    assert publisher.listening([user, f"{user}b"]) == set()
    publisher.listen(user, 60)
    publisher.listen(f"{user}gone", 0.05)
    time.sleep(0.1)
    assert publisher.listening([user, f"{user}b", f"{user}gone"]) == {user}
    assert user in publisher.listeners() and f"{user}gone" not in publisher.listeners()
    for n in range(4):  # more listeners than users asked about: still exactly those listening
        publisher.listen(f"{user}x{n}", 60)
    assert publisher.listening([f"{user}x1", f"{user}b"]) == {f"{user}x1"}
    assert publisher.listening([f"{user}x0", user, f"{user}x3", f"{user}gone"]) == {
        f"{user}x0",
        user,
        f"{user}x3",
    }
    publisher.publish_entries([NewEntries(user, f"feed:{{{user}}}", "normal", ("1", "2"))])
    kept = publisher.read(user, "0", 0.1)
    assert [(data["type"], data["activity_ids"]) for _, data in kept] == [("entries", ["1", "2"])]


def test_failure_counts_grow_per_record_until_forgotten_on_every_backend(backend, user):
    """A poison record's failures are counted in storage, so a restarted worker sees them."""
    ledger = backend.failures
    record, other = f"app/topic:{user}:7", f"app/topic:{user}:8"
    assert [ledger.failed(record) for _ in range(3)] == [1, 2, 3]
    assert ledger.failed(other) == 1
    ledger.forget(record)
    assert ledger.failed(record) == 1
    assert ledger.failed(other) == 2


def test_a_storage_marker_is_claimed_once_on_every_backend(backend, user):
    """The identity workers check before committing (consumers.storage_guard): the first claim
    wins, a second returns it."""
    assert backend.marker.read() is None
    first = backend.marker.claim(f"first-{user}")
    assert backend.marker.claim(f"second-{user}") == first == f"first-{user}"
    assert backend.marker.read() == first


def test_the_rebuild_lease_is_held_by_one_holder_until_it_lapses_on_every_backend(backend, user):
    """Of the workers that find their storage lost, one rebuilds (ops.auto_rebuild): the lease is
    taken once, renewed only by its holder, and free again once it lapses."""
    marker = backend.marker
    identity = marker.read()  # what the keyspace holds (Cassandra's is shared by the tests)
    # Cassandra's TTLs count whole seconds: leases of 3 s keep the first part clear of a lapse.
    assert marker.lease(f"a-{user}", 3.0)
    assert not marker.lease(f"b-{user}", 3.0)
    assert marker.lease(f"a-{user}", 3.0)  # renewed
    assert marker.read() == identity  # the lease is not an identity: a lost storage stays lost
    deadline = time.monotonic() + 12
    while not marker.lease(f"b-{user}", 3.0):
        assert time.monotonic() < deadline, "the lease never lapsed"
        time.sleep(0.2)
    assert not marker.lease(f"a-{user}", 3.0)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "20", None])
def test_a_bad_trim_slack_is_refused_where_the_class_is_defined(bad):
    from streamfeed.domain.exceptions import ValidationError

    for base in (Feed, AggregatedFeed):
        with pytest.raises(ValidationError, match="trim_slack: must be an int of 0 or more"):
            type("Bad", (base,), {"trim_slack": bad})
