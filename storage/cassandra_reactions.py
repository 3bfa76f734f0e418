"""Reactions on Cassandra: states by activity, live reactions by (activity, target, kind) and by
(activity, target, user), newest first by their clustering order.

Tables (created by schema sync with the others, `REACTION_TABLES`):

- ``reaction_states``: one partition per activity, a row per reaction id with its state (JSON);
- ``reactions_by_kind``: one partition per (activity, target, kind), rows clustered by
  (time, reaction id) descending: a page is one slice of it, `(time, reaction_id) < cursor`;
- ``reactions_by_user``: the same per (activity, target, user): "did I like this";
- ``reaction_kinds``: the kinds ever seen on a target, so counts know what to count.

An activity's changes are one LOGGED batch: its entries and states land together or, after a
timeout, are finished by the batchlog; every write is an absolute insert or delete fixed by the
old and new state, so a batch applied again (a redelivery) writes the same rows. Counts are
COUNT(*) of the kind's partition: exact whatever was redelivered, a read of the partition
(fine for the counts a page shows; a hot activity's millions of likes would want a counter
kept beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement

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

#: table -> (columns with CQL types, primary key and options), as storage.cassandra.TABLES.
REACTION_TABLES: dict[str, tuple[dict[str, str], str]] = {
    "reaction_states": (
        {"activity_id": "text", "reaction_id": "text", "state": "text"},
        "PRIMARY KEY (activity_id, reaction_id)",
    ),
    "reactions_by_kind": (
        {"activity_id": "text", "target": "text", "kind": "text", "time": "bigint", "reaction_id": "text"},
        "PRIMARY KEY ((activity_id, target, kind), time, reaction_id)) "
        "WITH CLUSTERING ORDER BY (time DESC, reaction_id DESC",
    ),
    "reactions_by_user": (
        {"activity_id": "text", "target": "text", "user_id": "text", "time": "bigint", "reaction_id": "text"},
        "PRIMARY KEY ((activity_id, target, user_id), time, reaction_id)) "
        "WITH CLUSTERING ORDER BY (time DESC, reaction_id DESC",
    ),
    "reaction_kinds": (
        {"activity_id": "text", "target": "text", "kind": "text"},
        "PRIMARY KEY ((activity_id, target), kind)",
    ),
}


class PreparedStatements(Protocol):
    """What the backend shares with its storages: the session, a statement cache, a consistency."""

    session: Session
    consistency: int

    def __call__(self, cql: str) -> PreparedStatement: ...


class CassandraReactionStorage(ReactionStorage):
    def __init__(self, statements: PreparedStatements) -> None:
        self.statements = statements

    def _run(self, queries: Sequence[tuple[PreparedStatement, tuple[Any, ...]]]) -> list[list[Any]]:
        """Run the queries side by side; their rows, in order."""
        session = self.statements.session
        futures = [session.execute_async(query, args) for query, args in queries]
        return [list(future.result()) for future in futures]

    def states(self, keys: Sequence[ReactionKey]) -> dict[ReactionKey, ReactionState]:
        by_activity: dict[str, list[str]] = {}
        for activity_id, reaction_id in keys:
            by_activity.setdefault(activity_id, []).append(reaction_id)
        select = self.statements(
            "SELECT reaction_id, state FROM {ks}.reaction_states WHERE activity_id = ? AND reaction_id IN ?"
        )
        activities = list(by_activity)
        found = self._run([(select, (a, by_activity[a])) for a in activities])
        return {
            (activity_id, rid): state_from_json(rid, text)
            for activity_id, rows in zip(activities, found, strict=True)
            for rid, text in rows
        }

    def _write(self, changes: Sequence[ReactionChange]) -> None:
        """A logged batch per activity, all activities' batches in flight at once."""
        s = self.statements
        delete_kind = s(
            "DELETE FROM {ks}.reactions_by_kind WHERE activity_id = ? AND target = ? AND kind = ? "
            "AND time = ? AND reaction_id = ?"
        )
        delete_user = s(
            "DELETE FROM {ks}.reactions_by_user WHERE activity_id = ? AND target = ? AND user_id = ? "
            "AND time = ? AND reaction_id = ?"
        )
        insert_kind = s(
            "INSERT INTO {ks}.reactions_by_kind (activity_id, target, kind, time, reaction_id) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        insert_user = s(
            "INSERT INTO {ks}.reactions_by_user (activity_id, target, user_id, time, reaction_id) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        insert_known = s("INSERT INTO {ks}.reaction_kinds (activity_id, target, kind) VALUES (?, ?, ?)")
        insert_state = s(
            "INSERT INTO {ks}.reaction_states (activity_id, reaction_id, state) VALUES (?, ?, ?)"
        )
        by_activity: dict[str, list[ReactionChange]] = {}
        for change in changes:
            by_activity.setdefault(change[0], []).append(change)
        batches = []
        for activity_changes in by_activity.values():
            batch = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=s.consistency)
            out, into = self.moves(activity_changes)
            for activity_id, entry in out:
                at = sort_key_for(entry.time)
                batch.add(delete_kind, (activity_id, entry.on, entry.kind, at, entry.reaction_id))
                batch.add(delete_user, (activity_id, entry.on, entry.user_id, at, entry.reaction_id))
            for activity_id, entry in into:
                at = sort_key_for(entry.time)
                batch.add(insert_known, (activity_id, entry.on, entry.kind))
                batch.add(insert_kind, (activity_id, entry.on, entry.kind, at, entry.reaction_id))
                batch.add(insert_user, (activity_id, entry.on, entry.user_id, at, entry.reaction_id))
            for activity_id, _, new in activity_changes:
                batch.add(insert_state, (activity_id, new.reaction_id, state_json(new)))
            batches.append(batch)
        futures = [s.session.execute_async(batch) for batch in batches]
        for future in futures:
            future.result()

    def counts(self, targets: Sequence[Target]) -> list[dict[str, int]]:
        kinds_of = self.statements(
            "SELECT kind FROM {ks}.reaction_kinds WHERE activity_id = ? AND target = ?"
        )
        kinds = [[row[0] for row in rows] for rows in self._run([(kinds_of, t) for t in targets])]
        count = self.statements(
            "SELECT COUNT(*) FROM {ks}.reactions_by_kind WHERE activity_id = ? AND target = ? AND kind = ?"
        )
        asked = [(target, kind) for target, names in zip(targets, kinds, strict=True) for kind in names]
        sizes = self._run([(count, (*target, kind)) for target, kind in asked])
        found: list[dict[str, int]] = [{} for _ in targets]
        place = {target: n for n, target in enumerate(targets)}
        for (target, kind), rows in zip(asked, sizes, strict=True):
            if rows[0][0]:
                found[place[target]][kind] = int(rows[0][0])
        return found

    def kind_counts(self, targets: Sequence[Target], kinds: Sequence[str]) -> list[dict[str, int]]:
        """The kinds asked, counted directly: one concurrent round of COUNT(*)s, no kinds lookup."""
        count = self.statements(
            "SELECT COUNT(*) FROM {ks}.reactions_by_kind WHERE activity_id = ? AND target = ? AND kind = ?"
        )
        sizes = iter(self._run([(count, (*target, kind)) for target in targets for kind in kinds]))
        return [{kind: int(next(sizes)[0][0]) for kind in kinds} for _ in targets]

    def newest(
        self, target: Target, kind: str, limit: int, before: ReactionCursor | None = None
    ) -> list[ReactionState]:
        where = "activity_id = ? AND target = ? AND kind = ?"
        if before is None:
            select = self.statements(
                f"SELECT reaction_id FROM {{ks}}.reactions_by_kind WHERE {where} LIMIT ?"
            )
            args: tuple[Any, ...] = (*target, kind, limit)
        else:
            select = self.statements(
                f"SELECT reaction_id FROM {{ks}}.reactions_by_kind WHERE {where} "
                "AND (time, reaction_id) < (?, ?) LIMIT ?"
            )
            args = (*target, kind, *before, limit)
        ids = [row[0] for row in self.statements.session.execute(select, args)]
        states = self.states([(target[0], rid) for rid in ids])
        return [states[(target[0], rid)] for rid in ids]

    def own(self, targets: Sequence[Target], user_id: str) -> list[list[ReactionState]]:
        select = self.statements(
            "SELECT reaction_id FROM {ks}.reactions_by_user "
            "WHERE activity_id = ? AND target = ? AND user_id = ?"
        )
        found = [[row[0] for row in rows] for rows in self._run([(select, (*t, user_id)) for t in targets])]
        states = self.states([(t[0], rid) for t, ids in zip(targets, found, strict=True) for rid in ids])
        return [[states[(t[0], rid)] for rid in ids] for t, ids in zip(targets, found, strict=True)]
