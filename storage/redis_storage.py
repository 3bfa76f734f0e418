"""Redis storage: timelines as sorted sets of ids, activities stored once, groups in hashes.

Layout (every key of a user's feeds carries the user's hash tag, from the feed
key, so they share a Redis Cluster slot):

- ``sf:<feed key>``: sorted set, member the activity id, score its sort key
  (time in microseconds, exact in a double). Equal scores order by member,
  and ids order by time then digest, so Redis orders a feed exactly as the
  other backends do.
- ``sf:activity:<id>``: the activity's stored bytes, written once however
  many feeds hold it; a page is hydrated with one MGET.
- ``sf:<feed key>:groups`` / ``:ranks`` / ``:order`` / ``:counts``: an
  aggregated feed's groups (bytes by group), each group's position member,
  the positions (a sorted set with equal scores ordered by
  ``<newest activity id>|<group>``), and unseen/unread counts.

Adding to a timeline and trimming it happen in one Lua script per feed, so a
reader never sees it over max_length; a fanout batch sends one script call
per feed in a single pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import redis

from pipeline.activity import Activity
from pipeline.aggregated_activity import AggregatedActivity
from pipeline.aggregation import AggregatedView, AggregatedWrite, group_rank
from pipeline.ids import sort_key_of
from storage.base import (
    ActivityStorage,
    AggregatedStorage,
    Backend,
    CountsPublisher,
    FollowStorage,
    PageRequest,
    TimelineStorage,
)
from storage.serialization import StoredForms

#: Feeds per script call of a fanout batch: bounds how long one call holds Redis.
MAX_KEYS_PER_CALL = 1_000

# One call for a whole fanout batch: every timeline in KEYS gets the same
# (score, member) pairs, then is trimmed. Atomic per call, so no reader sees a
# timeline over max_length, and far cheaper than a script call per feed.
ADD_AND_TRIM = """
local max_length = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, unpack(ARGV, 2))
  if max_length >= 0 and redis.call('ZCARD', key) > max_length then
    redis.call('ZREMRANGEBYRANK', key, 0, -(max_length + 1))
  end
end
return #KEYS
"""

TRIM = """
local max_length = tonumber(ARGV[1])
if redis.call('ZCARD', KEYS[1]) > max_length then
  return redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(max_length + 1))
end
return 0
"""

# A page of ids: between optional id bounds, in order, after offset, at most
# limit. Scores narrow the range; members sharing a boundary score are then
# checked against the ids. With an activity key prefix (ARGV[10]) the script
# also returns the activities' bytes, making a hydrated page one round trip;
# that reads keys it was not given, so it is used on a single Redis only.
PAGE = """
local key = KEYS[1]
local descending = ARGV[1] == '1'
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local low, low_inclusive, low_score = ARGV[4], ARGV[5] == '1', ARGV[6]
local high, high_inclusive, high_score = ARGV[7], ARGV[8] == '1', ARGV[9]
local activity_prefix = ARGV[10]
local out = {}
if low == '' and high == '' then
  local stop = -1
  if limit >= 0 then stop = offset + limit - 1 end
  if limit == 0 then
    out = {}
  elseif descending then
    out = redis.call('ZREVRANGE', key, offset, stop)
  else
    out = redis.call('ZRANGE', key, offset, stop)
  end
