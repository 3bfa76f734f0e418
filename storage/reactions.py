"""Where reactions are kept: each reaction's state, and the entries live ones stand for.

Everything of one activity's reactions is written by one writer (the
activity's partition, or inline mode's single process), so applying events is
a read of their states, a fold (`streamfeed.domain.reactions.merged`), and a
write of what changed. The write changes an activity's index entries and its
states together or not at all (a Redis transaction; memory's lock): moving
entries first and storing states after would not do, since events redelivered
after a crash between the two may fold to another state (an ADD, then its
REMOVE in the same redelivered batch) and leave the first move's entry behind.
"""

from __future__ import annotations

import bisect
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from streamfeed.domain.ids import sort_key_for, time_for
from streamfeed.domain.reactions import (
    IndexEntry,
    ReactionEvent,
    ReactionIdentity,
    ReactionState,
    ReactionSummary,
    index_entries,
    merged,
)

#: (activity id, what the reactions are on): the activity itself, or a reaction of it.
Target = tuple[str, str]
#: (activity id, reaction id): where a reaction's state is kept.
ReactionKey = tuple[str, str]
#: (time in microseconds, reaction id) of the last reaction a page showed.
ReactionCursor = tuple[int, str]
#: A stored change: the activity, the state before (None: never seen) and after.
ReactionChange = tuple[str, ReactionState | None, ReactionState]


class ReactionStorage(ABC):
    """Per activity: reaction states by id; per (target, kind) the live reactions newest first
    by (time, id); per (target, user) the user's own."""

    def apply(self, events: Sequence[ReactionEvent]) -> list[ReactionChange]:
        """Fold events into their reactions' states and store what changed; returns the changes."""
        return self.apply_with_states(events)[0]

    def apply_with_states(
        self, events: Sequence[ReactionEvent]
    ) -> tuple[list[ReactionChange], dict[ReactionKey, ReactionState]]:
        """apply, also returning the state of every reaction the events touched (changed or not:
        what a step that acts on states, not on changes, needs after a redelivery)."""
        keys = sorted({(event.activity_id, event.reaction_id) for event in events})
        before = self.states(keys)
        after = dict(before)
        for event in events:
            key = (event.activity_id, event.reaction_id)
            after[key] = merged(after.get(key), event)
        changes = [(key[0], before.get(key), new) for key, new in after.items() if new != before.get(key)]
        if changes:
            self._write(changes)
        return changes, after

    @staticmethod
    def moves(
        changes: Sequence[ReactionChange],
    ) -> tuple[list[tuple[str, IndexEntry]], list[tuple[str, IndexEntry]]]:
        """The (activity, entry) pairs to take out and to put in for these changes."""
        out, into = [], []
        for activity_id, old, new in changes:
            was, now = index_entries(old), index_entries(new)
            out += [(activity_id, entry) for entry in sorted(was - now)]
            into += [(activity_id, entry) for entry in sorted(now - was)]
        return out, into

    @abstractmethod
    def states(self, keys: Sequence[ReactionKey]) -> dict[ReactionKey, ReactionState]:
        """The stored states of these reactions (absent: never seen)."""

    @abstractmethod
    def _write(self, changes: Sequence[ReactionChange]) -> None:
        """Move the changes' index entries (`moves`) and store their new states, an activity's
        all at once."""

    @abstractmethod
    def counts(self, targets: Sequence[Target]) -> list[dict[str, int]]:
        """Live reactions per kind on each target, kinds with none left out."""

    def own_counts(self, targets: Sequence[Target], user_id: str) -> list[int]:
        """How many live reactions the user has on each target: "did I react", for a whole ranked
        window at once. Servers override it with one round trip that reads no state."""
        return [len(mine) for mine in self.own(targets, user_id)]

    def kind_counts(self, targets: Sequence[Target], kinds: Sequence[str]) -> list[dict[str, int]]:
        """Live reactions of the given kinds on each target (0 included): what a ranked read
        asks of its whole window. Servers override it with one round trip."""
        return [{kind: found.get(kind, 0) for kind in kinds} for found in self.counts(targets)]

    @abstractmethod
    def newest(
        self, target: Target, kind: str, limit: int, before: ReactionCursor | None = None
    ) -> list[ReactionState]:
        """Up to `limit` live reactions of `kind` on target, newest first, older than `before`."""

    @abstractmethod
    def own(self, targets: Sequence[Target], user_id: str) -> list[list[ReactionState]]:
        """The user's live reactions on each target, newest first."""

    def summaries(
        self, targets: Sequence[Target], user_id: str | None, per_kind: int
    ) -> list[ReactionSummary]:
        """For a page: counts per kind, `user_id`'s own (none without one) and the newest
        `per_kind` of each kind, on each target. Servers override it to read a whole page in a
        few round trips, not a few per activity."""
        counts = self.counts(targets)
        own = self.own(targets, user_id) if user_id is not None else [[] for _ in targets]
        return [
            ReactionSummary(
                found,
                mine,
                {kind: self.newest(target, kind, per_kind) for kind in sorted(found)} if per_kind else {},
            )
            for target, found, mine in zip(targets, counts, own, strict=True)
        ]


