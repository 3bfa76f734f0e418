"""Reactions on Redis (Cluster-safe: every key of an activity's reactions shares its hash tag).

``rx:{A}:states``: a hash of reaction id -> state (JSON); ``rx:{A}:kinds:<on>``: the kinds
ever seen on a target; ``rx:{A}:kind:<on>:<kind>``: the live reactions of a kind, a sorted set
scored by time in microseconds (equal times by id, as memory orders them);
``rx:{A}:user:<on>:<user>``: a user's own, the same way. Counts are the sorted sets' sizes, so
an entry added twice counts once. A batch's changes are atomic: on a single Redis one script
call writes them all (one command with every argument, where a pipeline of five commands per
reaction cost redis-py most of the step's time); on a Cluster each activity's are one
MULTI/EXEC (its keys share a slot, and nothing atomic spans slots).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from streamfeed.domain.ids import sort_key_for
from streamfeed.domain.reactions import ReactionState, ReactionSummary, index_entries
from streamfeed.storage.reactions import (
    ReactionChange,
    ReactionCursor,
    ReactionKey,
    ReactionStorage,
    Target,
    state_from_json,
    state_json,
)

#: Applies a batch's changes: per reaction, its activity, id, new state and the index entries to
#: take out (on, kind, user) and to put in (on, kind, user, score). Keys are built here from the
#: prefix, as `_key` builds them: a single Redis only (a Cluster takes the MULTI path).
APPLY_SCRIPT = """
local prefix, i = ARGV[1], 2
while i <= #ARGV do
  local rid, state = ARGV[i + 1], ARGV[i + 2]
  local base = prefix .. 'rx:{' .. ARGV[i] .. '}:'
  local taken = tonumber(ARGV[i + 3])
  i = i + 4
  for _ = 1, taken do
    redis.call('ZREM', base .. 'kind:' .. ARGV[i] .. ':' .. ARGV[i + 1], rid)
    redis.call('ZREM', base .. 'user:' .. ARGV[i] .. ':' .. ARGV[i + 2], rid)
    i = i + 3
  end
  local put = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, put do
    redis.call('SADD', base .. 'kinds:' .. ARGV[i], ARGV[i + 1])
    redis.call('ZADD', base .. 'kind:' .. ARGV[i] .. ':' .. ARGV[i + 1], ARGV[i + 3], rid)
    redis.call('ZADD', base .. 'user:' .. ARGV[i] .. ':' .. ARGV[i + 2], ARGV[i + 3], rid)
    i = i + 4
  end
  redis.call('HSET', base .. 'states', rid, state)