else
  local min_score, max_score, extra = '-inf', '+inf', 0
  if low ~= '' then
    min_score = low_score
    extra = extra + redis.call('ZCOUNT', key, low_score, low_score)
  end
  if high ~= '' then
    max_score = high_score
    extra = extra + redis.call('ZCOUNT', key, high_score, high_score)
  end
  local fetch = -1
  if limit >= 0 then fetch = offset + limit + extra end
  local ids
  if descending then
    ids = redis.call('ZREVRANGEBYSCORE', key, max_score, min_score, 'LIMIT', 0, fetch)
  else
    ids = redis.call('ZRANGEBYSCORE', key, min_score, max_score, 'LIMIT', 0, fetch)
  end
  local skipped = 0
  for _, id in ipairs(ids) do
    local ok = true
    if low ~= '' then
      if low_inclusive then ok = id >= low else ok = id > low end
    end
    if ok and high ~= '' then
      if high_inclusive then ok = id <= high else ok = id < high end
    end
    if ok then
      if skipped < offset then
        skipped = skipped + 1
      elseif limit < 0 or #out < limit then
        out[#out + 1] = id
      end
    end
  end
end
if activity_prefix == '' or #out == 0 then return {out, {}} end
local keys = {}
for index, id in ipairs(out) do keys[index] = activity_prefix .. id end
return {out, redis.call('MGET', unpack(keys))}
"""

# KEYS: groups, ranks, order, counts. ARGV: upsert count, then (group, rank member,
# bytes) per upsert, then groups to delete, and finally unseen and unread or ''.
AGGREGATED_WRITE = """
local groups, ranks, order, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local upserts = tonumber(ARGV[1])
local i = 2
for _ = 1, upserts do
  local group, member, data = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', ranks, group)
  if old and old ~= member then redis.call('ZREM', order, old) end
  redis.call('ZADD', order, 0, member)
  redis.call('HSET', ranks, group, member)
  redis.call('HSET', groups, group, data)
  i = i + 3
end
local last = #ARGV - 2
while i <= last do
  local group = ARGV[i]
  local old = redis.call('HGET', ranks, group)
  if old then redis.call('ZREM', order, old) end
  redis.call('HDEL', ranks, group)
  redis.call('HDEL', groups, group)
  i = i + 1
end
if ARGV[#ARGV - 1] ~= '' then
  redis.call('HSET', counts, 'unseen', ARGV[#ARGV - 1], 'unread', ARGV[#ARGV])
end
return 1
"""

# KEYS: order, groups. ARGV: offset, stop (inclusive, -1 for all). One round trip a page.
AGGREGATED_PAGE = """
local members = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
if #members == 0 then return {} end
local names = {}
for index, member in ipairs(members) do
  names[index] = string.sub(member, string.find(member, '|', 1, true) + 1)
end
return redis.call('HMGET', KEYS[2], unpack(names))
"""


# KEYS: order, groups, counts. ARGV: tail start (-1 for none), then group names.
# Returns every rank member, the named and tail groups' bytes, and the counts:
# everything an aggregated write needs, in one round trip.
AGGREGATED_VIEW = """
local members = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local names, seen = {}, {}
for i = 2, #ARGV do
  if not seen[ARGV[i]] then names[#names + 1] = ARGV[i]; seen[ARGV[i]] = true end
end
local tail = tonumber(ARGV[1])
if tail >= 0 then
  for index = tail + 1, #members do
    local member = members[index]
    local name = string.sub(member, string.find(member, '|', 1, true) + 1)
    if not seen[name] then names[#names + 1] = name; seen[name] = true end
  end
end
local values = {}
if #names > 0 then values = redis.call('HMGET', KEYS[2], unpack(names)) end
return {members, names, values, redis.call('HMGET', KEYS[3], 'unseen', 'unread')}
"""


class RedisActivityStorage(ActivityStorage):
    def __init__(self, client: redis.Redis, forms: StoredForms, prefix: str) -> None:
        self.client = client
        self.forms = forms
        self.prefix = prefix

    def key(self, activity_id: str) -> str:
        return f"{self.prefix}activity:{activity_id}"

    def add_many(self, activities: Sequence[Activity]) -> None:
        if activities:
            self.client.mset({self.key(a.id): self.forms.activity_bytes(a) for a in activities})

    def get_many(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, Activity]:
        if not activity_ids:
            return {}
        values = self.client.mget([self.key(i) for i in activity_ids])
        return {
            i: self.forms.activity(raw, activity_class, f"redis key {self.key(i)}")
            for i, raw in zip(activity_ids, values, strict=True)
            if raw is not None
        }

    def remove_many(self, activity_ids: Sequence[str]) -> None:
        if activity_ids:
            self.client.delete(*[self.key(i) for i in activity_ids])

    def removed_key(self, activity_id: str) -> str:
        return f"{self.prefix}removed:{activity_id}"

    def set_removed(self, activity_ids: Sequence[str], removed: bool) -> None:
        if not activity_ids:
            return
        keys = [self.removed_key(i) for i in activity_ids]
        if removed:
            self.client.mset(dict.fromkeys(keys, b"1"))
        else:
            self.client.delete(*keys)

    def removed_among(self, activity_ids: Sequence[str]) -> set[str]:
        if not activity_ids:
            return set()
        values = self.client.mget([self.removed_key(i) for i in activity_ids])
        return {i for i, v in zip(activity_ids, values, strict=True) if v is not None}


class RedisTimelineStorage(TimelineStorage):
    def __init__(
        self, client: redis.Redis, activities: RedisActivityStorage, prefix: str, scripts: _Scripts
    ) -> None:
        self.client = client
        self.activities = activities
        self.prefix = prefix
        self.scripts = scripts
        #: One Redis, not a cluster: a page may read activity keys in the same script.
        self.single_node = not isinstance(client, redis.RedisCluster)

    def key(self, feed_key: str) -> str:
        return self.prefix + feed_key

    def _key_groups(self, keys: list[str]) -> list[list[str]]:
        """Keys that one script call may touch: all on one Redis, one slot in a cluster."""
        if self.single_node:
            return [keys[i : i + MAX_KEYS_PER_CALL] for i in range(0, len(keys), MAX_KEYS_PER_CALL)]
        by_slot: dict[int, list[str]] = {}
        for key in keys:
            by_slot.setdefault(self.client.keyslot(key), []).append(key)
        return list(by_slot.values())

    def add_batches(
        self, batches: Sequence[tuple[Sequence[str], Sequence[Activity]]], max_length: int | None
    ) -> None:
        """All batches in one pipeline: one MSET of the activities, one script call per key group."""
        batches = [(keys, activities) for keys, activities in batches if keys and activities]
        if not batches:
            return
        stored = {
            self.activities.key(a.id): self.activities.forms.activity_bytes(a)
            for _, activities in batches
            for a in activities
        }
        calls = []
        for keys, activities in batches:
            args: list = [-1 if max_length is None else max_length]
            for activity in activities:
                args += (activity.sort_key, activity.id)
            for group in self._key_groups([self.prefix + key for key in keys]):
                calls.append((group, args))

        def batch(pipe: redis.client.Pipeline) -> None:
            pipe.mset(stored)
            for group, args in calls:
                self.scripts.call(pipe, ADD_AND_TRIM, group, args)

        self.scripts.run_pipeline(batch)

    def remove_from_many(self, keys: Sequence[str], activity_ids: Sequence[str]) -> None:
        if not activity_ids or not keys:
            return
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(self.key(key), *activity_ids)
        pipe.execute()

    def _page(self, key: str, page: PageRequest, hydrate: bool) -> tuple[list[bytes], list]:
        args = [
            "0" if page.ascending else "1",
            page.offset,
            -1 if page.limit is None else page.limit,
        ]
        for bound in (page.bounds.lower, page.bounds.upper):
            if bound is None:
                args += ["", "0", "0"]
            else:
                args += [bound[0], "1" if bound[1] else "0", _score_of(bound[0])]
        args.append(self.activities.key("") if hydrate else "")
        ids, values = self.scripts.call(self.client, PAGE, [self.key(key)], args)
        return ids, values

    def get_ids(self, key: str, page: PageRequest) -> list[str]:
        return [i.decode() for i in self._page(key, page, hydrate=False)[0]]

    def get_page(
        self, key: str, page: PageRequest, activity_class: type[Activity] = Activity
    ) -> list[Activity]:
        if not self.single_node:
            ids = self.get_ids(key, page)
            found = self.activities.get_many(ids, activity_class)
            return [found[i] for i in ids if i in found]
        raw_ids, values = self._page(key, page, hydrate=True)
        forms = self.activities.forms
        return [
            forms.activity(raw, activity_class, f"redis key {self.activities.key(i.decode())}")
            for i, raw in zip(raw_ids, values, strict=True)
            if raw is not None
        ]

    def count(self, key: str) -> int:
        return self.client.zcard(self.key(key))

    def delete(self, key: str) -> None:
        self.client.delete(self.key(key))

    def trim(self, key: str, max_length: int) -> None:
        self.scripts.call(self.client, TRIM, [self.key(key)], [max_length])


class _Scripts:
    """Lua scripts by source, loaded once and called by SHA.

    redis-py's Script objects check for and load their scripts on every
    pipeline execute: an extra round trip per batch on the hot path. Here a
    script is loaded up front and reloaded only when Redis says it lost it
    (a restart or SCRIPT FLUSH), then the whole call is retried once.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.shas: dict[str, str] = {}

    def sha(self, source: str) -> str:
        sha = self.shas.get(source)
        if sha is None:
            sha = self.shas[source] = self.client.script_load(source)
        return sha

    def call(self, client: Any, source: str, keys: Sequence[str], args: Sequence) -> Any:
        try:
            return client.evalsha(self.sha(source), len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self.shas.clear()
            return self.client.evalsha(self.sha(source), len(keys), *keys, *args)

    def run_pipeline(self, fill: Callable[[redis.client.Pipeline], None]) -> list:
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            fill(pipe)
            try:
                return pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                self.shas.clear()
        raise AssertionError("unreachable")


def _split_member(member: bytes) -> tuple[str, str]:
    rank, _, group = member.decode().partition("|")
    return rank, group


def _score_of(activity_id: str) -> str:
    """The score a bound id would have; a malformed id still bounds sensibly."""
    try:
        return str(sort_key_of(activity_id))
    except ValueError:
        return "-inf" if activity_id < "0" else "+inf"


class RedisAggregatedStorage(AggregatedStorage):
    def __init__(self, client: redis.Redis, forms: StoredForms, prefix: str, scripts: _Scripts) -> None:
        self.client = client
        self.forms = forms
        self.prefix = prefix
        self.scripts = scripts

    def keys(self, key: str) -> list[str]:
        base = self.prefix + key
        return [f"{base}:groups", f"{base}:ranks", f"{base}:order", f"{base}:counts"]

    def get_all(self, key, activity_class=Activity, aggregated_class=AggregatedActivity):
        return self.get_page(key, 0, None, activity_class, aggregated_class)

    def get_page(self, key, offset, limit, activity_class=Activity, aggregated_class=AggregatedActivity):
        groups, _, order, _ = self.keys(key)
        stop = -1 if limit is None else offset + limit - 1
        if limit == 0:
            return []
        values = self.scripts.call(self.client, AGGREGATED_PAGE, [order, groups], [offset, stop])
        return [
            self.forms.aggregated(raw, activity_class, aggregated_class, f"redis key {groups}")
            for raw in values
            if raw is not None
        ]

    def get_ranks(self, key: str) -> list[tuple[str, str]]:
        return [_split_member(m) for m in self.client.zrevrange(self.keys(key)[2], 0, -1)]

    def get_groups(self, key, names, activity_class=Activity, aggregated_class=AggregatedActivity):
        return self.load_view(key, names, None, activity_class, aggregated_class).groups

    def load_view(self, key, names, tail_start, activity_class=Activity, aggregated_class=AggregatedActivity):
        groups_key, _, order, counts_key = self.keys(key)
        args = [-1 if tail_start is None else tail_start, *names]
        members, found, values, counts = self.scripts.call(
            self.client, AGGREGATED_VIEW, [order, groups_key, counts_key], args
        )
        groups = {
            name.decode(): self.forms.aggregated(
                raw, activity_class, aggregated_class, f"redis key {groups_key}"
            )
            for name, raw in zip(found, values, strict=True)
            if raw is not None
        }
        unseen, unread = counts
        return AggregatedView(
            groups, [_split_member(m) for m in members], (int(unseen or 0), int(unread or 0))
        )

    def write(self, key: str, change: AggregatedWrite) -> None:
        args: list = [len(change.upserts)]
        for group in change.upserts:
            args += [
                group.group,
                f"{group_rank(group)}|{group.group}",
                self.forms.aggregated_bytes(group),
            ]
        args += list(change.deletes)
        args += ["", ""] if change.counts is None else list(change.counts)
        self.scripts.call(self.client, AGGREGATED_WRITE, self.keys(key), args)

    def count(self, key: str) -> int:
        return self.client.zcard(self.keys(key)[2])

    def counts(self, key: str) -> tuple[int, int]:
        unseen, unread = self.client.hmget(self.keys(key)[3], "unseen", "unread")
        return int(unseen or 0), int(unread or 0)

    def delete(self, key: str) -> None:
        self.client.delete(*self.keys(key))


class RedisFollowStorage(FollowStorage):
    """Two sets per user, ``sf:followers:{user}`` and ``sf:following:{user}``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _keys(self, follower: str, followed: str) -> tuple[str, str]:
        return (f"{self.prefix}followers:{{{followed}}}", f"{self.prefix}following:{{{follower}}}")

    def follow(self, follower: str, followed: str) -> None:
        followers, following = self._keys(follower, followed)
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(followers, follower)
        pipe.sadd(following, followed)
        pipe.execute()

    def unfollow(self, follower: str, followed: str) -> None:
        followers, following = self._keys(follower, followed)
        pipe = self.client.pipeline(transaction=False)
        pipe.srem(followers, follower)
        pipe.srem(following, followed)
        pipe.execute()

    def followers(self, user_id: str) -> list[str]:
        return sorted(m.decode() for m in self.client.smembers(f"{self.prefix}followers:{{{user_id}}}"))

    def following(self, user_id: str) -> list[str]:
        return sorted(m.decode() for m in self.client.smembers(f"{self.prefix}following:{{{user_id}}}"))

    def following_among(self, followers: Sequence[str], followed: str) -> set[str]:
        if not followers:
            return set()
        flags = self.client.smismember(f"{self.prefix}followers:{{{followed}}}", list(followers))
        return {f for f, flag in zip(followers, flags, strict=True) if flag}


class RedisCountsPublisher(CountsPublisher):
    """PUBLISH on ``<prefix>notifications:<user id>`` a JSON object:
    ``{"user_id": ..., "feed": <feed key>, "unseen": n, "unread": n}``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def channel(self, user_id: str) -> str:
        return f"{self.prefix}notifications:{user_id}"

    def publish(self, user_id: str, feed_key: str, unseen: int, unread: int) -> None:
        message = {"user_id": user_id, "feed": feed_key, "unseen": unseen, "unread": unread}
        self.client.publish(self.channel(user_id), json.dumps(message))


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, client: redis.Redis, prefix: str = "sf:", forms: StoredForms | None = None) -> None:
        forms = forms or StoredForms()
        self.client = client
        self.prefix = prefix
        self.activities = RedisActivityStorage(client, forms, prefix)
        scripts = _Scripts(client)  # one SHA cache per connection, for every storage
        self.timelines = RedisTimelineStorage(client, self.activities, prefix, scripts)
        self.aggregated = RedisAggregatedStorage(client, forms, prefix, scripts)
        self.follows = RedisFollowStorage(client, prefix)
        self.publisher = RedisCountsPublisher(client, prefix)

    @classmethod
    def from_url(cls, url: str, prefix: str = "sf:") -> RedisBackend:
        return cls(redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30), prefix)

    def close(self) -> None:
        self.client.close()