def state_json(state: ReactionState) -> str:
    """A state as stored by servers (Redis): JSON with the times in microseconds."""
    identity = state.identity
    held: dict[str, Any] = {
        "identity": None
        if identity is None
        else {
            "kind": identity.kind,
            "user_id": identity.user_id,
            "activity_id": identity.activity_id,
            "parent_id": identity.parent_id,
            "time": sort_key_for(identity.time),
            "target_feeds": list(identity.target_feeds),
        },
        "identity_version": state.identity_version,
        "data": state.data,
        "data_key": list(state.data_key),
        "removed": state.removed,
    }
    return json.dumps(held, sort_keys=True, separators=(",", ":"))


def state_from_json(reaction_id: str, text: str | bytes) -> ReactionState:
    # Decoded here: json.loads would first guess the bytes' encoding, a fifth of its time on
    # a page of reactions (states are always written as UTF-8).
    held = json.loads(text.decode() if isinstance(text, bytes) else text)
    raw = held["identity"]
    identity = (
        None
        if raw is None
        else ReactionIdentity(
            raw["kind"],
            raw["user_id"],
            raw["activity_id"],
            raw["parent_id"],
            time_for(raw["time"]),
            tuple(raw["target_feeds"]),
        )
    )
    version, rank, data = held["data_key"]
    return ReactionState(
        reaction_id, identity, held["identity_version"], held["data"], (version, rank, data), held["removed"]
    )


def cursor_of(state: ReactionState) -> ReactionCursor:
    """Where a page that ends with this reaction goes on from."""
    assert state.identity is not None
    return (sort_key_for(state.identity.time), state.reaction_id)


class MemoryReactionStorage(ReactionStorage):
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self.stored: dict[ReactionKey, ReactionState] = {}
        #: (activity, on, kind) -> sorted (time, reaction id) of the live ones.
        self.by_kind: dict[tuple[str, str, str], list[ReactionCursor]] = {}
        #: (activity, on, user) -> sorted (time, reaction id) of the user's live ones.
        self.by_user: dict[tuple[str, str, str], list[ReactionCursor]] = {}

    def states(self, keys: Sequence[ReactionKey]) -> dict[ReactionKey, ReactionState]:
        with self.lock:
            return {key: self.stored[key] for key in keys if key in self.stored}

    def _write(self, changes: Sequence[ReactionChange]) -> None:
        out, into = self.moves(changes)
        with self.lock:
            for activity_id, entry in out:
                for index, key in self._indexes(activity_id, entry):
                    _discard(index.get(key, []), (sort_key_for(entry.time), entry.reaction_id))
            for activity_id, entry in into:
                for index, key in self._indexes(activity_id, entry):
                    _insert(index.setdefault(key, []), (sort_key_for(entry.time), entry.reaction_id))
            for activity_id, _, new in changes:
                self.stored[(activity_id, new.reaction_id)] = new

    def _indexes(
        self, activity_id: str, entry: IndexEntry
    ) -> list[tuple[dict[tuple[str, str, str], list[ReactionCursor]], tuple[str, str, str]]]:
        return [
            (self.by_kind, (activity_id, entry.on, entry.kind)),
            (self.by_user, (activity_id, entry.on, entry.user_id)),
        ]

    def counts(self, targets: Sequence[Target]) -> list[dict[str, int]]:
        with self.lock:
            found: list[dict[str, int]] = [{} for _ in targets]
            place = {target: n for n, target in enumerate(targets)}
            for (activity_id, on, kind), entries in self.by_kind.items():
                n = place.get((activity_id, on))
                if n is not None and entries:
                    found[n][kind] = len(entries)
            return found

    def newest(
        self, target: Target, kind: str, limit: int, before: ReactionCursor | None = None
    ) -> list[ReactionState]:
        with self.lock:
            entries = self.by_kind.get((*target, kind), [])
            end = len(entries) if before is None else bisect.bisect_left(entries, before)
            chosen = entries[max(0, end - limit) : end][::-1]
            return [self.stored[(target[0], reaction_id)] for _, reaction_id in chosen]

    def own(self, targets: Sequence[Target], user_id: str) -> list[list[ReactionState]]:
        with self.lock:
            return [
                [
                    self.stored[(target[0], rid)]
                    for _, rid in reversed(self.by_user.get((*target, user_id), []))
                ]
                for target in targets
            ]


def _insert(entries: list[ReactionCursor], item: ReactionCursor) -> None:
    at = bisect.bisect_left(entries, item)
    if at == len(entries) or entries[at] != item:
        entries.insert(at, item)


def _discard(entries: list[ReactionCursor], item: ReactionCursor) -> None:
    at = bisect.bisect_left(entries, item)
    if at < len(entries) and entries[at] == item:
        del entries[at]