end
return 1
"""


#: What a feed page shows of its activities' reactions, in one call: per target, each kind with
#: a live count, its size and newest `per_kind` (id, state) pairs, then the reader's own pairs.
# Sizes of the kind indexes of many targets (a ranked read's window). ARGV: prefix, the kinds
# separated by spaces, the targets as "activity_id on" pairs separated by spaces (ids and kinds hold
# no spaces: one argument each instead of hundreds to encode); the keys are built as _key builds them.
KIND_COUNTS_SCRIPT = """
local prefix, kinds, sizes = ARGV[1], {}, {}
for kind in string.gmatch(ARGV[2], '%S+') do kinds[#kinds + 1] = kind end
local words = {}
for word in string.gmatch(ARGV[3], '%S+') do words[#words + 1] = word end
for n = 1, #words, 2 do
  local base = prefix .. 'rx:{' .. words[n] .. '}:kind:' .. words[n + 1] .. ':'
  for _, kind in ipairs(kinds) do sizes[#sizes + 1] = redis.call('ZCARD', base .. kind) end
end
return sizes
"""

# Sizes of a user's own index on many targets. ARGV: prefix, user, targets as "activity_id on"
# pairs separated by spaces (as KIND_COUNTS_SCRIPT).
OWN_COUNTS_SCRIPT = """
local prefix, user, sizes, words = ARGV[1], ARGV[2], {}, {}
for word in string.gmatch(ARGV[3], '%S+') do words[#words + 1] = word end
for n = 1, #words, 2 do
  local key = prefix .. 'rx:{' .. words[n] .. '}:user:' .. words[n + 1] .. ':' .. user
  sizes[#sizes + 1] = redis.call('ZCARD', key)
end
return sizes
"""

PAGE_SCRIPT = """
local prefix, user, per_kind = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function with_states(states, ids)
  local pairs_out = {}
  if #ids > 0 then
    local values = redis.call('HMGET', states, unpack(ids))
    for n = 1, #ids do
      if values[n] then
        pairs_out[#pairs_out + 1] = ids[n]
        pairs_out[#pairs_out + 1] = values[n]
      end
    end
  end
  return pairs_out
end
local out, i = {}, 4
while i <= #ARGV do
  local on = ARGV[i + 1]
  local base = prefix .. 'rx:{' .. ARGV[i] .. '}:'
  local states = base .. 'states'
  i = i + 2
  local kinds = redis.call('SMEMBERS', base .. 'kinds:' .. on)
  table.sort(kinds)
  local by_kind = {}
  for _, kind in ipairs(kinds) do
    local key = base .. 'kind:' .. on .. ':' .. kind
    local size = redis.call('ZCARD', key)
    if size > 0 then
      local shown = {}
      if per_kind > 0 then
        shown = with_states(states, redis.call('ZREVRANGE', key, 0, per_kind - 1))
      end
      by_kind[#by_kind + 1] = {kind, size, shown}
    end
  end
  local own = {}
  if user ~= '' then
    own = with_states(states, redis.call('ZREVRANGE', base .. 'user:' .. on .. ':' .. user, 0, -1))
  end
  out[#out + 1] = {by_kind, own}
end
return out
"""


class RedisReactionStorage(ReactionStorage):
    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.single_node = not isinstance(client, redis.RedisCluster)
        self._shas: dict[str, str] = {}

    def _key(self, activity_id: str, *parts: str) -> str:
        return ":".join([f"{self.prefix}rx:{{{activity_id}}}", *parts])

    def states(self, keys: Sequence[ReactionKey]) -> dict[ReactionKey, ReactionState]:
        if not keys:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for activity_id, reaction_id in keys:
            pipe.hget(self._key(activity_id, "states"), reaction_id)
        found = pipe.execute()
        return {
            key: state_from_json(key[1], raw) for key, raw in zip(keys, found, strict=True) if raw is not None
        }

    def _write(self, changes: Sequence[ReactionChange]) -> None:
        """An activity's entries and states change together or not at all: one MULTI/EXEC for
        the batch on a single Redis, one per activity on a Cluster."""
        by_activity: dict[str, list[ReactionChange]] = {}
        for change in changes:
            by_activity.setdefault(change[0], []).append(change)
        if self.single_node:
            self._run_apply([self.prefix, *self._script_args(changes)])
            return
        for activity_changes in by_activity.values():
            pipe = self.client.pipeline(transaction=True)
            self._queue(pipe, activity_changes)
            pipe.execute()

    @staticmethod
    def _script_args(changes: Sequence[ReactionChange]) -> list[Any]:
        args: list[Any] = []
        for activity_id, old, new in changes:
            was, now = index_entries(old), index_entries(new)
            taken, put = sorted(was - now), sorted(now - was)
            args += [activity_id, new.reaction_id, state_json(new), len(taken)]
            for entry in taken:
                args += [entry.on, entry.kind, entry.user_id]
            args.append(len(put))
            for entry in put:
                args += [entry.on, entry.kind, entry.user_id, sort_key_for(entry.time)]
        return args

    def _run_apply(self, args: list[Any]) -> None:
        self._run(APPLY_SCRIPT, args)

    def _run(self, script: str, args: list[Any]) -> Any:
        """EVALSHA, loading the script first and again if Redis lost it (a restart)."""
        for attempt in (1, 2):
            sha = self._shas.get(script)
            if sha is None:
                sha = self._shas[script] = self.client.script_load(script)
            try:
                return self.client.evalsha(sha, 0, *args)
            except redis.exceptions.NoScriptError:
                self._shas.clear()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _queue(self, pipe: Any, activity_changes: Sequence[ReactionChange]) -> None:
        """Queue one activity's moves and states on a transaction."""
        out, into = self.moves(activity_changes)
        for activity_id, entry in out:
            pipe.zrem(self._key(activity_id, "kind", entry.on, entry.kind), entry.reaction_id)
            pipe.zrem(self._key(activity_id, "user", entry.on, entry.user_id), entry.reaction_id)
        for activity_id, entry in into:
            score = sort_key_for(entry.time)
            pipe.sadd(self._key(activity_id, "kinds", entry.on), entry.kind)
            pipe.zadd(self._key(activity_id, "kind", entry.on, entry.kind), {entry.reaction_id: score})
            pipe.zadd(self._key(activity_id, "user", entry.on, entry.user_id), {entry.reaction_id: score})
        for activity_id, _, new in activity_changes:
            pipe.hset(self._key(activity_id, "states"), new.reaction_id, state_json(new))

    def counts(self, targets: Sequence[Target]) -> list[dict[str, int]]:
        if not targets:
            return []
        pipe = self.client.pipeline(transaction=False)
        for activity_id, on in targets:
            pipe.smembers(self._key(activity_id, "kinds", on))
        kinds = [sorted(k.decode() for k in found) for found in pipe.execute()]
        pipe = self.client.pipeline(transaction=False)
        for (activity_id, on), names in zip(targets, kinds, strict=True):
            for kind in names:
                pipe.zcard(self._key(activity_id, "kind", on, kind))
        sizes = iter(pipe.execute())
        counted = [{kind: next(sizes) for kind in names} for names in kinds]
        return [{kind: size for kind, size in found.items() if size} for found in counted]

    def kind_counts(self, targets: Sequence[Target], kinds: Sequence[str]) -> list[dict[str, int]]:
        """One script call on a single Redis; a pipeline of ZCARDs (a round trip per node) on a
        Cluster, where an activity's keys share a slot but a window's do not."""
        if not targets or not kinds:
            return [{} for _ in targets]
        if self.single_node:
            pairs = " ".join(f"{activity_id} {on}" for activity_id, on in targets)
            sizes = iter(self._run(KIND_COUNTS_SCRIPT, [self.prefix, " ".join(kinds), pairs]))
        else:
            pipe = self.client.pipeline(transaction=False)
            for activity_id, on in targets:
                for kind in kinds:
                    pipe.zcard(self._key(activity_id, "kind", on, kind))
            sizes = iter(pipe.execute())
        return [{kind: next(sizes) for kind in kinds} for _ in targets]

    def summaries(
        self, targets: Sequence[Target], user_id: str | None, per_kind: int
    ) -> list[ReactionSummary]:
        """One script call for a whole page on a single Redis; on a Cluster three round trips
        (the kinds on each target and the reader's own ids; the size and newest ids of each
        kind; the states of every id shown)."""
        if not targets:
            return []
        if self.single_node:
            args: list[Any] = [self.prefix, user_id or "", per_kind]
            for activity_id, on in targets:
                args += [activity_id, on]
            return [self._page_entry(reply) for reply in self._run(PAGE_SCRIPT, args)]
        pipe = self.client.pipeline(transaction=False)
        for activity_id, on in targets:
            pipe.smembers(self._key(activity_id, "kinds", on))
            if user_id is not None:
                pipe.zrevrange(self._key(activity_id, "user", on, user_id), 0, -1)
        first = iter(pipe.execute())
        kinds: list[list[str]] = []
        own_ids: list[list[str]] = []
        for _ in targets:
            kinds.append(sorted(k.decode() for k in next(first)))
            own_ids.append([m.decode() for m in next(first)] if user_id is not None else [])
        pipe = self.client.pipeline(transaction=False)
        for (activity_id, on), names in zip(targets, kinds, strict=True):
            for kind in names:
                pipe.zcard(self._key(activity_id, "kind", on, kind))
                if per_kind:
                    pipe.zrevrange(self._key(activity_id, "kind", on, kind), 0, per_kind - 1)
        second = iter(pipe.execute())
        counts: list[dict[str, int]] = []
        recent_ids: list[dict[str, list[str]]] = []
        for names in kinds:
            sizes, newest = {}, {}
            for kind in names:
                sizes[kind] = next(second)
                newest[kind] = [m.decode() for m in next(second)] if per_kind else []
            counts.append({kind: size for kind, size in sizes.items() if size})
            recent_ids.append({kind: ids for kind, ids in newest.items() if ids})
        wanted = {
            (target[0], rid)
            for target, mine, newest_ids in zip(targets, own_ids, recent_ids, strict=True)
            for rid in [*mine, *(r for ids in newest_ids.values() for r in ids)]
        }
        states = self.states(sorted(wanted))
        return [
            ReactionSummary(
                found,
                [states[(target[0], rid)] for rid in mine],
                {kind: [states[(target[0], rid)] for rid in ids] for kind, ids in newest_ids.items()},
            )
            for target, found, mine, newest_ids in zip(targets, counts, own_ids, recent_ids, strict=True)
        ]

    @staticmethod
    def _page_entry(reply: list[Any]) -> ReactionSummary:
        by_kind, own = reply

        def states(flat: list[bytes]) -> list[ReactionState]:
            return [state_from_json(flat[n].decode(), flat[n + 1]) for n in range(0, len(flat), 2)]

        counts = {kind.decode(): int(size) for kind, size, _ in by_kind}
        recent = {kind.decode(): states(shown) for kind, _, shown in by_kind if shown}
        return ReactionSummary(counts, states(own), recent)

    def newest(
        self, target: Target, kind: str, limit: int, before: ReactionCursor | None = None
    ) -> list[ReactionState]:
        key = self._key(target[0], "kind", target[1], kind)
        if before is None:
            ids = [m.decode() for m in self.client.zrevrange(key, 0, limit - 1)]
        else:
            at, last = before
            pipe = self.client.pipeline(transaction=False)
            pipe.zrangebyscore(key, at, at)  # the same time: ordered by id, as memory orders them
            pipe.zrevrangebyscore(key, f"({at}", "-inf", start=0, num=limit)
            same, older = pipe.execute()
            tied = sorted((m.decode() for m in same if m.decode() < last), reverse=True)
            ids = (tied + [m.decode() for m in older])[:limit]
        return self._live(target[0], ids)

    def own_counts(self, targets: Sequence[Target], user_id: str) -> list[int]:
        if not targets:
            return []
        if not self.single_node:
            pipe = self.client.pipeline(transaction=False)
            for activity_id, on in targets:
                pipe.zcard(self._key(activity_id, "user", on, user_id))
            return [int(size) for size in pipe.execute()]
        pairs = " ".join(f"{activity_id} {on}" for activity_id, on in targets)
        return [int(size) for size in self._run(OWN_COUNTS_SCRIPT, [self.prefix, user_id, pairs])]

    def own(self, targets: Sequence[Target], user_id: str) -> list[list[ReactionState]]:
        if not targets:
            return []
        pipe = self.client.pipeline(transaction=False)
        for activity_id, on in targets:
            pipe.zrevrange(self._key(activity_id, "user", on, user_id), 0, -1)
        found = [[m.decode() for m in ids] for ids in pipe.execute()]
        states = self.states(
            [(target[0], rid) for target, ids in zip(targets, found, strict=True) for rid in ids]
        )
        return [[states[(t[0], rid)] for rid in ids] for t, ids in zip(targets, found, strict=True)]

    def _live(self, activity_id: str, ids: list[str]) -> list[ReactionState]:
        states = self.states([(activity_id, rid) for rid in ids])
        return [states[(activity_id, rid)] for rid in ids]
