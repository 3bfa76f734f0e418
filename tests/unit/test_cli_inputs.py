"""Every input mistake of issue 11 gets a one-line usage error naming the line or option,
never a traceback, and a user's own app module works from the folder that holds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD_ACTIVITY = {"type": "activity", "actor": "ann", "verb": "love", "object": "p1"}
GOOD_FOLLOW = {"type": "follow", "follower": "bob", "followed": "ann"}

APP = textwrap.dedent(
    """
    from streamfeed.feeds.flat import Feed
    from streamfeed.app.manager import Manager
    from streamfeed.domain.verbs import Verb, register


    @register
    class Pin(Verb):
        id = 42
        infinitive = "pin"
        past_tense = "pinned"


    class PinFeed(Feed):
        name = "pins"
        key_format = "pins:{user_id}"


    class PinManager(Manager):
        feed_classes = {"pins": PinFeed}


    manager = PinManager()
    """
)


def streamfeed(*args: str, cwd: Path, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "STREAMFEED_STORAGE": "memory", **env}
    environment.pop("PYTHONPATH", None)  # the app must be found from the working directory alone
    return subprocess.run(
        [sys.executable, "-m", "streamfeed.cli", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def line(**fields) -> bytes:
    return (json.dumps(fields) + "\n").encode()


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "feeds.py").write_text(APP)
    return tmp_path


MISTAKES = [
    (b'{"type": "activity", "actor": "ann"\n', "not JSON: EOF while parsing an object at line 1 column 35"),
    (b"\xff\xfe{}\n", "not UTF-8 (byte 0xff at 1)"),
    (line(**{**GOOD_ACTIVITY, "actor": 5}), "actor: Input should be a valid string"),
    (line(**{**GOOD_ACTIVITY, "to": ["mentions:bob"]}), "names feed 'mentions'"),
    (line(**{**GOOD_ACTIVITY, "to": [":bob"]}), "names no feed"),
    (
        line(**{**GOOD_FOLLOW, "activity_copy_limit": True}),
        "activity_copy_limit: Input should be a valid integer",
    ),
    (line(**{**GOOD_FOLLOW, "activity_copy_limit": 2**40}), "activity_copy_limit: Input should be less than"),
    (line(**{**GOOD_ACTIVITY, "object": "x" * 2_000_000}), "object: is longer than 1024 characters"),
    (line(**{**GOOD_ACTIVITY, "actor": "a b"}), "actor: is not a valid user id"),
    (line(**{**GOOD_ACTIVITY, "actor": "a}"}), "actor: is not a valid user id"),
    (line(**{**GOOD_ACTIVITY, "actor": "a\x00"}), "actor: is not a valid user id"),
    (line(**{**GOOD_ACTIVITY, "actor": "a" * 5000}), "actor: is not a valid user id"),
    (b"[" * 5000 + b"\n", "not JSON: recursion limit exceeded"),
]


@pytest.mark.parametrize(("bad", "reason"), MISTAKES, ids=[str(n) for n in range(len(MISTAKES))])
def test_produce_reports_each_bad_line_and_keeps_the_good_ones(tmp_path, bad, reason):
    source = line(**GOOD_FOLLOW) + bad + line(**GOOD_ACTIVITY)
    run = streamfeed("produce", "--dry-run", "-", cwd=tmp_path, stdin=source)
    assert run.returncode == 1
    assert run.stdout.decode().strip() == "2 valid, 1 rejected"
    errors = run.stderr.decode()
    assert errors.startswith("line 2: ") and reason in errors, errors
    assert "Traceback" not in errors


def test_produce_atomic_publishes_nothing_unless_every_line_passes(tmp_path):
    source = line(**GOOD_FOLLOW) + line(**{**GOOD_ACTIVITY, "actor": "a b"}) + line(**GOOD_ACTIVITY)
    # An unreachable broker: --atomic must refuse before it ever tries to publish.
    run = streamfeed(
        "produce", "--atomic", "-", cwd=tmp_path, stdin=source, STREAMFEED_KAFKA_BOOTSTRAP="127.0.0.1:1"
    )
    assert run.returncode == 1
    assert run.stdout.decode().strip() == "0 published, 1 rejected: nothing published (--atomic)"
    assert run.stderr.decode().startswith("line 2: actor: is not a valid user id")


def test_an_apps_own_verbs_and_feeds_from_its_folder(app_dir):
    pin = line(**{**GOOD_ACTIVITY, "verb": "pin"})
    refused = streamfeed("produce", "--dry-run", "-", cwd=app_dir, stdin=pin)
    assert refused.returncode == 1 and b"verb: unknown verb" in refused.stderr
    accepted = streamfeed("produce", "--dry-run", "--app", "myapp.feeds:manager", "-", cwd=app_dir, stdin=pin)
    assert accepted.returncode == 0, accepted.stderr
    shown = streamfeed("feed", "show", "pins", "ann", "--app", "myapp.feeds:manager", cwd=app_dir)
    assert shown.returncode == 0, shown.stderr
    assert b"pins:{ann} (0 entries)" in shown.stdout
    assert b"memory storage holds only what this process wrote" in shown.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["feed", "show", "pins", "ann"], "unknown feed 'pins'"),
        (["feed", "show", "normal", "a b"], "is not a valid user id"),
        (["feed", "show", "normal", "ann", "--before", "zzz"], "'zzz' is not an activity id"),
        (["feed", "show", "normal", "ann", "--storage", "mongo"], "'mongo' is not one of"),
        (["feed", "show", "normal", "ann", "--limit", "0"], "greater than or equal to 1"),
        (["worker", "--app", "nomodule:manager"], "cannot import 'nomodule'"),
        (["produce", "--app", "myapp.feeds"], "use module:attribute"),
    ],
)
def test_bad_arguments_are_usage_errors(app_dir, args, reason):
    run = streamfeed(*args, cwd=app_dir)
    errors = run.stderr.decode()
    assert run.returncode == 2, errors
    assert reason in " ".join(errors.replace("│", " ").split()), errors
    assert "Traceback" not in errors
