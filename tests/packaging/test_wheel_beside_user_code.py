"""The wheel, installed as a team would install it, beside a project of theirs whose own
top-level packages are named pipeline, schemas, storage and consumers.

Builds the wheel, installs it into a fresh virtual environment, and runs the project's app
from the project's folder: inline writes and reads, `streamfeed feed show --app`, and
`streamfeed demo`. Both sides must get their own modules: the project's `schemas` is the
project's, and streamfeed's is `streamfeed.schemas`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from tests.linktree import ROOT

USER_PACKAGES = {
    "pipeline": "STEPS = ['ingest', 'rank']\n",
    "schemas": "class PinOut:\n    fields = ('id', 'title')\n",
    "storage": "BUCKET = 'user-bucket'\n",
    "consumers": "NAMES = ['email-sender']\n",
}

APP = textwrap.dedent(
    """
    import consumers
    import pipeline
    import storage
    from schemas import PinOut

    from streamfeed import Activity, AggregatedFeed, Feed, Manager


    class PinFeed(Feed):
        key_format = "pins:{user_id}"
        max_length = 500


    class PinManager(Manager):
        feed_classes = {"normal": PinFeed, "aggregated": AggregatedFeed}


    manager = PinManager()
    # Inline mode on memory storage: what this process writes, it can read back.
    manager.follow_user("julie", "thierry")
    manager.add_user_activity("thierry", Activity("thierry", "add", "pin:42", "board:7"))
    OWN = (PinOut.fields, pipeline.STEPS, storage.BUCKET, consumers.NAMES)
    """
)

CHECK = textwrap.dedent(
    """
    import schemas
    import streamfeed
    import streamfeed.schemas
    from myproject.feeds import OWN, manager

    assert OWN == (("id", "title"), ["ingest", "rank"], "user-bucket", ["email-sender"]), OWN
    assert schemas.__file__.startswith({project!r}), schemas.__file__
    assert "site-packages" in streamfeed.schemas.__file__, streamfeed.schemas.__file__
    page = manager.get_feeds("julie")["normal"][:10]
    assert [a.object_id for a in page] == ["pin:42"], page
    print("ok", streamfeed.__version__)
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its bin folder."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(where / "dist"), str(ROOT)],
        check=True,
        timeout=600,
    )
    [wheel] = (where / "dist").glob("streamfeed-*.whl")
    venv.create(where / "env", with_pip=True)
    bin_dir = where / "env" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "-q", str(wheel)], check=True, timeout=900)
    return bin_dir


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, body in USER_PACKAGES.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(body)
    (tmp_path / "myproject").mkdir()
    (tmp_path / "myproject" / "__init__.py").write_text("")
    (tmp_path / "myproject" / "feeds.py").write_text(APP)
    return tmp_path


def run(command: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMFEED_", "PYTHONPATH"))}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_wheel_holds_one_import_root(installed: Path) -> None:
    site = next((installed.parent / "lib").glob("python3.*/site-packages"))
    ours = {"pipeline", "schemas", "storage", "consumers"} & {p.name for p in site.iterdir()}
    assert not ours, f"the wheel installed generic top-level packages: {ours}"
    assert (site / "streamfeed" / "py.typed").exists()
    assert (site / "streamfeed" / "schemas" / "io.streamfeed.Activity.avsc").exists()


def test_a_project_with_its_own_pipeline_schemas_storage_and_consumers(
    installed: Path, project: Path
) -> None:
    assert run([str(installed / "python"), "-c", CHECK.format(project=str(project))], project).startswith(
        "ok"
    )
    shown = run(
        [
            str(installed / "streamfeed"),
            "feed",
            "show",
            "normal",
            "julie",
            "--app",
            "myproject.feeds:manager",
        ],
        project,
    )
    assert "pins:{julie} (1 entries)" in shown and "pin:42" in shown, shown
    assert "streamfeed 0." in run([str(installed / "streamfeed"), "--version"], project)
    demo = run([str(installed / "streamfeed"), "demo", "--users", "12", "--events", "80"], project)
    assert "notification" in demo, demo
