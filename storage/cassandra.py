"""Cassandra storage: one partition per feed, activities denormalized into the rows.

A page of a feed is one partition read, newest first by the clustering
order, with no second look-up: the activity's bytes sit in the row (Stream
Framework's Cassandra strategy). Writes to one partition go as one unlogged
batch, and batches for different feeds run concurrently. Every statement is
prepared once. Tables are created and extended by ``streamfeed schema sync``
(sync_schema below), never dropped.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType, PreparedStatement, tuple_factory

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.aggregation import AggregatedView, AggregatedWrite, FeedMeta, is_spilled
from streamfeed.domain.author_modes import ModeChanges, decode_changes, encode_changes
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.follow_state import FollowState, Unfollowed
from streamfeed.domain.ids import sort_key_for, time_for
from streamfeed.settings import check_keyspace_name
from streamfeed.storage.base import (
    FAILURE_TTL,
    ActivityStorage,
    AggregatedStorage,
    Backend,
    CountsPublisher,
    FailureLedger,
    FollowStorage,
    PageRequest,
    StorageMarker,
    TimelineStorage,
    WindowEntry,
    WindowQuery,
)
from streamfeed.storage.cassandra_reactions import REACTION_TABLES, CassandraReactionStorage
from streamfeed.storage.redis import RedisBackend
from streamfeed.storage.serialization import StoredForms, pending_from_text, pending_text

#: A flat feed's rows, newest first; its trim slack's rows have the same shape.
_TIMELINE: tuple[dict[str, str], str] = (
    {
        "feed_id": "text",
        "activity_id": "text",
        "activity": "blob",
        "version": "bigint",
        "added": "bigint",
        "removed": "boolean",
        "hidden": "boolean",
    },
    "PRIMARY KEY (feed_id, activity_id)) WITH CLUSTERING ORDER BY (activity_id DESC",
)

#: table -> (columns with CQL types, primary key and options). Columns may be added
#: here over time; schema sync adds the missing ones to existing tables.
TABLES: dict[str, tuple[dict[str, str], str]] = {
    "timeline": _TIMELINE,
    # Entries trimming cut, the newest trim_slack of them, unread: what a takeout refills from.
    "timeline_spill": _TIMELINE,
    "activities": (
        {
            "activity_id": "text",
            "activity": "blob",
            "version": "bigint",
            "added": "bigint",
            "removed": "boolean",
        },
        "PRIMARY KEY (activity_id)",
    ),
    "followers": (
        {"user_id": "text", "follower": "text", "since": "bigint"},
        "PRIMARY KEY (user_id, follower)",
    ),
    "unfollowed": (
        {"user_id": "text", "follower": "text", "since": "bigint", "version": "bigint"},
        "PRIMARY KEY (user_id, follower)",
    ),
    "following": ({"user_id": "text", "followed": "text"}, "PRIMARY KEY (user_id, followed)"),
    # Unexpected failures per record (storage.base.FailureLedger); rows expire with their TTL.
    "record_failures": ({"record": "text", "attempts": "int"}, "PRIMARY KEY (record)"),
    # The keyspace's identity (storage.base.StorageMarker): one row.
    "storage_identity": ({"bucket": "int", "identity": "text"}, "PRIMARY KEY (bucket)"),
    # Pulled authors are few: one partition (bucket 0) holds them all, read whole by a hybrid read.
    "author_modes": ({"bucket": "int", "author": "text", "changes": "text"}, "PRIMARY KEY (bucket, author)"),
    "aggregated": (
        {
            "feed_id": "text",
            "group_key": "text",
            "rank": "text",
            "data": "blob",
            "dormant": "boolean",
            "unseen": "int static",
            "unread": "int static",
            "seen_all": "bigint static",
            "read_all": "bigint static",
            # Marks by ids of groups not held yet (streamfeed.domain.aggregation.FeedMeta.pending).
            "pending": "text static",
        },
        "PRIMARY KEY (feed_id, group_key)",
    ),
    **REACTION_TABLES,
}


class SchemaConflict(StreamfeedError, RuntimeError):
    """The keyspace exists and belongs to something else: streamfeed will not add tables to it."""


def connect_cluster(hosts: list[str], port: int) -> Cluster:
    """A cluster whose rows are plain tuples: named tuples cost a third of a page read."""
    profile = ExecutionProfile(row_factory=tuple_factory)
    return Cluster(hosts, port=port, execution_profiles={EXEC_PROFILE_DEFAULT: profile})


#: Seconds to wait for a cluster's nodes to agree on the schema after DDL.
SCHEMA_AGREEMENT_WAIT = 30


def _ddl(session: Session, statement: str, attempts: int = 10) -> None:
    """Run DDL that names a keyspace a node may not know yet (another worker, starting at the
    same moment, created it through another node): wait for schema agreement and try again."""
    for attempt in range(attempts):
        try:
            session.execute(statement)
            return
        except InvalidRequest as error:
            if "doesn't exist" not in str(error) or attempt == attempts - 1:
                raise
            session.cluster.control_connection.wait_for_schema_agreement(wait_time=SCHEMA_AGREEMENT_WAIT)
            time.sleep(0.5)


def sync_schema(
    session: Session, keyspace: str, replication_factor: int = 1, adopt: bool = False
) -> list[str]:
    """Create the keyspace and tables if missing and add missing columns; returns what it did.

    A keyspace that exists with tables and none of ours belongs to something
    else: refused unless adopt.
    """
    check_keyspace_name(keyspace)
    done = []
    exists = session.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,)
    ).one()
    if exists is None:
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}"
        )
        done.append(f"created keyspace {keyspace}")
    else:
        tables = {
            row[0]
            for row in session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
            )
        }
        if tables and not tables & set(TABLES) and not adopt:
            raise SchemaConflict(
                f"keyspace {keyspace} holds tables of something else ({', '.join(sorted(tables)[:5])}); "
                "choose another STREAMFEED_CASSANDRA_KEYSPACE, or add ours to it with --adopt"
            )
    # On a cluster another worker may have just created the keyspace through another node: the
    # nodes that run the statements below must know it first.
    session.cluster.control_connection.wait_for_schema_agreement(wait_time=SCHEMA_AGREEMENT_WAIT)
    for table, (columns, key) in TABLES.items():
        present = {
            row[0]
            for row in session.execute(
                "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
                (keyspace, table),
            )
        }
        if not present:
            definition = ", ".join(f"{name} {kind}" for name, kind in columns.items())
            _ddl(session, f"CREATE TABLE IF NOT EXISTS {keyspace}.{table} ({definition}, {key})")
            done.append(f"created table {keyspace}.{table}")
            continue
        for name, kind in columns.items():
            if name not in present:
                _ddl(session, f"ALTER TABLE {keyspace}.{table} ADD {name} {kind}")
                done.append(f"added column {keyspace}.{table}.{name}")
    return done


class _Statements:
    """Prepared statements, made on first use and kept."""

    def __init__(self, session: Session, keyspace: str, consistency: int) -> None:
        self.session = session
        self.keyspace = keyspace
        self.consistency = consistency
        self._prepared: dict[str, PreparedStatement] = {}

    def __call__(self, cql: str) -> PreparedStatement:
        statement = self._prepared.get(cql)
        if statement is None:
            statement = self.session.prepare(cql.format(ks=self.keyspace))
            statement.consistency_level = self.consistency
            self._prepared[cql] = statement
        return statement

    def batch(self) -> BatchStatement:
        return BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=self.consistency)


class CassandraActivityStorage(ActivityStorage):
    """One row per activity, written USING TIMESTAMP its version: Cassandra keeps the newest."""

    def __init__(self, statements: _Statements, forms: StoredForms) -> None:
        self.statements = statements
        self.forms = forms

    def apply(self, states: Sequence[ActivityState]) -> None:
        columns = "(activity_id, activity, version, added, removed) VALUES (?, ?, ?, ?, ?)"
        live = self.statements(f"INSERT INTO {{ks}}.activities {columns} USING TIMESTAMP ?")
        removed = self.statements(f"INSERT INTO {{ks}}.activities {columns} USING TIMESTAMP ? AND TTL ?")
        session = self.statements.session
        futures = []
        for s in states:
            row = (s.id, self.forms.activity_bytes(s.activity), s.version, s.added, s.removed, s.version)
            if s.removed:
                futures.append(session.execute_async(removed, (*row, self.removed_ttl)))
            else:
                futures.append(session.execute_async(live, row))
        for future in futures:
            future.result()

    def get_states(
        self, activity_ids: Sequence[str], activity_class: type[Activity] = Activity
    ) -> dict[str, ActivityState]:
        if not activity_ids:
            return {}
        select = self.statements(
            "SELECT activity_id, activity, version, added, removed FROM {ks}.activities "
            "WHERE activity_id IN ?"
        )
        found = {}
        for start in range(0, len(activity_ids), 100):
            chunk = list(activity_ids[start : start + 100])
            for row in self.statements.session.execute(select, (chunk,)):
                found[row[0]] = _state(self.forms, row, activity_class, f"activities row {row[0]}")
        return found


def _state(
    forms: StoredForms, row: Sequence[Any], activity_class: type[Activity], where: str
) -> ActivityState:
    """A state from (id, activity bytes, version, added, removed)."""
    activity = forms.activity(row[1], activity_class, where)
    return ActivityState(activity, row[2] or 0, row[3] or 0, bool(row[4]))


def _run_all(session: Session, statement: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        execute_concurrent_with_args(session, statement, rows, raise_on_first_error=True)


_LOWER = {None: "", False: " AND activity_id > ?", True: " AND activity_id >= ?"}
_UPPER = {None: "", False: " AND activity_id < ?", True: " AND activity_id <= ?"}


class CassandraTimelineStorage(TimelineStorage):
    def __init__(
        self, statements: _Statements, forms: StoredForms, activities: CassandraActivityStorage
    ) -> None:
        self.statements = statements
        self.forms = forms
        self.activities = activities

    def add_batches(
        self,
        batches: Sequence[tuple[Sequence[str], Sequence[ActivityState]]],
        max_length: int | None,
        hidden: bool = False,
        slack: int = 0,
    ) -> None:
        """Every feed's unlogged batch in flight at once, then every trim at once.

        Rows hold the state the materializer read from activity storage, the
        newest there is; the materializer is the feed's only writer. A re-added
        entry may stay in the spill too (deleting it there would leave a
        tombstone per insert): a refill skips what the timeline holds.
        """
        insert = self.statements(
            "INSERT INTO {ks}.timeline (feed_id, activity_id, activity, version, added, removed, hidden) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        session = self.statements.session
        futures, touched = [], []
        for keys, states in batches:
            encoded = [
                (s.id, self.forms.activity_bytes(s.activity), s.version, s.added, s.removed, hidden)
                for s in states
            ]
            if not encoded:
                continue
            for key in keys:
                batch = self.statements.batch()
                for row in encoded:
                    batch.add(insert, (key, *row))
                futures.append(session.execute_async(batch))
                touched.append(key)
        for future in futures:
            future.result()
        if max_length is not None and touched:
            self._trim_many(list(dict.fromkeys(touched)), max_length, slack)

    _ROW = "activity_id, activity, version, added, removed, hidden"

    def _trim_many(self, keys: Sequence[str], max_length: int, slack: int = 0) -> None:
        """Range-delete everything older than the max_length-th newest id: one tombstone a feed;
        the newest `slack` rows cut are copied to the spill first, and the spill cut to slack."""
        select = self.statements("SELECT activity_id FROM {ks}.timeline WHERE feed_id = ? LIMIT ?")
        delete = self.statements("DELETE FROM {ks}.timeline WHERE feed_id = ? AND activity_id <= ?")
        session = self.statements.session
        futures = [(key, session.execute_async(select, (key, max_length + 1))) for key in keys]
        cuts = []
        for key, future in futures:
            rows = list(future.result())
            if len(rows) > max_length:
                cuts.append((key, rows[max_length][0]))
        if slack > 0 and cuts:
            self._spill(cuts, slack)
        _run_all(session, delete, cuts)

    def _spill(self, cuts: Sequence[tuple[str, str]], slack: int) -> None:
        """Copy the newest `slack` rows at or below each cut into the feed's spill, then cut the
        spill to its newest `slack`."""
        session = self.statements.session
        cut_rows = self.statements(
            f"SELECT {self._ROW} FROM {{ks}}.timeline WHERE feed_id = ? AND activity_id <= ? LIMIT ?"
        )
        futures = [(key, session.execute_async(cut_rows, (key, cut, slack))) for key, cut in cuts]
        self._put_spill([(key, row) for key, future in futures for row in future.result()])
        spill_ids = self.statements("SELECT activity_id FROM {ks}.timeline_spill WHERE feed_id = ? LIMIT ?")
        futures = [(key, session.execute_async(spill_ids, (key, slack + 1))) for key, _ in cuts]
        over = []
        for key, future in futures:
            rows = list(future.result())
            if len(rows) > slack:
                over.append((key, rows[slack][0]))
        drop = self.statements("DELETE FROM {ks}.timeline_spill WHERE feed_id = ? AND activity_id <= ?")
        _run_all(session, drop, over)

    def _put_spill(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        insert = self.statements(
            f"INSERT INTO {{ks}}.timeline_spill (feed_id, {self._ROW}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        _run_all(self.statements.session, insert, [(key, *row) for key, row in rows])

    def hide(self, key: str, activity_ids: Sequence[str]) -> None:
        """Flag the rows the feed or its spill holds (an UPDATE of a missing row would create one)."""
        if not activity_ids:
            return
        session = self.statements.session
        for table in ("timeline", "timeline_spill"):
            select = self.statements(
                f"SELECT activity_id FROM {{ks}}.{table} WHERE feed_id = ? AND activity_id IN ?"
            )
            update = self.statements(
                f"UPDATE {{ks}}.{table} SET hidden = true WHERE feed_id = ? AND activity_id = ?"
            )
            present = []
            for start in range(0, len(activity_ids), 100):
                chunk = list(activity_ids[start : start + 100])
                present += [row[0] for row in session.execute(select, (key, chunk))]
            batch = self.statements.batch()
            for activity_id in present:
                batch.add(update, (key, activity_id))
            if len(batch):
                session.execute(batch)

    def hidden_ids(self, key: str) -> list[str]:
        select = self.statements("SELECT activity_id, hidden FROM {ks}.timeline WHERE feed_id = ?")
        return sorted(row[0] for row in self.statements.session.execute(select, (key,)) if row[1])

    def windows(self, queries: Sequence[WindowQuery]) -> list[list[WindowEntry]]:
        """Every query in flight at once: the latency of one partition read."""
        session = self.statements.session
        futures = []
        for query in queries:
            cql = "SELECT activity_id, hidden FROM {ks}.timeline WHERE feed_id = ?"
            args: list[Any] = [query.key]
            lower, upper = query.id_bounds()
            if lower is not None:
                cql += " AND activity_id >= ?"
                args.append(lower)
            if upper is not None:
                cql += " AND activity_id < ?"
                args.append(upper)
            if query.limit is not None:
                cql += " LIMIT ?"
                args.append(query.limit)
            futures.append(session.execute_async(self.statements(cql), args))
        return [[(row[0], bool(row[1])) for row in future.result()] for future in futures]

    def remove_from_many(self, keys: Sequence[str], activity_ids: Sequence[str]) -> None:
        """Per feed: which of the ids it holds, then the deletes (timeline and spill), then the
        refill from the spill's newest rows the timeline does not hold."""
        if not activity_ids:
            return
        session = self.statements.session
        held = self.statements("SELECT activity_id FROM {ks}.timeline WHERE feed_id = ? AND activity_id IN ?")
        ids = list(dict.fromkeys(activity_ids))
        chunks = [ids[i : i + 100] for i in range(0, len(ids), 100)]
        futures = [(key, session.execute_async(held, (key, chunk))) for key in keys for chunk in chunks]
        taken: dict[str, int] = {}
        for key, future in futures:
            taken[key] = taken.get(key, 0) + len(list(future.result()))
        delete_rows = [(key, activity_id) for key in keys for activity_id in ids]
        for table in ("timeline", "timeline_spill"):
            delete = self.statements(f"DELETE FROM {{ks}}.{table} WHERE feed_id = ? AND activity_id = ?")
            _run_all(session, delete, delete_rows)
        for key, count in taken.items():
            if count:
                self._refill(key, count)

    def _refill(self, key: str, count: int) -> None:
        session = self.statements.session
        spill = self.statements(f"SELECT {self._ROW} FROM {{ks}}.timeline_spill WHERE feed_id = ?")
        rows = list(session.execute(spill, (key,)))
        if not rows:
            return
        held = self.statements("SELECT activity_id FROM {ks}.timeline WHERE feed_id = ? AND activity_id IN ?")
        present = {row[0] for row in session.execute(held, (key, [row[0] for row in rows]))}
        back = [row for row in rows if row[0] not in present][:count]
        # The spill's rows are copies from when they were cut: an update or removal since
        # rewrote only the timeline's, so each comes back with the activity's current state.
        current = self._current_rows([row[0] for row in back])
        insert = self.statements(
            f"INSERT INTO {{ks}}.timeline (feed_id, {self._ROW}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        _run_all(session, insert, [(key, row[0], *current.get(row[0], row[1:5]), row[5]) for row in back])
        delete = self.statements("DELETE FROM {ks}.timeline_spill WHERE feed_id = ? AND activity_id = ?")
        _run_all(session, delete, [(key, row[0]) for row in rows if row[0] in present or row in back])

    def _current_rows(self, activity_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """id -> (activity bytes, version, added, removed) as activity storage holds them now."""
        if not activity_ids:
            return {}
        select = self.statements(
            "SELECT activity_id, activity, version, added, removed FROM {ks}.activities "
            "WHERE activity_id IN ?"
        )
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(activity_ids), 100):
            for row in self.statements.session.execute(select, (list(activity_ids[start : start + 100]),)):
                found[row[0]] = tuple(row[1:5])
        return found

    def refresh(self, keys: Sequence[str], states: Sequence[ActivityState]) -> None:
        """Rewrite the denormalized rows with the newest state, only where a feed holds them."""
        select = self.statements(
            "SELECT activity_id FROM {ks}.timeline WHERE feed_id = ? AND activity_id = ?"
        )
        update = self.statements(
            "UPDATE {ks}.timeline SET activity = ?, version = ?, added = ?, removed = ? "
            "WHERE feed_id = ? AND activity_id = ?"
        )
        session = self.statements.session
        pairs = [(key, state) for key in keys for state in states]
        futures = [session.execute_async(select, (key, s.id)) for key, s in pairs]
        present = [(k, s) for (k, s), f in zip(pairs, futures, strict=True) if f.result().one()]
        rows = [
            (self.forms.activity_bytes(s.activity), s.version, s.added, s.removed, key, s.id)
            for key, s in present
        ]
        _run_all(session, update, rows)

    def entries(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        select = self.statements(
            "SELECT activity_id, activity, version, added, removed FROM {ks}.timeline WHERE feed_id = ?"
        )
        rows = self.statements.session.execute(select, (key,))
        states = [_state(self.forms, r, activity_class, f"timeline {key} row {r[0]}") for r in rows]
        return states[::-1]

    def spilled(self, key: str, activity_class: type[Activity] = Activity) -> list[ActivityState]:
        """The spill's rows the timeline does not hold too (a re-added entry stays in both)."""
        select = self.statements(
            "SELECT activity_id, activity, version, added, removed FROM {ks}.timeline_spill WHERE feed_id = ?"
        )
        rows = list(self.statements.session.execute(select, (key,)))
        if not rows:
            return []
        held = self.statements("SELECT activity_id FROM {ks}.timeline WHERE feed_id = ? AND activity_id IN ?")
        present = {r[0] for r in self.statements.session.execute(held, (key, [r[0] for r in rows]))}
        return [
            _state(self.forms, r, activity_class, f"timeline_spill {key} row {r[0]}")
            for r in reversed(rows)
            if r[0] not in present
        ]

    def _select(self, key: str, page: PageRequest, fetch: int | None) -> list[Any]:
        lower, upper = page.bounds.lower, page.bounds.upper
        cql = (
            "SELECT activity_id, activity, removed, hidden FROM {ks}.timeline WHERE feed_id = ?"
            + _LOWER[None if lower is None else lower[1]]
            + _UPPER[None if upper is None else upper[1]]
            + (" ORDER BY activity_id ASC" if page.ascending else "")
            + ("" if fetch is None else " LIMIT ?")
        )
        args: list[Any] = [key]
        args += [bound[0] for bound in (lower, upper) if bound is not None]
        if fetch is not None:
            args.append(fetch)
        return list(self.statements.session.execute(self.statements(cql), args))

    def _live_rows(self, key: str, page: PageRequest) -> list[Any]:
        """The page's rows, skipping removed and hidden ones: one partition read, a second only
        when many entries of the range are removed or hidden."""
        if page.limit == 0:
            return []
        wanted = None if page.limit is None else page.offset + page.limit
        fetch = None if wanted is None else wanted * 2 + 16
        if fetch is not None and fetch > 2**31 - 1:  # CQL's LIMIT is 32-bit: read the whole range
            fetch = None
        rows = self._select(key, page, fetch)
        live = [r for r in rows if not (r[2] or r[3])]
        if wanted is not None and len(live) < wanted and len(rows) == fetch:
            live = [r for r in self._select(key, page, None) if not (r[2] or r[3])]
        end = None if page.limit is None else page.offset + page.limit
        return live[page.offset : end]

    def get_ids(self, key: str, page: PageRequest) -> list[str]:
        return [row[0] for row in self._live_rows(key, page)]

    def get_page(
        self, key: str, page: PageRequest, activity_class: type[Activity] = Activity
    ) -> list[Activity]:
        return [
            self.forms.activity(row[1], activity_class, f"timeline {key} row {row[0]}")
            for row in self._live_rows(key, page)
        ]

    def count(self, key: str) -> int:
        select = self.statements("SELECT removed, hidden FROM {ks}.timeline WHERE feed_id = ?")
        return sum(not (row[0] or row[1]) for row in self.statements.session.execute(select, (key,)))

    def delete(self, key: str) -> None:
        for table in ("timeline", "timeline_spill"):
            self.statements.session.execute(
                self.statements(f"DELETE FROM {{ks}}.{table} WHERE feed_id = ?"), (key,)
            )

    def trim(self, key: str, max_length: int, slack: int = 0) -> None:
        self._trim_many([key], max_length, slack)


_executor: ThreadPoolExecutor | None = None


def _side_by_side(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run blocking storage calls in threads, return their results in order, and raise the
    first error only once every call has ended: a retry never overlaps a write still running."""
    global _executor
    if len(tasks) < 2:
        return [task() for task in tasks]
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cassandra-feeds")
    futures = [_executor.submit(task) for task in tasks]
    results, errors = [], []
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as error:
            errors.append(error)
    if errors:
        raise errors[0]
    return results


class CassandraAggregatedStorage(AggregatedStorage):
    def __init__(self, statements: _Statements, forms: StoredForms) -> None:
        self.statements = statements
        self.forms = forms

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
        select = self.statements(
            "SELECT group_key, rank, data, dormant FROM {ks}.aggregated WHERE feed_id = ?"
        )
        rows = [
            r
            for r in self.statements.session.execute(select, (key,))
            if r[0] is not None and (dormant or not r[3])
        ]
        rows.sort(key=lambda r: r[1], reverse=True)
        end = None if limit is None else offset + limit
        return [
            self.forms.aggregated(r[2], activity_class, aggregated_class, f"{key} group {r[0]!r}")
            for r in rows[offset:end]
        ]

    def get_ranks(self, key: str) -> list[tuple[str, str]]:
        select = self.statements("SELECT rank, group_key FROM {ks}.aggregated WHERE feed_id = ?")
        rows = [(r[0], r[1]) for r in self.statements.session.execute(select, (key,)) if r[1] is not None]
        return sorted(rows, reverse=True)

    def load_views(
        self,
        requests: Sequence[tuple[str, Sequence[str], int | None]],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> list[AggregatedView]:
        # Each view is a few queries; many recipients' views wait on the network side by side.
        return _side_by_side(
            [
                functools.partial(self.load_view, key, names, tail, activity_class, aggregated_class)
                for key, names, tail in requests
            ]
        )

    def write_many(self, changes: Sequence[tuple[str, AggregatedWrite]]) -> None:
        _side_by_side([functools.partial(self.write, key, change) for key, change in changes])

    def load_view(
        self,
        key: str,
        names: Sequence[str],
        tail_start: int | None,
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> AggregatedView:
        """Ranks and counts (static columns) in one partition read, then the groups needed."""
        select = self.statements(
            "SELECT rank, group_key, unseen, unread, seen_all, read_all, pending "
            "FROM {ks}.aggregated WHERE feed_id = ?"
        )
        rows = list(self.statements.session.execute(select, (key,)))
        meta = _meta(rows[0][2:]) if rows else FeedMeta()
        ranks = sorted(((r[0], r[1]) for r in rows if r[1] is not None), reverse=True)
        wanted = set(names)
        if tail_start is not None:  # groups kept aside rank last and are never pushed out
            wanted.update(name for rank, name in ranks[tail_start:] if not is_spilled(rank))
        groups = self.get_groups(key, sorted(wanted), activity_class, aggregated_class)
        return AggregatedView(groups, ranks, meta)

    def get_groups(
        self,
        key: str,
        names: Sequence[str],
        activity_class: type[Activity] = Activity,
        aggregated_class: type[AggregatedActivity] = AggregatedActivity,
    ) -> dict[str, AggregatedActivity]:
        if not names:
            return {}
        select = self.statements(
            "SELECT group_key, data FROM {ks}.aggregated WHERE feed_id = ? AND group_key IN ?"
        )
        rows = self.statements.session.execute(select, (key, list(names)))
        return {
            group: self.forms.aggregated(data, activity_class, aggregated_class, f"{key} group {group!r}")
            for group, data in rows
        }

    def write(self, key: str, change: AggregatedWrite) -> None:
        upsert = self.statements(
            "INSERT INTO {ks}.aggregated (feed_id, group_key, rank, data, dormant) VALUES (?, ?, ?, ?, ?)"
        )
        delete = self.statements("DELETE FROM {ks}.aggregated WHERE feed_id = ? AND group_key = ?")
        counts = self.statements(
            "UPDATE {ks}.aggregated SET unseen = ?, unread = ?, seen_all = ?, read_all = ?, pending = ? "
            "WHERE feed_id = ?"
        )
        batch = self.statements.batch()
        for group, rank, shown in change.stored():
            batch.add(upsert, (key, group.group, rank, self.forms.aggregated_bytes(group), not shown))
        for group_key in change.deletes:
            batch.add(delete, (key, group_key))
        if (meta := change.meta) is not None:
            marks = [None if t is None else sort_key_for(t) for t in (meta.seen_all, meta.read_all)]
            batch.add(counts, (meta.unseen, meta.unread, *marks, pending_text(meta.pending) or None, key))
        if len(batch):
            self.statements.session.execute(batch)

    def count(self, key: str) -> int:
        select = self.statements("SELECT group_key, dormant FROM {ks}.aggregated WHERE feed_id = ?")
        rows = self.statements.session.execute(select, (key,))
        return sum(1 for row in rows if row[0] is not None and not row[1])

    def meta(self, key: str) -> FeedMeta:
        select = self.statements(
            "SELECT unseen, unread, seen_all, read_all, pending "
            "FROM {ks}.aggregated WHERE feed_id = ? LIMIT 1"
        )
        row = self.statements.session.execute(select, (key,)).one()
        return FeedMeta() if row is None else _meta(row)

    def delete(self, key: str) -> None:
        self.statements.session.execute(
            self.statements("DELETE FROM {ks}.aggregated WHERE feed_id = ?"), (key,)
        )


def _meta(row: Sequence[Any]) -> FeedMeta:
    unseen, unread, seen_all, read_all, pending = row
    return FeedMeta(
        unseen or 0,
        unread or 0,
        None if seen_all is None else time_for(seen_all),
        None if read_all is None else time_for(read_all),
        pending_from_text(pending),
    )


class CassandraFollowStorage(FollowStorage):
    """Partitions: followers by user (with each follow's version), former followers by user
    (with the follow and unfollow versions), and whom each user follows."""

    def __init__(self, statements: _Statements) -> None:
        self.statements = statements

    def state(self, follower: str, followed: str) -> FollowState:
        session = self.statements.session
        since = self.statements("SELECT since FROM {ks}.followers WHERE user_id = ? AND follower = ?")
        ended = self.statements(
            "SELECT since, version FROM {ks}.unfollowed WHERE user_id = ? AND follower = ?"
        )
        futures = [session.execute_async(q, (followed, follower)) for q in (since, ended)]
        following, unfollowed = (f.result().one() for f in futures)
        if following is not None:
            return following[0] or 0
        return None if unfollowed is None else Unfollowed(unfollowed[0] or 0, unfollowed[1] or 0)

    def _store(self, follower: str, followed: str, old: FollowState, new: FollowState) -> None:
        if new is None:
            return
        statement = self.statements
        if isinstance(new, Unfollowed):
            writes = [
                (
                    statement(
                        "INSERT INTO {ks}.unfollowed (user_id, follower, since, version) VALUES (?, ?, ?, ?)"
                    ),
                    (followed, follower, new.since, new.version),
                ),
                (
                    statement("DELETE FROM {ks}.followers WHERE user_id = ? AND follower = ?"),
                    (followed, follower),
                ),
                (
                    statement("DELETE FROM {ks}.following WHERE user_id = ? AND followed = ?"),
                    (follower, followed),
                ),
            ]
        else:
            writes = [
                (
                    statement("INSERT INTO {ks}.followers (user_id, follower, since) VALUES (?, ?, ?)"),
                    (followed, follower, new),
                ),
                (
                    statement("DELETE FROM {ks}.unfollowed WHERE user_id = ? AND follower = ?"),
                    (followed, follower),
                ),
                (
                    statement("INSERT INTO {ks}.following (user_id, followed) VALUES (?, ?)"),
                    (follower, followed),
                ),
            ]
        futures = [self.statements.session.execute_async(q, args) for q, args in writes]
        for future in futures:
            future.result()

    def followers(self, user_id: str) -> list[str]:
        select = self.statements("SELECT follower FROM {ks}.followers WHERE user_id = ?")
        return [row[0] for row in self.statements.session.execute(select, (user_id,))]

    def followers_page(self, user_id: str, cursor: str | None, count: int) -> tuple[list[str], str | None]:
        """A slice of the partition in clustering order, after the last follower of the page
        before: each page one bounded read."""
        if cursor is None:
            select = self.statements("SELECT follower FROM {ks}.followers WHERE user_id = ? LIMIT ?")
            args: tuple[Any, ...] = (user_id, count + 1)
        else:
            select = self.statements(
                "SELECT follower FROM {ks}.followers WHERE user_id = ? AND follower > ? LIMIT ?"
            )
            args = (user_id, cursor, count + 1)
        found = [row[0] for row in self.statements.session.execute(select, args)]
        page = found[:count]
        return page, (page[-1] if len(found) > count else None)

    def followers_after(self, user_id: str, after: str | None, limit: int) -> list[str]:
        return self._after("followers", "follower", user_id, after, limit)

    def following_after(self, user_id: str, after: str | None, limit: int) -> list[str]:
        return self._after("following", "followed", user_id, after, limit)

    def _after(self, table: str, column: str, user_id: str, after: str | None, limit: int) -> list[str]:
        """A slice of the user's partition in clustering (id) order: one bounded read."""
        if after is None:
            select = self.statements(f"SELECT {column} FROM {{ks}}.{table} WHERE user_id = ? LIMIT ?")
            args: tuple[Any, ...] = (user_id, limit)
        else:
            select = self.statements(
                f"SELECT {column} FROM {{ks}}.{table} WHERE user_id = ? AND {column} > ? LIMIT ?"
            )
            args = (user_id, after, limit)
        return [row[0] for row in self.statements.session.execute(select, args)]

    def graph_counts(self, user_ids: Sequence[str]) -> list[tuple[int, int]]:
        """COUNT(*) of each user's two partitions, all at once (a count reads the partition:
        fine for a profile's figures, not for a hot path)."""
        session = self.statements.session
        queries = [
            self.statements("SELECT COUNT(*) FROM {ks}.followers WHERE user_id = ?"),
            self.statements("SELECT COUNT(*) FROM {ks}.following WHERE user_id = ?"),
        ]
        futures = [session.execute_async(q, (user_id,)) for user_id in user_ids for q in queries]
        counts = [int(future.result().one()[0]) for future in futures]
        return list(zip(counts[::2], counts[1::2], strict=True))

    def following(self, user_id: str) -> list[str]:
        select = self.statements("SELECT followed FROM {ks}.following WHERE user_id = ?")
        return [row[0] for row in self.statements.session.execute(select, (user_id,))]

    def follow_versions(self, followers: Sequence[str], followed: str) -> dict[str, int]:
        if not followers:
            return {}
        select = self.statements(
            "SELECT follower, since FROM {ks}.followers WHERE user_id = ? AND follower IN ?"
        )
        rows = self.statements.session.execute(select, (followed, list(followers)))
        return {row[0]: row[1] or 0 for row in rows}

    def unfollows(self, followers: Sequence[str], followed: str) -> dict[str, Unfollowed]:
        if not followers:
            return {}
        select = self.statements(
            "SELECT follower, since, version FROM {ks}.unfollowed WHERE user_id = ? AND follower IN ?"
        )
        rows = self.statements.session.execute(select, (followed, list(followers)))
        return {row[0]: Unfollowed(row[1] or 0, row[2] or 0) for row in rows}

    def former_followers(self, user_id: str, after: int) -> list[str]:
        select = self.statements("SELECT follower, version FROM {ks}.unfollowed WHERE user_id = ?")
        rows = self.statements.session.execute(select, (user_id,))
        return sorted(row[0] for row in rows if (row[1] or 0) > after)

    def follower_counts(self, user_ids: Sequence[str], at_most: int) -> list[int]:
        """Rows read up to at_most per user, all users at once: bounded by the threshold."""
        select = self.statements("SELECT follower FROM {ks}.followers WHERE user_id = ? LIMIT ?")
        session = self.statements.session
        futures = [session.execute_async(select, (user_id, at_most)) for user_id in user_ids]
        return [len(list(future.result())) for future in futures]

    def follow_states(self, follower: str, followed: Sequence[str]) -> dict[str, FollowState]:
        """Both tables for every pair at once: one round trip's latency, not one per author."""
        session = self.statements.session
        since = self.statements("SELECT since FROM {ks}.followers WHERE user_id = ? AND follower = ?")
        ended = self.statements(
            "SELECT since, version FROM {ks}.unfollowed WHERE user_id = ? AND follower = ?"
        )
        futures = [
            (user, *(session.execute_async(query, (user, follower)) for query in (since, ended)))
            for user in followed
        ]
        states: dict[str, FollowState] = {}
        for user, following_future, ended_future in futures:
            following, unfollowed = following_future.result().one(), ended_future.result().one()
            if following is not None:
                states[user] = following[0] or 0
            elif unfollowed is not None:
                states[user] = Unfollowed(unfollowed[0] or 0, unfollowed[1] or 0)
        return states

    def author_modes(self) -> dict[str, ModeChanges]:
        select = self.statements("SELECT author, changes FROM {ks}.author_modes WHERE bucket = 0")
        return {row[0]: decode_changes(row[1] or "") for row in self.statements.session.execute(select)}

    def store_author_modes(self, author: str, changes: ModeChanges) -> None:
        insert = self.statements("INSERT INTO {ks}.author_modes (bucket, author, changes) VALUES (0, ?, ?)")
        self.statements.session.execute(insert, (author, encode_changes(changes)))


class NullCountsPublisher(CountsPublisher):
    """For deployments with no realtime channel: counts are still stored and readable."""

    def publish(self, user_id: str, feed_key: str, unseen: int, unread: int) -> None:
        return None


class CassandraFailureLedger(FailureLedger):
    """A row per failing record, written with FAILURE_TTL. Read, then written: a record's
    partition has one worker, so nothing else counts it at the same time."""

    def __init__(self, statements: _Statements) -> None:
        self.statements = statements

    def failed(self, record: str) -> int:
        row = self.statements.session.execute(
            self.statements("SELECT attempts FROM {ks}.record_failures WHERE record = ?"), (record,)
        ).one()
        attempts = (row[0] if row else 0) + 1
        insert = "INSERT INTO {ks}.record_failures (record, attempts) VALUES (?, ?) USING TTL ?"
        self.statements.session.execute(self.statements(insert), (record, attempts, FAILURE_TTL))
        return attempts

    def forget(self, record: str) -> None:
        delete = self.statements("DELETE FROM {ks}.record_failures WHERE record = ?")
        self.statements.session.execute(delete, (record,))


class CassandraStorageMarker(StorageMarker):
    def __init__(self, statements: _Statements) -> None:
        self.statements = statements

    def read(self) -> str | None:
        select = self.statements("SELECT identity FROM {ks}.storage_identity WHERE bucket = 0")
        row = self.statements.session.execute(select).one()
        return None if row is None else str(row[0])

    def claim(self, identity: str) -> str:
        # A lightweight transaction, once per new keyspace: two workers stamping agree.
        insert = "INSERT INTO {ks}.storage_identity (bucket, identity) VALUES (0, ?) IF NOT EXISTS"
        self.statements.session.execute(self.statements(insert), (identity,))
        return self.read() or identity

    def lease(self, holder: str, seconds: float) -> bool:
        # Bucket 1 of the identity table, in lightweight transactions: taken if no row (an expired
        # lease's row is gone with its TTL), renewed only by its holder.
        ttl = max(1, round(seconds))
        take = "INSERT INTO {ks}.storage_identity (bucket, identity) VALUES (1, ?) IF NOT EXISTS USING TTL ?"
        if self.statements.session.execute(self.statements(take), (holder, ttl)).was_applied:
            return True
        renew = "UPDATE {ks}.storage_identity USING TTL ? SET identity = ? WHERE bucket = 1 IF identity = ?"
        return bool(
            self.statements.session.execute(self.statements(renew), (ttl, holder, holder)).was_applied
        )


class CassandraBackend(Backend):
    name = "cassandra"

    def __init__(
        self,
        session: Session,
        keyspace: str,
        consistency: str = "LOCAL_QUORUM",
        publisher: CountsPublisher | None = None,
        forms: StoredForms | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        forms = forms or StoredForms()
        self.forms = forms
        check_keyspace_name(keyspace)
        try:
            level = ConsistencyLevel.name_to_value[consistency.upper()]
        except KeyError:
            known = ", ".join(ConsistencyLevel.name_to_value)
            raise ValueError(f"unknown Cassandra consistency {consistency!r}; one of {known}") from None
        statements = _Statements(session, keyspace, level)
        self.session = session
        self.cluster = cluster
        self.keyspace = keyspace
        self.activities = CassandraActivityStorage(statements, forms)
        self.timelines = CassandraTimelineStorage(statements, forms, self.activities)
        self.aggregated = CassandraAggregatedStorage(statements, forms)
        self.follows = CassandraFollowStorage(statements)
        self.reactions = CassandraReactionStorage(statements)
        self.publisher = publisher or NullCountsPublisher()
        self.failures = CassandraFailureLedger(statements)
        self.marker = CassandraStorageMarker(statements)

    @classmethod
    def connect(cls, settings: Any, keyspace: str | None = None) -> CassandraBackend:
        """Connect as settings say, syncing the schema so a fresh cluster works at once."""
        cluster = connect_cluster(settings.cassandra_hosts, settings.cassandra_port)
        keyspace = keyspace or settings.cassandra_keyspace
        try:
            session = cluster.connect()
            sync_schema(session, keyspace, settings.cassandra_replication_factor)
        except BaseException:  # Cassandra away: a caller that waits and retries must not leak threads
            cluster.shutdown()
            raise
        publisher = None
        if settings.counts_redis_url:
            publisher = RedisBackend.from_url(settings.counts_redis_url).publisher
        return cls(session, keyspace, settings.cassandra_consistency, publisher, cluster=cluster)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.shutdown()
