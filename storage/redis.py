"""Redis storage: timelines as sorted sets of ids, activities stored once, groups in hashes.

Layout (every key of a user's feeds carries the user's hash tag, from the feed
key, so they share a Redis Cluster slot):

- ``sf:<feed key>``: sorted set, member the activity id, score its sort key
  (time in microseconds, exact in a double). Equal scores order by member,
  and ids order by time then digest, so Redis orders a feed exactly as the
  other backends do.
- ``sf:activity:<id>``: the activity's stored bytes, written once however
  many feeds hold it; a page is hydrated with one MGET.
- ``sf:<feed key>:hidden``: a set of the timeline's hidden entries (their
  actor was unfollowed; they keep their places, readers skip them).
- ``sf:<feed key>:groups`` / ``:ranks`` / ``:order`` / ``:counts`` /
  ``:dormant``: an aggregated feed's groups (bytes by group), each group's
  position member, the positions (a sorted set with equal scores ordered by
  ``<newest activity id>|<group>``), unseen/unread counts, and the groups
  with no live member (kept for their places, not shown).

Adding to a timeline and trimming it happen in one Lua script per feed, so a
reader never sees it over max_length; a fanout batch sends one script call
per feed in a single pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregation import SPILLED, AggregatedView, AggregatedWrite, FeedMeta
from streamfeed.domain.author_modes import ModeChanges, decode_changes, encode_changes
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.follow_state import FollowState, Unfollowed
from streamfeed.domain.ids import sort_key_for, sort_key_of, time_for
from streamfeed.storage.base import (
    FAILURE_TTL,
    REALTIME_KEEP,
    ActivityStorage,
    AggregatedStorage,
    Backend,
    CountsPublisher,
    FailureLedger,
    FollowStorage,
    NewEntries,
    PageRequest,
    ReactionCountsChanged,
    StorageMarker,
    TimelineStorage,
    WindowEntry,
    WindowQuery,
    counts_message,
    page_of_ids,
)
from streamfeed.storage.redis_reactions import RedisReactionStorage
from streamfeed.storage.redis_realtime import SharedStreamReader
from streamfeed.storage.serialization import StoredForms, pending_from_text, pending_text

#: Feeds per script call of a fanout batch: bounds how long one call holds Redis.
MAX_KEYS_PER_CALL = 1_000

# One call for a whole fanout batch: every timeline in KEYS gets the same
# (score, member) pairs, then is trimmed. Atomic per call, so no reader sees a
# timeline over max_length, and far cheaper than a script call per feed.
ADD_AND_TRIM = """
local max_length, hidden, slack = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3])
local ids = {}
for i = 5, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
-- Few feeds hold hidden entries: one EXISTS over all the hidden sets usually answers for every key.
local any_hidden = hidden
if not hidden then
  local hidden_keys = {}
  for i, key in ipairs(KEYS) do hidden_keys[i] = key .. ':hidden' end
  any_hidden = redis.call('EXISTS', unpack(hidden_keys)) > 0
end
for _, key in ipairs(KEYS) do
  local added = redis.call('ZADD', key, unpack(ARGV, 4))
  local hidden_key = any_hidden and key .. ':hidden'
  local has_hidden = hidden or (any_hidden and redis.call('EXISTS', hidden_key) == 1)
  if hidden then
    redis.call('SADD', hidden_key, unpack(ids))
  elseif has_hidden then
    redis.call('SREM', hidden_key, unpack(ids))
  end
  -- Only an add grows the set: a feed is never longer than max_length after a write.
  if added > 0 and max_length >= 0 then
    trim(key, max_length, slack, has_hidden and key .. ':hidden')
  end
