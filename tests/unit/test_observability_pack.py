"""deploy/observability speaks of series that exist: every metric an alert rule or a dashboard
panel names is one a worker or the API exports (a renamed series would silently leave an alert
that never fires). promtool's rule tests run in tests/integration/test_observability.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from streamfeed.api.metrics import ApiMetrics
from streamfeed.consumers.metrics import WorkerMetrics

PACK = Path(__file__).resolve().parents[2] / "deploy" / "observability"
NAME = re.compile(r"\b((?:streamfeed|process)_[a-z_]+)\b")


def exported() -> set[str]:
    class Ready:
        ready = True

    worker = WorkerMetrics(Ready())
    api = ApiMetrics(lambda: 0)
    names = set()
    for text in (worker.exposition().decode(), api.exposition()[0].decode()):
        for family in text_string_to_metric_families(text):  # series with no sample yet too
            names.update(sample.name for sample in family.samples)
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
            names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
    return names


def expressions() -> list[str]:
    rules = yaml.safe_load((PACK / "alerts.yaml").read_text())
    found = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((PACK / "dashboard.json").read_text())
    found += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return found


def test_every_series_the_pack_names_is_exported():
    names = exported()
    used = {name for expr in expressions() for name in NAME.findall(expr)}
    assert used, "no series found in the pack"
    assert sorted(used - names) == []


def test_the_check_catches_a_renamed_series():
    assert "streamfeed_consumer_lags" not in exported()
