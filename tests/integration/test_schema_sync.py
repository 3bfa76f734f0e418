"""`streamfeed schema sync` creates what is missing, adds columns, and never drops."""

import os
import subprocess
import sys

import pytest

from streamfeed.storage.cassandra import TABLES, sync_schema

pytestmark = pytest.mark.integration


def columns(session, keyspace, table):
    rows = session.execute(
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s AND table_name = %s",
        (keyspace, table),
    )
    return {row.column_name for row in rows}


def test_cli_sync_twice_then_adds_a_missing_column(cassandra_session, unique_name):
    env = {**os.environ, "STREAMFEED_CASSANDRA_KEYSPACE": unique_name}
    command = [sys.executable, "-m", "streamfeed.cli", "schema", "sync"]
    try:
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert f"created keyspace {unique_name}" in first.stdout
        assert f"created table {unique_name}.timeline" in first.stdout
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert "created" not in second.stdout and "is up to date" in second.stdout
        for table, (wanted, _) in TABLES.items():
            assert columns(cassandra_session, unique_name, table) == set(wanted)

        # An older deployment's table lacks a column, and has one we no longer define.
        cassandra_session.execute(f"ALTER TABLE {unique_name}.aggregated DROP unread")
        cassandra_session.execute(f"ALTER TABLE {unique_name}.aggregated ADD legacy text")
        done = sync_schema(cassandra_session, unique_name)
        assert done == [f"added column {unique_name}.aggregated.unread"]
        assert columns(cassandra_session, unique_name, "aggregated") == set(TABLES["aggregated"][0]) | {
            "legacy"
        }
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")


def test_a_keyspace_of_something_else_is_refused(cassandra_session, unique_name):
    replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    cassandra_session.execute(f"CREATE KEYSPACE {unique_name} WITH replication = {replication}")
    try:
        cassandra_session.execute(f"CREATE TABLE {unique_name}.invoices (id text PRIMARY KEY)")
        env = {**os.environ, "STREAMFEED_CASSANDRA_KEYSPACE": unique_name}
        command = [sys.executable, "-m", "streamfeed.cli", "schema", "sync"]
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2
        assert f"keyspace {unique_name} holds tables of something else (invoices)" in run.stderr
        assert "Traceback" not in run.stderr
        assert columns(cassandra_session, unique_name, "timeline") == set()
        adopted = subprocess.run([*command, "--adopt"], env=env, capture_output=True, text=True, timeout=120)
        assert adopted.returncode == 0, adopted.stderr
        assert columns(cassandra_session, unique_name, "timeline") == set(TABLES["timeline"][0])
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")


@pytest.mark.parametrize("keyspace", ["Fx_ks", "fx-ks", "fx ks", "fx.ks", "k" * 49])
def test_a_bad_keyspace_name_is_a_usage_error(keyspace):
    env = {**os.environ, "STREAMFEED_CASSANDRA_KEYSPACE": keyspace}
    command = [sys.executable, "-m", "streamfeed.cli", "schema", "sync"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "STREAMFEED_CASSANDRA_KEYSPACE" in run.stderr and "lower-case" in run.stderr