end
return #KEYS
"""

# Cut a timeline to its max_length newest entries; the newest `slack` cut wait in its spill,
# keeping their hidden flags (the hidden set holds spilled ids too), for a takeout to refill from.
# An entry added again while in the spill stays there too (removing it would cost a command per
# insert): a refill and `spilled` skip what the timeline holds.
TRIM_FUNCTION = """
local function trim(key, max_length, slack, hidden_key)
  if slack > 0 then
    local over = redis.call('ZCARD', key) - max_length
    if over <= 0 then return 0 end
    local cut = redis.call('ZPOPMIN', key, over)
    local spill_key, pairs = key .. ':spill', {}
    for i = 1, #cut, 2 do
      pairs[#pairs + 1] = cut[i + 1]
      pairs[#pairs + 1] = cut[i]
    end
    redis.call('ZADD', spill_key, unpack(pairs))
    if hidden_key then
      -- The flags of ids leaving the spill go, unless the timeline holds the id again.
      for _, id in ipairs(redis.call('ZRANGE', spill_key, 0, -(slack + 1))) do
        if not redis.call('ZSCORE', key, id) then redis.call('SREM', hidden_key, id) end
      end
    end
    redis.call('ZREMRANGEBYRANK', spill_key, 0, -(slack + 1))
    return #cut / 2
  end
  if hidden_key then
    local dropped = redis.call('ZRANGE', key, 0, -(max_length + 1))
    if #dropped == 0 then return 0 end
    redis.call('SREM', hidden_key, unpack(dropped))
  end
  return redis.call('ZREMRANGEBYRANK', key, 0, -(max_length + 1))
end
"""

ADD_AND_TRIM = TRIM_FUNCTION + ADD_AND_TRIM

TRIM = (
    TRIM_FUNCTION
    + """
local hidden_key = KEYS[1] .. ':hidden'
if redis.call('EXISTS', hidden_key) == 0 then hidden_key = false end
return trim(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), hidden_key)
"""
)

# Take entries out of a timeline and its spill for good; each one the timeline loses is
# replaced by the spill's newest (hidden flags stay with their ids). KEYS: timeline; ARGV: ids.
REMOVE_AND_REFILL = """
local key = KEYS[1]
local spill_key, hidden_key = key .. ':spill', key .. ':hidden'
local taken = redis.call('ZREM', key, unpack(ARGV))
redis.call('ZREM', spill_key, unpack(ARGV))
redis.call('SREM', hidden_key, unpack(ARGV))
local wanted = taken
while wanted > 0 do
  local top = redis.call('ZPOPMAX', spill_key)
  if #top == 0 then break end
  if not redis.call('ZSCORE', key, top[1]) then
    redis.call('ZADD', key, top[2], top[1])
    wanted = wanted - 1
  end
end
return taken
"""

# Hide entries the timeline or its spill holds; ids neither holds are ignored.
HIDE = """
local count = 0
for _, id in ipairs(ARGV) do
  if redis.call('ZSCORE', KEYS[1], id) or redis.call('ZSCORE', KEYS[1] .. ':spill', id) then
    redis.call('SADD', KEYS[1] .. ':hidden', id)
    count = count + 1
  end
end
return count
"""

# Activity states: each value starts with its version (16 hex digits, so string
# order is number order) and L (live) or R (removed). A state replaces the stored
# one only if its version is higher: any arrival order keeps the newest.
# KEYS: state keys; ARGV: per key the value and a TTL in seconds (0: none).
APPLY_STATES = """
for i, key in ipairs(KEYS) do
  local new, ttl = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local old = redis.call('GET', key)
  if (not old) or string.sub(old, 1, 16) < string.sub(new, 1, 16) then
    if ttl > 0 then redis.call('SET', key, new, 'EX', ttl) else redis.call('SET', key, new) end
  end
end
return #KEYS
"""

# A page of live activities: between optional id bounds, in order, after offset,
# at most limit. Entries whose activity is removed (or gone) or that are hidden
# are skipped, so the offset counts what readers see. Walks the sorted set in chunks; scores narrow
# bounded ranges. Reads activity keys it was not given: single Redis only.
PAGE = """
local key = KEYS[1]
local descending = ARGV[1] == '1'
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local low, low_inclusive, low_score = ARGV[4], ARGV[5] == '1', ARGV[6]
local high, high_inclusive, high_score = ARGV[7], ARGV[8] == '1', ARGV[9]
local prefix, ids_only = ARGV[10], ARGV[11] == '1'
local hidden_key = key .. ':hidden'
local any_hidden = redis.call('EXISTS', hidden_key) == 1
local ids, values = {}, {}
if limit == 0 then return {ids, values} end
local bounded = low ~= '' or high ~= ''
local min_score, max_score = '-inf', '+inf'
if low ~= '' then min_score = low_score end
if high ~= '' then max_score = high_score end
local chunk = 64
if limit > 0 then chunk = math.max(chunk, offset + limit) end
local start, skipped = 0, 0
while true do
  local batch
  if bounded then
    if descending then
      batch = redis.call('ZREVRANGEBYSCORE', key, max_score, min_score, 'LIMIT', start, chunk)
    else
      batch = redis.call('ZRANGEBYSCORE', key, min_score, max_score, 'LIMIT', start, chunk)
    end
  elseif descending then
    batch = redis.call('ZREVRANGE', key, start, start + chunk - 1)
  else
    batch = redis.call('ZRANGE', key, start, start + chunk - 1)
  end
  for _, id in ipairs(batch) do
    local ok = true
    if low ~= '' then
      if low_inclusive then ok = id >= low else ok = id > low end
    end
    if ok and high ~= '' then
      if high_inclusive then ok = id <= high else ok = id < high end
    end
    if ok and any_hidden and redis.call('SISMEMBER', hidden_key, id) == 1 then ok = false end
    if ok then
      local value = redis.call('GET', prefix .. id)
      if value and string.sub(value, 17, 17) == 'L' then
        if skipped < offset then
          skipped = skipped + 1
        else
          ids[#ids + 1] = id
          if not ids_only then values[#values + 1] = value end
          if limit > 0 and #ids >= limit then return {ids, values} end
        end
      end
    end
  end
  if #batch < chunk then return {ids, values} end
  start = start + chunk
end
"""

# A ranked read's window: the newest live ids of a timeline (at or below an id), and for each the
# sizes of the reaction kind indexes named. KEYS: timeline. ARGV: state key prefix, limit, top id
# ('' none), its score, the reactions' key prefix, then the kinds. Returns {ids, sizes} with
# #kinds sizes per id (the reactions layout: storage.redis_reactions).
RANKING_WINDOW = """
local key, prefix, limit, top, top_score, rx = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local hidden_key = key .. ':hidden'
local any_hidden = redis.call('EXISTS', hidden_key) == 1
local ids, sizes, start, chunk = {}, {}, 0, math.max(64, limit)
local high = top == '' and '+inf' or top_score
while #ids < limit do
  local batch = redis.call('ZREVRANGEBYSCORE', key, high, '-inf', 'LIMIT', start, chunk)
  for _, id in ipairs(batch) do
    if (top == '' or id <= top) and not (any_hidden and redis.call('SISMEMBER', hidden_key, id) == 1) then
      if redis.call('GETRANGE', prefix .. id, 16, 16) == 'L' then
        ids[#ids + 1] = id
        local base = rx .. 'rx:{' .. id .. '}:kind:' .. id .. ':'
        for k = 6, #ARGV do sizes[#sizes + 1] = redis.call('ZCARD', base .. ARGV[k]) end
        if #ids >= limit then break end
      end
    end
  end
  if #batch < chunk then break end
  start = start + chunk
end
return {ids, sizes}
"""

# Live entries of a timeline: one call, reading each entry's activity state.
COUNT_LIVE = """
local count = 0
local hidden_key = KEYS[1] .. ':hidden'
local any_hidden = redis.call('EXISTS', hidden_key) == 1
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not (any_hidden and redis.call('SISMEMBER', hidden_key, id) == 1) then
    local value = redis.call('GET', ARGV[1] .. id)
    if value and string.sub(value, 17, 17) == 'L' then count = count + 1 end
  end
end
return count
"""

# KEYS: groups, ranks, order, counts, dormant. ARGV: upsert count, then (group, rank
# member, bytes, '1' shown or '0' dormant) per upsert, then groups to delete, and
# finally the meta: unseen, unread, seen_all, read_all, pending ('' for none; unseen 'clear'
# deletes the meta; pending '' removes the pending marks).
AGGREGATED_WRITE = """
local groups, ranks, order, counts, dormant = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local upserts = tonumber(ARGV[1])
local i = 2
for _ = 1, upserts do
  local group, member, data, shown = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local old = redis.call('HGET', ranks, group)
  if old and old ~= member then redis.call('ZREM', order, old) end
  redis.call('ZADD', order, 0, member)
  redis.call('HSET', ranks, group, member)
  redis.call('HSET', groups, group, data)
  if shown == '1' then redis.call('SREM', dormant, group) else redis.call('SADD', dormant, group) end
  i = i + 4
end
local last = #ARGV - 5
while i <= last do
  local group = ARGV[i]
  local old = redis.call('HGET', ranks, group)
  if old then redis.call('ZREM', order, old) end
  redis.call('HDEL', ranks, group)
  redis.call('HDEL', groups, group)
  redis.call('SREM', dormant, group)
  i = i + 1
end
local unseen, unread = ARGV[#ARGV - 4], ARGV[#ARGV - 3]
local seen_all, read_all, pending = ARGV[#ARGV - 2], ARGV[#ARGV - 1], ARGV[#ARGV]
if unseen == 'clear' then
  redis.call('DEL', counts)
elseif unseen ~= '' then
  redis.call('HSET', counts, 'unseen', unseen, 'unread', unread)
  if seen_all ~= '' then redis.call('HSET', counts, 'seen_all', seen_all) end
  if read_all ~= '' then redis.call('HSET', counts, 'read_all', read_all) end
  if pending ~= '' then
    redis.call('HSET', counts, 'pending', pending)
  else
    redis.call('HDEL', counts, 'pending')
  end
end
return 1
"""

# KEYS: order, groups, dormant. ARGV: offset, limit (-1 for all), '1' to include dormant
# groups. One round trip a page; dormant groups are skipped before the offset counts.
AGGREGATED_PAGE = """
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local skip_dormant = ARGV[3] ~= '1' and redis.call('SCARD', KEYS[3]) > 0
if not skip_dormant then
  local stop = -1
  if limit >= 0 then stop = offset + limit - 1 end
  local names = {}
  for _, member in ipairs(redis.call('ZREVRANGE', KEYS[1], offset, stop)) do
    names[#names + 1] = string.sub(member, string.find(member, '|', 1, true) + 1)
  end
  if #names == 0 then return {} end
  return redis.call('HMGET', KEYS[2], unpack(names))
end
-- Dormant groups (and those kept aside, which rank last) are skipped before the offset counts:
-- read the order in chunks until the page is full.
local names, skipped, start = {}, 0, 0
local chunk = 64
if limit >= 0 then chunk = math.max(chunk, offset + limit) end
while true do
  local members = redis.call('ZREVRANGE', KEYS[1], start, start + chunk - 1)
  for _, member in ipairs(members) do
    local name = string.sub(member, string.find(member, '|', 1, true) + 1)
    if redis.call('SISMEMBER', KEYS[3], name) == 0 then
      if skipped < offset then
        skipped = skipped + 1
      else
        names[#names + 1] = name
        if limit >= 0 and #names >= limit then return redis.call('HMGET', KEYS[2], unpack(names)) end
      end
    end
  end
  if #members < chunk then break end
  start = start + chunk
end
if #names == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(names))
"""


# KEYS: order, groups, counts. ARGV: tail start (-1 for none), then group names.
# Returns every rank member, the named and tail groups' bytes, and the counts:
# everything an aggregated write needs, in one round trip.
AGGREGATED_VIEW = (
    """
local members = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local names, seen = {}, {}
for i = 2, #ARGV do
  if not seen[ARGV[i]] then names[#names + 1] = ARGV[i]; seen[ARGV[i]] = true end
end
local tail, spilled = tonumber(ARGV[1]), '"""
    + SPILLED
    + """'
if tail >= 0 then
  for index = tail + 1, #members do
    local member = members[index]
    if string.sub(member, 1, #spilled) == spilled then break end -- kept aside: ranked last
    local name = string.sub(member, string.find(member, '|', 1, true) + 1)
    if not seen[name] then names[#names + 1] = name; seen[name] = true end
  end
end
local values = {}
if #names > 0 then values = redis.call('HMGET', KEYS[2], unpack(names)) end
local meta = redis.call('HMGET', KEYS[3], 'unseen', 'unread', 'seen_all', 'read_all', 'pending')
return {members, names, values, meta}
"""
)


# A hybrid read's window in one call (single Redis): the follower's state with each pulled
# author (its followers and unfollowed hashes), then a k-way merge of the own timeline's window
# and the related authors' user-feed windows. KEYS: own timeline, then per author its followers
# hash, unfollowed hash and user feed. ARGV: follower, cut ('' all), own limit, then per author
# the number of ranges and per range since, until, limit ('' unbounded). Returns {ids, hidden
# flags as 0/1, origin (0 own, else the author's number), each author's state ("f<since>",
# "u<since>:<version>" or "")}; an unfollowed author lifts the cut.
PULLED_WINDOW = """
local follower, cut, lists, origins_of, states = ARGV[1], ARGV[2], {}, {}, {}
lists[1] = redis.call('ZREVRANGE', KEYS[1], 0, ARGV[3] == '' and -1 or tonumber(ARGV[3]) - 1)
origins_of[1] = 0
local hidden = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1] .. ':hidden')) do hidden[id] = true end
local arg, ending = 4, false
for a = 1, (#KEYS - 1) / 3 do
  local base = 1 + (a - 1) * 3
  local ranges = tonumber(ARGV[arg])
  local state = ''
  local since = redis.call('HGET', KEYS[base + 1], follower)
  if since then
    state = 'f' .. since
  else
    local ended = redis.call('HGET', KEYS[base + 2], follower)
    if ended then state = 'u' .. ended; ending = true end
  end
  states[a] = state
  for r = 1, ranges do
    if state ~= '' then
      local lo, hi, limit = ARGV[arg + 3 * r - 2], ARGV[arg + 3 * r - 1], ARGV[arg + 3 * r]
      local top = hi == '' and '+inf' or ('(' .. hi)
      local bottom = lo == '' and '-inf' or lo
      local found
      if limit == '' then
        found = redis.call('ZREVRANGEBYSCORE', KEYS[base + 3], top, bottom)
      else
        found = redis.call('ZREVRANGEBYSCORE', KEYS[base + 3], top, bottom, 'LIMIT', 0, tonumber(limit))
      end
      lists[#lists + 1] = found
      origins_of[#lists] = a
    end
  end
  arg = arg + 1 + 3 * ranges
end
local wanted = (cut == '' or ending) and math.huge or tonumber(cut)
local heads = {}
for k = 1, #lists do heads[k] = 1 end
local ids, flags, origins, seen = {}, {}, {}, {}
while #ids < wanted do
  local best, from = nil, nil
  for k = 1, #lists do
    local id = lists[k][heads[k]]
    if id and (best == nil or id > best) then best, from = id, k end
  end
  if best == nil then break end
  for k = 1, #lists do
    if lists[k][heads[k]] == best then
      if k < from then from = k end
      heads[k] = heads[k] + 1
    end
  end
  if not seen[best] then
    seen[best] = true
    ids[#ids + 1] = best
    flags[#flags + 1] = (from == 1 and hidden[best]) and '1' or '0'
    origins[#origins + 1] = origins_of[from]
  end
end
return {ids, table.concat(flags), origins, states}
"""


# The rebuild lease (StorageMarker.lease): taken if free, renewed by its holder.
LEASE = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

CLUSTER_SCHEME = "redis+cluster://"


def redis_client(url: str) -> redis.Redis | redis.RedisCluster:
    """A client for a Redis URL; ``redis+cluster://host:port`` (any node) means a Redis Cluster."""
    if url.startswith(CLUSTER_SCHEME):
        plain = "redis://" + url[len(CLUSTER_SCHEME) :]
        return redis.RedisCluster.from_url(plain, socket_timeout=10, health_check_interval=30)
    return redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30)


#: Connections the asyncio client may open: each waiting stream holds one, so the API's stream
#: cap (STREAMFEED_API_REALTIME_MAX) is what bounds them, not this.
_STREAM_CONNECTIONS = 1_000_000
_STREAM_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")


def _stream_id(text: str) -> tuple[int, int]:
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def _async_twin(client: Any) -> Any:
    """An asyncio client for the server (or cluster) the sync client talks to. No socket
    timeout: a realtime stream blocks in XREAD for as long as it asks to."""
    if isinstance(client, redis.RedisCluster):
        nodes = [redis.asyncio.cluster.ClusterNode(n.host, n.port) for n in client.get_nodes()]  # type: ignore[no-untyped-call]
        return redis.asyncio.RedisCluster(
            startup_nodes=nodes, max_connections=_STREAM_CONNECTIONS, socket_timeout=None
        )
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:  # a Unix socket
        return redis.asyncio.Redis(
            unix_socket_path=kwargs["path"],
            db=kwargs.get("db", 0),
            max_connections=_STREAM_CONNECTIONS,
            socket_timeout=None,
        )
    wanted = ("host", "port", "db", "username", "password", "socket_connect_timeout")
    return redis.asyncio.Redis(
        **{k: kwargs[k] for k in wanted if k in kwargs},
        max_connections=_STREAM_CONNECTIONS,
        socket_timeout=None,
    )


def _state_value(forms: StoredForms, state: ActivityState) -> bytes:
    flag = b"R" if state.removed else b"L"
    return f"{state.version:016x}".encode() + flag + forms.state_bytes(state)


class RedisActivityStorage(ActivityStorage):
    """``sf:activity:<id>``: version, live/removed flag, then the state's stored bytes."""

    def __init__(self, client: Any, forms: StoredForms, prefix: str, scripts: _Scripts) -> None:
        self.client = client
        self.forms = forms
        self.prefix = prefix
        self.scripts = scripts
        self.single_node = not isinstance(client, redis.RedisCluster)

    def key(self, activity_id: str) -> str:
        return f"{self.prefix}activity:{activity_id}"

    def apply(self, states: Sequence[ActivityState]) -> None:
        if not states:
            return
        calls = []
        for state in states:
            ttl = self.removed_ttl if state.removed else 0
            calls.append(([self.key(state.id)], [_state_value(self.forms, state), ttl]))
        if self.single_node:
            keys = [k for ks, _ in calls for k in ks]
            args = [a for _, a_s in calls for a in a_s]
            self.scripts.call(self.client, APPLY_STATES, keys, args)
            return

        def batch(pipe: redis.client.Pipeline) -> None:
            for keys, args in calls:
                self.scripts.call(pipe, APPLY_STATES, keys, args)

        self.scripts.run_pipeline(batch)

    def decode(self, activity_id: str, raw: bytes, activity_class: type[Activity]) -> ActivityState:
        return self.forms.state(raw[17:], activity_class, f"redis key {self.key(activity_id)}")

    def get_states(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, ActivityState]:
        if not activity_ids:
            return {}
        keys = [self.key(i) for i in activity_ids]
        # Activity keys hash to every slot of a cluster: one MGET per node there.
        values = self.client.mget(keys) if self.single_node else self.client.mget_nonatomic(keys)
        return {
            i: self.decode(i, raw, activity_class)
            for i, raw in zip(activity_ids, values, strict=True)
            if raw is not None
        }


class RedisTimelineStorage(TimelineStorage):
    activities: RedisActivityStorage

    def __init__(self, client: Any, activities: RedisActivityStorage, prefix: str, scripts: _Scripts) -> None:
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
        self,
        batches: Sequence[tuple[Sequence[str], Sequence[ActivityState]]],
        max_length: int | None,
        hidden: bool = False,
        slack: int = 0,
    ) -> None:
        """All batches in one pipeline: one script call per key group (states are stored already)."""
        calls = []
        for keys, states in batches:
            if not keys or not states:
                continue
            args: list[Any] = [-1 if max_length is None else max_length, "1" if hidden else "0", slack]
            for state in states:
                args += (state.activity.sort_key, state.id)
            for group in self._key_groups([self.prefix + key for key in keys]):
                calls.append((group, args))
        if not calls:
            return

        def batch(pipe: redis.client.Pipeline) -> None:
            for group, args in calls:
                self.scripts.call(pipe, ADD_AND_TRIM, group, args)

        self.scripts.run_pipeline(batch)

    def hide(self, key: str, activity_ids: Sequence[str]) -> None:
        if activity_ids:
            self.scripts.call(self.client, HIDE, [self.key(key)], list(activity_ids))

    def hidden_ids(self, key: str) -> list[str]:
        """The timeline's hidden entries (the hidden set also flags spilled ones)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(self.key(key) + ":hidden")
        pipe.zrange(self.key(key), 0, -1)
        flagged, held = pipe.execute()
        return sorted(m.decode() for m in flagged.intersection(held))

    def remove_from_many(self, keys: Sequence[str], activity_ids: Sequence[str]) -> None:
        if not activity_ids or not keys:
            return
        ids = list(activity_ids)
        chunks = [ids[i : i + 1_000] for i in range(0, len(ids), 1_000)]  # Lua's unpack limit

        def batch(pipe: redis.client.Pipeline) -> None:
            for key in keys:
                for chunk in chunks:
                    self.scripts.call(pipe, REMOVE_AND_REFILL, [self.key(key)], chunk)

        self.scripts.run_pipeline(batch)

    def _page(self, key: str, page: PageRequest, ids_only: bool = False) -> tuple[list[bytes], list[bytes]]:
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
        args += [self.activities.key(""), "1" if ids_only else "0"]
        ids, values = self.scripts.call(self.client, PAGE, [self.key(key)], args)
        return ids, values

    def get_ids(self, key: str, page: PageRequest) -> list[str]:
        """The page's live ids in one script call that reads the states in Redis and sends none."""
        if not self.single_node:
            return super().get_ids(key, page)
        return [i.decode() for i in self._page(key, page, ids_only=True)[0]]

    def get_page(
        self, key: str, page: PageRequest, activity_class: type[Activity] = Activity
    ) -> list[Activity]:
        if not self.single_node:  # a cluster: ids, then states, filtered here
            hidden = set(self.hidden_ids(key))
            live = [s for s in self.entries(key, activity_class) if not s.removed and s.id not in hidden]
            by_id = {s.id: s.activity for s in live}
            return [by_id[i] for i in page_of_ids([s.id for s in live], page)]
        raw_ids, values = self._page(key, page)
        return [
            self.activities.decode(i.decode(), raw, activity_class).activity
            for i, raw in zip(raw_ids, values, strict=True)
        ]

    def entries(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        ids = [i.decode() for i in self.client.zrange(self.key(key), 0, -1)]
        states = self.activities.get_states(ids, activity_class)
        return [states[i] for i in ids if i in states]

    def spilled(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        """The spill's entries the timeline does not hold too (one added again stays in both)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self.key(key) + ":spill", 0, -1)
        pipe.zrange(self.key(key), 0, -1)
        spill, held = pipe.execute()
        holding = set(held)
        ids = [i.decode() for i in spill if i not in holding]
        states = self.activities.get_states(ids, activity_class)
        return [states[i] for i in ids if i in states]

    def windows(self, queries: Sequence[WindowQuery]) -> list[list[WindowEntry]]:
        """Every window and its hidden set in one pipeline (scores are activity times)."""
        if not queries:
            return []
        pipe = self.client.pipeline(transaction=False)
        for query in queries:
            top = "+inf" if query.until is None else f"({query.until}"
            bottom = "-inf" if query.since is None else str(query.since)
            if query.limit is None:
                pipe.zrevrangebyscore(self.key(query.key), top, bottom)
            else:
                pipe.zrevrangebyscore(self.key(query.key), top, bottom, start=0, num=query.limit)
            if query.hidden:
                pipe.smembers(self.key(query.key) + ":hidden")
        found = iter(pipe.execute())
        windows = []
        for query in queries:
            ids = next(found)
            hidden = next(found) if query.hidden else ()
            windows.append([(i.decode(), i in hidden) for i in ids])
        return windows

    def pulled_window(
        self,
        follows: FollowStorage,
        follower: str,
        own: WindowQuery,
        authors: Sequence[tuple[str, Sequence[WindowQuery]]],
        cut: int | None,
    ) -> tuple[list[tuple[str, bool, str | None]], dict[str, FollowState]]:
        if not self.single_node or not isinstance(follows, RedisFollowStorage) or own.since or own.until:
            return super().pulled_window(follows, follower, own, authors, cut)
        keys = [self.key(own.key)]
        args: list[Any] = [follower, "" if cut is None else cut, "" if own.limit is None else own.limit]
        for author, queries in authors:
            keys += [follows._followers(author), follows._unfollowed(author), self.key(queries[0].key)]
            args.append(len(queries))
            for query in queries:
                args += [
                    "" if query.since is None else query.since,
                    "" if query.until is None else query.until,
                    "" if query.limit is None else query.limit,
                ]
        ids, flags, origins, found = self.scripts.call(self.client, PULLED_WINDOW, keys, args)
        states: dict[str, FollowState] = {}
        for (author, _), value in zip(authors, found, strict=True):
            if value.startswith(b"f"):
                states[author] = int(value[1:])
            elif value:
                states[author] = _unfollowed(value[1:])
        names = [None, *(author for author, _ in authors)]
        merged = [
            (i.decode(), flag == 49, names[origin])
            for i, flag, origin in zip(ids, flags, origins, strict=True)
        ]
        return merged, states

    def count(self, key: str) -> int:
        if not self.single_node:
            hidden = set(self.hidden_ids(key))
            return sum(not s.removed and s.id not in hidden for s in self.entries(key))
        live: int = self.scripts.call(self.client, COUNT_LIVE, [self.key(key)], [self.activities.key("")])
        return live

    def delete(self, key: str) -> None:
        self.client.delete(self.key(key), self.key(key) + ":hidden", self.key(key) + ":spill")

    def trim(self, key: str, max_length: int, slack: int = 0) -> None:
        self.scripts.call(self.client, TRIM, [self.key(key)], [max_length, slack])


class _Scripts:
    """Lua scripts by source, loaded once and called by SHA.

    redis-py's Script objects check for and load their scripts on every
    pipeline execute: an extra round trip per batch on the hot path. Here a
    script is loaded up front and reloaded only when Redis says it lost it
    (a restart or SCRIPT FLUSH), then the whole call is retried once.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.shas: dict[str, str] = {}

    def sha(self, source: str) -> str:
        sha = self.shas.get(source)
        if sha is None:
            sha = self.shas[source] = self.client.script_load(source)
        return sha

    def call(self, client: Any, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha(source), len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self.shas.clear()
            return self.client.evalsha(self.sha(source), len(keys), *keys, *args)

    def run_pipeline(self, fill: Callable[[redis.client.Pipeline], None]) -> list[Any]:
        for attempt in (1, 2):
            if isinstance(self.client, redis.RedisCluster):
                pipe: Any = _PerNodePipelines(self.client)
            else:
                pipe = self.client.pipeline(transaction=False)
            fill(pipe)
            try:
                replies: list[Any] = pipe.execute()
                return replies
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                self.shas.clear()
        raise AssertionError("unreachable")


class _PerNodePipelines:
    """Script calls batched per cluster node: redis-py's cluster pipeline refuses EVALSHA, so
    each call goes into a plain pipeline to the node that owns its first key's slot (every key
    of one call shares a slot), and each node's batch is one round trip."""

    def __init__(self, cluster: redis.RedisCluster) -> None:
        self.cluster = cluster
        self.pipes: dict[str, Any] = {}
        self.order: list[tuple[str, int]] = []

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> None:
        node = self.cluster.get_node_from_key(keys_and_args[0])  # type: ignore[no-untyped-call]
        pipe = self.pipes.get(node.name)
        if pipe is None:
            pipe = self.pipes[node.name] = self.cluster.get_redis_connection(node).pipeline(transaction=False)
        self.order.append((node.name, len(pipe)))
        pipe.evalsha(sha, numkeys, *keys_and_args)

    def execute(self) -> list[Any]:
        try:
            results = {name: pipe.execute() for name, pipe in self.pipes.items()}
        except (redis.exceptions.AskError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # A failover moved slots (MOVED from a demoted master) or took a node away: these plain
            # pipelines bypass the cluster client's own redirects, so learn the new slot map and let
            # the caller's retry (streamfeed.consumers.runtime) send the whole batch again: it is idempotent.
            with contextlib.suppress(redis.exceptions.RedisError):
                self.cluster.nodes_manager.initialize()
            raise
        return [results[name][index] for name, index in self.order]


def _split_member(member: bytes) -> tuple[str, str]:
    rank, _, group = member.decode().partition("|")
    return rank, group


def _score_of(activity_id: str) -> str:
    """The score a bound id would have; a malformed id still bounds sensibly."""
    try:
        return str(sort_key_of(activity_id))
    except ValueError:
        return "-inf" if activity_id < "0" else "+inf"


def _micros(when: datetime | None) -> str:
    return "" if when is None else str(sort_key_for(when))


def _meta(values: Sequence[bytes | None]) -> FeedMeta:
    unseen, unread, seen_all, read_all, pending = values
    return FeedMeta(
        int(unseen or 0),
        int(unread or 0),
        None if seen_all is None else time_for(int(seen_all)),
        None if read_all is None else time_for(int(read_all)),
        pending_from_text(pending),
    )


class RedisAggregatedStorage(AggregatedStorage):
    def __init__(self, client: Any, forms: StoredForms, prefix: str, scripts: _Scripts) -> None:
        self.client = client
        self.forms = forms
        self.prefix = prefix
        self.scripts = scripts

    def keys(self, key: str) -> list[str]:
        base = self.prefix + key
        return [f"{base}:groups", f"{base}:ranks", f"{base}:order", f"{base}:counts", f"{base}:dormant"]

    def get_all(
        self,
        key: str,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        return self._page(key, 0, None, activity_class, aggregated_class, dormant=True)

    def get_page(
        self,
        key: str,
        offset: int,
        limit: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedActivity]:
        return self._page(key, offset, limit, activity_class, aggregated_class, dormant=False)

    def _page(
        self,
        key: str,
        offset: int,
        limit: int | None,
        activity_class: type[Activity],
        aggregated_class: type[AggregatedActivity],
        dormant: bool,
    ) -> list[AggregatedActivity]:
        groups, _, order, _, dormant_key = self.keys(key)
        if limit == 0:
            return []
        args = [offset, -1 if limit is None else limit, "1" if dormant else "0"]
        values = self.scripts.call(self.client, AGGREGATED_PAGE, [order, groups, dormant_key], args)
        return [
            self.forms.aggregated(raw, activity_class, aggregated_class, f"redis key {groups}")
            for raw in values
            if raw is not None
        ]

    def get_ranks(self, key: str) -> list[tuple[str, str]]:
        return [_split_member(m) for m in self.client.zrevrange(self.keys(key)[2], 0, -1)]

    def get_groups(
        self,
        key: str,
        names: Sequence[str],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> dict[str, AggregatedActivity]:
        return dict(self.load_view(key, names, None, activity_class, aggregated_class).groups)

    def load_view(
        self,
        key: str,
        names: Sequence[str],
        tail_start: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> AggregatedView:
        keys, args = self._view_call(key, names, tail_start)
        found = self.scripts.call(self.client, AGGREGATED_VIEW, keys, args)
        return self._view(key, found, activity_class, aggregated_class)

    def load_views(
        self,
        requests: Sequence[tuple[str, Sequence[str], int | None]],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedView]:
        if len(requests) < 2:
            return super().load_views(requests, activity_class, aggregated_class)
        calls = [self._view_call(key, names, tail) for key, names, tail in requests]

        def fill(pipe: Any) -> None:
            for keys, args in calls:
                self.scripts.call(pipe, AGGREGATED_VIEW, keys, args)

        results = self.scripts.run_pipeline(fill)
        return [
            self._view(key, found, activity_class, aggregated_class)
            for (key, _, _), found in zip(requests, results, strict=True)
        ]

    def _view_call(
        self, key: str, names: Sequence[str], tail_start: int | None
    ) -> tuple[list[str], list[Any]]:
        groups_key, _, order, counts_key, _ = self.keys(key)
        return [order, groups_key, counts_key], [-1 if tail_start is None else tail_start, *names]

    def _view(
        self,
        key: str,
        found: list[Any],
        activity_class: type[Activity],
        aggregated_class: type[AggregatedActivity],
    ) -> AggregatedView:
        groups_key = self.keys(key)[0]
        members, names, values, counts = found
        groups = {
            name.decode(): self.forms.aggregated(
                raw, activity_class, aggregated_class, f"redis key {groups_key}"
            )
            for name, raw in zip(names, values, strict=True)
            if raw is not None
        }
        return AggregatedView(groups, [_split_member(m) for m in members], _meta(counts))

    def write(self, key: str, change: AggregatedWrite) -> None:
        self.scripts.call(self.client, AGGREGATED_WRITE, self.keys(key), self._write_args(change))

    def write_many(self, changes: Sequence[tuple[str, AggregatedWrite]]) -> None:
        if len(changes) < 2:
            super().write_many(changes)
            return
        calls = [(self.keys(key), self._write_args(change)) for key, change in changes]

        def fill(pipe: Any) -> None:
            for keys, args in calls:
                self.scripts.call(pipe, AGGREGATED_WRITE, keys, args)

        self.scripts.run_pipeline(fill)

    def _write_args(self, change: AggregatedWrite) -> list[Any]:
        rows = change.stored()
        args: list[Any] = [len(rows)]
        for group, rank, shown in rows:
            args += [
                group.group,
                f"{rank}|{group.group}",
                self.forms.aggregated_bytes(group),
                "1" if shown else "0",
            ]
        args += list(change.deletes)
        meta = change.meta
        if meta is None:
            args += ["", "", "", "", ""]
        elif meta == FeedMeta():
            args += ["clear", "", "", "", ""]
        else:
            marks = [_micros(meta.seen_all), _micros(meta.read_all), pending_text(meta.pending)]
            args += [meta.unseen, meta.unread, *marks]
        return args

    def count(self, key: str) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys(key)[2])
        pipe.scard(self.keys(key)[4])
        groups, dormant = pipe.execute()
        shown: int = groups - dormant
        return shown

    def meta(self, key: str) -> FeedMeta:
        fields = ("unseen", "unread", "seen_all", "read_all", "pending")
        return _meta(self.client.hmget(self.keys(key)[3], *fields))

    def delete(self, key: str) -> None:
        self.client.delete(*self.keys(key))


class RedisFollowStorage(FollowStorage):
    """``sf:followers:{user}``: a hash of follower -> follow version; ``sf:unfollowed:{user}``:
    a hash of former follower -> ``<follow version>:<unfollow version>``;
    ``sf:following:{user}``: a set of whom the user follows; ``sf:followers_by_id:{user}`` and
    ``sf:following_by_id:{user}``: the same users in sorted sets of score 0, for listings paged
    by id (ZRANGEBYLEX: a page costs the same wherever it starts, whatever the count)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _followers(self, followed: str) -> str:
        return f"{self.prefix}followers:{{{followed}}}"

    def _unfollowed(self, followed: str) -> str:
        return f"{self.prefix}unfollowed:{{{followed}}}"

    def _following(self, follower: str) -> str:
        return f"{self.prefix}following:{{{follower}}}"

    def _followers_by_id(self, followed: str) -> str:
        return f"{self.prefix}followers_by_id:{{{followed}}}"

    def _following_by_id(self, follower: str) -> str:
        return f"{self.prefix}following_by_id:{{{follower}}}"

    def followers_after(self, user_id: str, after: str | None, limit: int) -> list[str]:
        return self._by_id(self._followers_by_id(user_id), after, limit)

    def following_after(self, user_id: str, after: str | None, limit: int) -> list[str]:
        return self._by_id(self._following_by_id(user_id), after, limit)

    def _by_id(self, key: str, after: str | None, limit: int) -> list[str]:
        start = "-" if after is None else f"({after}"
        return [m.decode() for m in self.client.zrangebylex(key, start, "+", start=0, num=limit)]

    def graph_counts(self, user_ids: Sequence[str]) -> list[tuple[int, int]]:
        pipe = self.client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hlen(self._followers(user_id))
            pipe.scard(self._following(user_id))
        found = pipe.execute()
        return list(zip(found[::2], found[1::2], strict=True))

    @property
    def _modes(self) -> str:
        return f"{self.prefix}author_modes"

    def author_modes(self) -> dict[str, ModeChanges]:
        return {a.decode(): decode_changes(c.decode()) for a, c in self.client.hgetall(self._modes).items()}

    def store_author_modes(self, author: str, changes: ModeChanges) -> None:
        self.client.hset(self._modes, author, encode_changes(changes))

    def follower_counts(self, user_ids: Sequence[str], at_most: int) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hlen(self._followers(user_id))
        return [min(count, at_most) for count in pipe.execute()]

    def follow_states(self, follower: str, followed: Sequence[str]) -> dict[str, FollowState]:
        if not followed:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for user in followed:
            pipe.hget(self._followers(user), follower)
            pipe.hget(self._unfollowed(user), follower)
        found = pipe.execute()
        states: dict[str, FollowState] = {}
        for user, since, ended in zip(followed, found[::2], found[1::2], strict=True):
            if since is not None:
                states[user] = int(since)
            elif ended is not None:
                states[user] = _unfollowed(ended)
        return states

    def state(self, follower: str, followed: str) -> FollowState:
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self._followers(followed), follower)
        pipe.hget(self._unfollowed(followed), follower)
        since, ended = pipe.execute()
        if since is not None:
            return int(since)
        return None if ended is None else _unfollowed(ended)

    def _store(self, follower: str, followed: str, old: FollowState, new: FollowState) -> None:
        if new is None:
            return
        pipe = self.client.pipeline(transaction=False)
        if isinstance(new, Unfollowed):
            pipe.hset(self._unfollowed(followed), follower, f"{new.since}:{new.version}")
            pipe.hdel(self._followers(followed), follower)
            pipe.srem(self._following(follower), followed)
            pipe.zrem(self._followers_by_id(followed), follower)
            pipe.zrem(self._following_by_id(follower), followed)
        else:
            pipe.hset(self._followers(followed), follower, new)
            pipe.hdel(self._unfollowed(followed), follower)
            pipe.sadd(self._following(follower), followed)
            pipe.zadd(self._followers_by_id(followed), {follower: 0})
            pipe.zadd(self._following_by_id(follower), {followed: 0})
        pipe.execute()

    def followers(self, user_id: str) -> list[str]:
        return sorted(m.decode() for m in self.client.hkeys(self._followers(user_id)))

    def following(self, user_id: str) -> list[str]:
        return sorted(m.decode() for m in self.client.smembers(self._following(user_id)))

    def follow_versions(self, followers: Sequence[str], followed: str) -> dict[str, int]:
        if not followers:
            return {}
        values = self.client.hmget(self._followers(followed), list(followers))
        return {f: int(v) for f, v in zip(followers, values, strict=True) if v is not None}

    def followers_page(self, user_id: str, cursor: str | None, count: int) -> tuple[list[str], str | None]:
        """HSCAN: the cursor is Redis's own, so a page costs the same wherever it starts; a hash
        small enough to be packed comes whole in one page."""
        return self.followers_pages([(user_id, cursor)], count)[0]

    def followers_pages_many(self, user_ids: Sequence[str], count: int) -> list[tuple[list[str], str | None]]:
        return self.followers_pages([(user_id, None) for user_id in user_ids], count)

    def followers_pages(
        self, asked: Sequence[tuple[str, str | None]], count: int
    ) -> list[tuple[list[str], str | None]]:
        pipe = self.client.pipeline(transaction=False)
        for user_id, cursor in asked:
            pipe.hscan(self._followers(user_id), cursor=int(cursor or 0), count=count)
        pages = []
        for next_cursor, found in pipe.execute():
            pages.append(([f.decode() for f in found], None if int(next_cursor) == 0 else str(next_cursor)))
        return pages

    def followers_many(self, user_ids: Sequence[str]) -> list[list[str]]:
        if len(user_ids) < 2:
            return super().followers_many(user_ids)
        pipe = self.client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hkeys(self._followers(user_id))
        return [sorted(m.decode() for m in found) for found in pipe.execute()]

    def former_followers_many(self, asked: Sequence[tuple[str, int]]) -> list[list[str]]:
        if len(asked) < 2:
            return super().former_followers_many(asked)
        pipe = self.client.pipeline(transaction=False)
        for user_id, _ in asked:
            pipe.hgetall(self._unfollowed(user_id))
        return [
            sorted(f.decode() for f, v in ended.items() if _unfollowed(v).version > after)
            for (_, after), ended in zip(asked, pipe.execute(), strict=True)
        ]

    def follow_versions_many(self, queries: Sequence[tuple[Sequence[str], str]]) -> list[dict[str, int]]:
        values = self._hmget_many(self._followers, queries)
        return [
            {f: int(v) for f, v in zip(followers, found, strict=True) if v is not None}
            for (followers, _), found in zip(queries, values, strict=True)
        ]

    def unfollows_many(self, queries: Sequence[tuple[Sequence[str], str]]) -> list[dict[str, Unfollowed]]:
        values = self._hmget_many(self._unfollowed, queries)
        return [
            {f: _unfollowed(v) for f, v in zip(followers, found, strict=True) if v is not None}
            for (followers, _), found in zip(queries, values, strict=True)
        ]

    def _hmget_many(
        self, key_of: Callable[[str], str], queries: Sequence[tuple[Sequence[str], str]]
    ) -> list[Any]:
        asked = [(followers, followed) for followers, followed in queries if followers]
        if not asked:
            return [[] for _ in queries]
        pipe = self.client.pipeline(transaction=False)
        for followers, followed in asked:
            pipe.hmget(key_of(followed), list(followers))
        found = iter(pipe.execute())
        return [next(found) if followers else [] for followers, _ in queries]

    def unfollows(self, followers: Sequence[str], followed: str) -> dict[str, Unfollowed]:
        if not followers:
            return {}
        values = self.client.hmget(self._unfollowed(followed), list(followers))
        return {f: _unfollowed(v) for f, v in zip(followers, values, strict=True) if v is not None}

    def former_followers(self, user_id: str, after: int) -> list[str]:
        ended = self.client.hgetall(self._unfollowed(user_id))
        return sorted(f.decode() for f, v in ended.items() if _unfollowed(v).version > after)


def _unfollowed(value: bytes) -> Unfollowed:
    since, _, version = value.decode().partition(":")
    return Unfollowed(int(since), int(version))


class RedisCountsPublisher(CountsPublisher):
    """Count changes are PUBLISHed on ``<prefix>notifications:<user id>`` as a JSON object
    ``{"user_id": ..., "feed": <feed key>, "unseen": n, "unread": n}``; every event (counts and
    new entries) is also appended to the user's stream ``<prefix>realtime:{<user id>}``, which
    the HTTP API reads (XREAD) and resumes from."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        #: The asyncio client of each event loop that streams (an API process has one).
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        #: And its reader, which serves every stream of the loop with one XREAD.
        self._readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedStreamReader] = (
            weakref.WeakKeyDictionary()
        )

    def channel(self, user_id: str) -> str:
        return f"{self.prefix}notifications:{user_id}"

    def stream(self, user_id: str) -> str:
        """The user's kept events (a Redis stream), for clients that reconnect."""
        return f"{self.prefix}realtime:{{{user_id}}}"

    def _append(self, pipe: Any, user_id: str, message: dict[Any, Any]) -> None:
        pipe.xadd(self.stream(user_id), {"data": json.dumps(message)}, maxlen=REALTIME_KEEP, approximate=True)

    def publish(self, user_id: str, feed_key: str, unseen: int, unread: int) -> None:
        message = counts_message(user_id, feed_key, unseen, unread)
        pipe = self.client.pipeline(transaction=False)
        self._append(pipe, user_id, {"type": "counts", **message})
        pipe.execute()
        # Apart: a cluster pipeline refuses PUBLISH.
        self.client.publish(self.channel(user_id), json.dumps(message))

    def publish_many(self, changes: Sequence[tuple[str, str, int, int]]) -> None:
        if len(changes) < 2 or isinstance(self.client, redis.RedisCluster):
            super().publish_many(changes)
            return
        pipe = self.client.pipeline(transaction=False)
        for user_id, feed_key, unseen, unread in changes:
            message = counts_message(user_id, feed_key, unseen, unread)
            self._append(pipe, user_id, {"type": "counts", **message})
            pipe.publish(self.channel(user_id), json.dumps(message))
        pipe.execute()

    def listeners_key(self) -> str:
        """Users with a realtime client, scored by when that lapses (milliseconds)."""
        return f"{self.prefix}realtime:listening"

    def listen(self, user_id: str, seconds: float) -> None:
        now = time.time() * 1000
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.listeners_key(), {user_id: now + seconds * 1000})
        pipe.zremrangebyscore(self.listeners_key(), "-inf", now)
        pipe.execute()

    def listening(self, user_ids: Sequence[str]) -> set[str]:
        if not user_ids:
            return set()
        now = time.time() * 1000
        # Listeners are usually far fewer than a fanout's recipients: all of them, if there are
        # no more than the users asked about, cost one small reply instead of a score per user.
        online = self.client.zrangebyscore(self.listeners_key(), f"({now}", "+inf", 0, len(user_ids) + 1)
        if len(online) <= len(user_ids):
            return {u.decode() for u in online}.intersection(user_ids)
        scores = self.client.zmscore(self.listeners_key(), list(user_ids))
        return {u for u, score in zip(user_ids, scores, strict=True) if score is not None and score > now}

    def listeners(self) -> list[str]:
        now = time.time() * 1000
        return sorted(u.decode() for u in self.client.zrangebyscore(self.listeners_key(), f"({now}", "+inf"))

    def publish_entries(self, entries: Sequence[NewEntries | ReactionCountsChanged]) -> None:
        if not entries:
            return
        pipe = self.client.pipeline(transaction=False)
        for entry in entries:
            self._append(pipe, entry.user_id, entry.message())
        pipe.execute()

    # -- streams on the event loop: a blocked XREAD holds a connection, not a thread -----------

    def _async(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = _async_twin(self.client)
        return client

    def valid_event_id(self, event_id: str) -> bool:
        match = _STREAM_ID.fullmatch(event_id)
        return match is not None and all(int(part) < 2**64 for part in match.groups() if part)

    async def resume(self, user_id: str, after: str | None) -> tuple[str, bool]:
        try:
            info = await self._async().xinfo_stream(self.stream(user_id))
        except redis.exceptions.ResponseError:  # no stream: nothing was ever kept for the user
            return "0-0", after is not None and _stream_id(after) > (0, 0)
        last = _stream_id(info["last-generated-id"].decode())
        if after is None:
            return f"{last[0]}-{last[1]}", False
        if _stream_id(after) > last:  # not an id this log gave: start from now
            return f"{last[0]}-{last[1]}", True
        first = info.get("first-entry")
        trimmed = info["entries-added"] > info["length"]
        return after, bool(trimmed and first and _stream_id(after) < _stream_id(first[0].decode()))

    async def read_async(self, user_id: str, after: str, timeout: float) -> list[tuple[str, dict[Any, Any]]]:
        if not isinstance(self.client, redis.RedisCluster):
            loop = asyncio.get_running_loop()
            reader = self._readers.get(loop)
            if reader is None:
                reader = self._readers[loop] = SharedStreamReader(self._async(), self.prefix)
            return await reader.read(self.stream(user_id), after, timeout)
        # A cluster's users' logs lie in different slots, which one XREAD cannot span.
        found = await self._async().xread(
            {self.stream(user_id): after}, count=100, block=max(1, int(timeout * 1000))
        )
        return [
            (entry_id.decode(), json.loads(fields[b"data"]))
            for _, entries in found
            for entry_id, fields in entries
        ]

    async def listen_async(self, user_id: str, seconds: float) -> None:
        await self.listen_many_async([user_id], seconds)

    async def listen_many_async(self, user_ids: Sequence[str], seconds: float) -> None:
        if not user_ids:
            return
        now = time.time() * 1000
        pipe = self._async().pipeline(transaction=False)
        pipe.zadd(self.listeners_key(), dict.fromkeys(user_ids, now + seconds * 1000))
        pipe.zremrangebyscore(self.listeners_key(), "-inf", now)
        await pipe.execute()

    async def close_async(self) -> None:
        reader = self._readers.pop(asyncio.get_running_loop(), None)
        if reader is not None:
            await reader.close()
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def read(self, user_id: str, after: str | None, timeout: float) -> list[tuple[str, dict[Any, Any]]]:
        found = self.client.xread(
            {self.stream(user_id): after or "$"}, count=100, block=max(1, int(timeout * 1000))
        )
        return [
            (entry_id.decode(), json.loads(fields[b"data"]))
            for _, entries in found
            for entry_id, fields in entries
        ]


class NotReplicated(StreamfeedError, redis.exceptions.TimeoutError):
    """Too few replicas hold the writes yet: a transient fault, retried, never committed past."""


class RedisFailureLedger(FailureLedger):
    """``<prefix>failures:<record>``: a counter that expires after FAILURE_TTL."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def failed(self, record: str) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(f"{self.prefix}failures:{record}")
        pipe.expire(f"{self.prefix}failures:{record}", FAILURE_TTL)
        return int(pipe.execute()[0])

    def forget(self, record: str) -> None:
        self.client.delete(f"{self.prefix}failures:{record}")


class RedisStorageMarker(StorageMarker):
    """``<prefix>storage:identity``, beside the feeds it vouches for (each generation has one)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}storage:identity"
        self.lease_key = f"{prefix}storage:rebuild-lease"

    def read(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value is not None else None

    def claim(self, identity: str) -> str:
        self.client.set(self.key, identity, nx=True)
        return self.read() or identity

    def lease(self, holder: str, seconds: float) -> bool:
        taken: int = self.client.eval(LEASE, 1, self.lease_key, holder, max(1, round(seconds * 1000)))
        return taken == 1


class RedisBackend(Backend):
    name = "redis"
    activities: RedisActivityStorage
    timelines: RedisTimelineStorage
    aggregated: RedisAggregatedStorage
    follows: RedisFollowStorage
    reactions: RedisReactionStorage
    publisher: RedisCountsPublisher

    def __init__(
        self,
        client: Any,
        prefix: str = "sf:",
        forms: StoredForms | None = None,
        wait_replicas: int = 0,
        wait_timeout: float = 1.0,
    ) -> None:
        if wait_replicas and isinstance(client, redis.RedisCluster):
            raise ValueError(
                "STREAMFEED_REDIS_WAIT_REPLICAS is not supported on a Redis Cluster yet (WAIT covers "
                "one node's writes); set it to 0 or use a single primary with replicas"
            )
        forms = forms or StoredForms()
        self.forms = forms
        self.client = client
        self.prefix = prefix
        self.wait_replicas = wait_replicas
        self.wait_timeout = wait_timeout
        scripts = _Scripts(client)  # one SHA cache per connection, for every storage
        self.activities = RedisActivityStorage(client, forms, prefix, scripts)
        self.timelines = RedisTimelineStorage(client, self.activities, prefix, scripts)
        self.aggregated = RedisAggregatedStorage(client, forms, prefix, scripts)
        self.follows = RedisFollowStorage(client, prefix)
        self.reactions = RedisReactionStorage(client, prefix)
        self.publisher = RedisCountsPublisher(client, prefix)
        self.failures = RedisFailureLedger(client, prefix)
        self.marker = RedisStorageMarker(client, prefix)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "sf:", wait_replicas: int = 0, wait_timeout: float = 1.0
    ) -> RedisBackend:
        return cls(redis_client(url), prefix, wait_replicas=wait_replicas, wait_timeout=wait_timeout)

    def make_durable(self) -> None:
        """WAIT for wait_replicas replicas. WAIT covers the writes of the connection it is sent
        on, and the replication stream is one sequence: a write sent on the same connection
        just before it comes after every write this process finished, so acknowledging it
        acknowledges them all."""
        if not self.wait_replicas:
            return
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(f"{self.prefix}durable")
        pipe.execute_command("WAIT", self.wait_replicas, int(self.wait_timeout * 1000))
        acknowledged = int(pipe.execute()[1])
        if acknowledged < self.wait_replicas:
            raise NotReplicated(
                f"{acknowledged} of {self.wait_replicas} Redis replicas acknowledged the writes "
                f"within {self.wait_timeout:g}s (STREAMFEED_REDIS_WAIT_REPLICAS)"
            )

    def ranking_window(
        self, key: str, limit: int, top: str | None, kinds: Sequence[str]
    ) -> tuple[list[str], list[dict[str, int]]]:
        """One script call on a single Redis (the window's ids, states checked in Redis, and the
        kinds' counts); a Cluster spreads a window's keys over slots: two round trips."""
        if not self.timelines.single_node:
            return super().ranking_window(key, limit, top, kinds)
        args = [
            self.activities.key(""),
            limit,
            top or "",
            "" if top is None else _score_of(top),
            self.prefix,
            *kinds,
        ]
        ids, sizes = self.timelines.scripts.call(self.client, RANKING_WINDOW, [self.timelines.key(key)], args)
        found = iter(sizes)
        return [i.decode() for i in ids], [{kind: next(found) for kind in kinds} for _ in ids]

    def close(self) -> None:
        self.client.close()
