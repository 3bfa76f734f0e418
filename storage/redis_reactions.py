"""Reactions on Redis (Cluster-safe: every key of an activity's reactions shares its hash tag).

``rx:{A}:states``: a hash of reaction id -> state (JSON); ``rx:{A}:kinds:<on>``: the kinds
ever seen on a target; ``rx:{A}:kind:<on>:<kind>``: the live reactions of a kind, a sorted set
scored by time in microseconds (equal times by id, as memory orders them);
``rx:{A}:user:<on>:<user>``: a user's own, the same way. Counts are the sorted sets' sizes, so
an entry added twice counts once. An activity's changes are one transaction (MULTI/EXEC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamfeed.domain.ids import sort_key_for
from streamfeed.domain.reactions import ReactionState
from streamfeed.storage.reactions import (
    ReactionChange,
    ReactionCursor,
    ReactionKey,
    ReactionStorage,
    Target,
    state_from_json,
    state_json,
)


class RedisReactionStorage(ReactionStorage):
    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

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
        """One MULTI/EXEC per activity (its keys share a slot): its entries and states change
        together or not at all."""
        by_activity: dict[str, list[ReactionChange]] = {}
        for change in changes:
            by_activity.setdefault(change[0], []).append(change)
        for activity_changes in by_activity.values():
            out, into = self.moves(activity_changes)
            pipe = self.client.pipeline(transaction=True)
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
            pipe.execute()

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
