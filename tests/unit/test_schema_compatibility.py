"""Every schema stays fully compatible (backward and forward) with its former versions.

Former versions live in schemas/history (parsing canonical form). For each,
random records written with the old version must be readable with the current
one (a new worker reads old data), and records written with the current one
readable with the old (an old worker reads a new producer's data). The last
test shows the check catches an incompatible change.
"""

from __future__ import annotations

import io
import json

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form
from fastavro.utils import generate_many

from streamfeed.schemas.catalog import NAMESPACE, SCHEMA_DIR, default_catalog

HISTORY = sorted((SCHEMA_DIR / "history").glob(f"{NAMESPACE}.*.json"))


def _name(path) -> str:
    return ".".join(path.name.split(".")[:3])


def assert_readable(writer: dict, reader: dict, samples: int = 40) -> None:
    for record in generate_many(writer, samples):
        buffer = io.BytesIO()
        schemaless_writer(buffer, writer, record)
        buffer.seek(0)
        schemaless_reader(buffer, writer, reader)  # raises on an incompatible resolution


def test_history_holds_former_versions():
    assert HISTORY, "schemas/history is empty"
    catalog = default_catalog()
    for path in HISTORY:
        former = json.loads(path.read_text())
        assert to_parsing_canonical_form(parse_schema(former)) != catalog.schema_json(_name(path)), (
            f"{path.name} is the current schema, not a former one"
        )


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: p.name)
def test_each_change_is_backward_and_forward_compatible(path):
    current = default_catalog().schema(_name(path))
    former = parse_schema(json.loads(path.read_text()))
    assert_readable(former, current)  # backward: the current schema reads old data
    assert_readable(current, former)  # forward: the old schema reads new data


def test_an_incompatible_change_is_caught():
    """The check itself: a field added without a default breaks backward compatibility."""
    current = default_catalog().schema(f"{NAMESPACE}.FollowEvent")
    changed = json.loads(default_catalog().schema_json(f"{NAMESPACE}.FollowEvent"))
    changed["fields"].append({"name": "new_required", "type": "string"})
    with pytest.raises(Exception, match="new_required"):
        assert_readable(current, parse_schema(changed))
