"""Usage errors of the command line: loading the user's app (`--app module:attribute`: a wrong
path, or a feed class whose key_format cannot make keys, named by class and attribute) and
option values are one message and exit 2. Before (issue 28) a bad key_format was a 30-frame
traceback at the first read, and `rebuild --from-time yesterday` a ValueError traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streamfeed.bootstrap import AppNotFound, load_manager

BAD_APP = """
from streamfeed import Manager
from streamfeed.feeds.flat import Feed


class PinFeed(Feed):
    name = "pins"
    key_format = "pins:{userid}"


class PinManager(Manager):
    feed_classes = {"pins": PinFeed}


manager = PinManager()
"""


def test_a_bad_key_format_names_the_class_when_the_app_loads(tmp_path: Path, monkeypatch):
    (tmp_path / "badkeys.py").write_text(BAD_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AppNotFound, match=r"PinFeed\.key_format 'pins:\{userid\}' must contain"):
        load_manager("badkeys:manager")
    command = [
        sys.executable,
        "-m",
        "streamfeed.cli",
        "feed",
        "show",
        "pins",
        "julie",
        "--app",
        "badkeys:manager",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "PinFeed.key_format" in result.stderr


def test_a_path_that_names_no_manager_says_what_it_names():
    with pytest.raises(AppNotFound, match="not a streamfeed Manager"):
        load_manager("streamfeed.settings:get_settings")
    with pytest.raises(AppNotFound, match="use module:attribute"):
        load_manager("streamfeed.settings")


def test_a_from_time_that_is_no_iso_time_is_a_usage_error():
    """Was a ValueError traceback (issue 28)."""
    command = [sys.executable, "-m", "streamfeed.cli", "rebuild", "--from-time", "yesterday"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'yesterday' is not an ISO time" in result.stderr
