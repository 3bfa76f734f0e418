"""A bad keyspace name is refused in one line before any server call, wherever it comes from
(settings, a generation's keyspace, code that builds a backend itself). Failed before issue 26:
a raw SyntaxException from the server."""

from __future__ import annotations

import pytest

from streamfeed.storage.cassandra import CassandraBackend, sync_schema
from streamfeed.storage.generations import cassandra_generation_keyspace


@pytest.mark.parametrize("name", ["Bad-Name", "1st", "", "x" * 49, "feeds; DROP TABLE t"])
def test_a_bad_keyspace_name_is_refused_before_the_server_is_asked(name: str) -> None:
    with pytest.raises(ValueError, match="use 1-48 lower-case letters"):
        sync_schema(None, name)  # type: ignore[arg-type]  # no session: refused before use
    with pytest.raises(ValueError, match=f"keyspace {name!r}"):
        CassandraBackend(None, name)  # type: ignore[arg-type]


def test_a_generation_keyspace_too_long_for_cassandra_is_refused_by_name() -> None:
    name = cassandra_generation_keyspace("k" * 40, "rebuild_2026_12_07")
    with pytest.raises(ValueError, match="use 1-48"):
        sync_schema(None, name)  # type: ignore[arg-type]
