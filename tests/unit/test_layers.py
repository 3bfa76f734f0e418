"""The layers hold: import-linter's contracts (pyproject.toml) pass on the package as it ships,
and fail on a copy with a violation planted, so the check itself is known to bite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.linktree import ROOT, build_link_tree, package_dirs

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    tree = build_link_tree(tmp_path / "tree", root)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_package(dest: Path) -> Path:
    for folder in {path.relative_to(ROOT).parts[0] for path in package_dirs().values()}:
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(ROOT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("storage/planted.py", "from streamfeed.feeds.flat import Feed\n", "streamfeed's layers"),
        ("pipeline/domain/planted.py", "import confluent_kafka\n", "the domain and settings reach no"),
        ("pipeline/app/planted.py", "import redis\n", "feeds and the application import no"),
        (
            "pipeline/feeds/hybrid.py",
            "from streamfeed.feeds.registry import default_feed_classes\n",
            "feeds:",
        ),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    root = copy_of_the_package(tmp_path / "copy")
    target = root / module
    before = target.read_text() if target.exists() else '"""A planted violation."""\n'
    target.write_text(f"{before}\n{planted}")
    result = lint_imports(root, tmp_path)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout
    assert Path(module).stem in broken
