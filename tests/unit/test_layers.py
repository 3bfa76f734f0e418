"""Lower layers never import upper ones: checked on the source, so a new import cannot slip in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = [
    "activity",
    "activity_state",
    "ids",
    "verbs",
    "aggregated_activity",
    "aggregators",
    "aggregation",
    "exceptions",
    "events",
    "follow_state",
]
IO = ("storage", "consumers", "faust", "confluent_kafka", "aiokafka", "redis", "cassandra", "mode")


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", DOMAIN)
def test_the_domain_imports_no_storage_kafka_or_faust(module):
    names = imported(ROOT / "pipeline" / f"{module}.py")
    bad = sorted(n for n in names if n.split(".")[0] in IO)
    assert not bad, f"pipeline/{module}.py imports {bad}"
    upper = sorted(n for n in names if n.startswith("pipeline.") and n.split(".")[1] not in DOMAIN)
    assert not upper, f"pipeline/{module}.py imports {upper}, outside the domain"


def test_schemas_import_nothing_of_the_other_layers():
    for path in sorted((ROOT / "schemas").glob("*.py")):
        names = imported(path)
        bad = sorted(n for n in names if n.split(".")[0] in ("pipeline", "storage", "consumers"))
        assert not bad, f"{path.name} imports {bad}"
