"""The alert rules fire when they should: promtool's own rule tests (deploy/observability/
alerts.test.yaml) over series shaped like the workers' and the API's.

promtool is a Go module: built once with the machine's Go into the stack's cache (a few
minutes the first time).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.go_tools import go_tool

pytestmark = pytest.mark.integration

PACK = Path(__file__).resolve().parents[2] / "deploy" / "observability"
PROMTOOL = "github.com/prometheus/prometheus/cmd/promtool@v0.316.0"


def promtool() -> str:
    return go_tool("promtool", PROMTOOL)


def test_the_rules_are_valid_and_their_tests_pass():
    check = subprocess.run(
        [promtool(), "check", "rules", "alerts.yaml"], cwd=PACK, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yaml"], cwd=PACK, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr
