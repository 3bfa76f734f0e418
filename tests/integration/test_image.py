"""The image ships: deploy/image/build makes it from Debian packages with podman (no registry
reachable here), and its root filesystem runs streamfeed as an unprivileged user, with no
compiler, against the local stack (`podman run` cannot set resource limits on these machines,
so the image's root filesystem is mounted and entered with chroot, host network)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/streamfeed:test"


@pytest.fixture(scope="module")
def image_root():
    build = subprocess.run([str(ROOT / "deploy" / "image" / "build"), TAG], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    mounted = subprocess.run(["podman", "image", "mount", TAG], capture_output=True, text=True, check=True)
    yield Path(mounted.stdout.strip())
    subprocess.run(["podman", "image", "unmount", TAG], capture_output=True)


def in_image(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """streamfeed in the image, as its user (10001) would run it."""
    environment = [
        "PATH=/opt/streamfeed/bin:/usr/bin:/bin",
        "HOME=/tmp",
        *(f"{k}={v}" for k, v in env.items()),
    ]
    command = [
        "chroot",
        "--userspec=10001:10001",
        str(root),
        "/usr/bin/env",
        "-i",
        *environment,
        "streamfeed",
    ]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=300)


def test_the_image_runs_streamfeed_unprivileged_without_a_compiler(image_root):
    config = json.loads(
        subprocess.run(["podman", "image", "inspect", TAG], capture_output=True, text=True, check=True).stdout
    )[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["streamfeed"]
    for compiler in ("gcc", "cc", "make", "g++"):
        assert not (image_root / "usr" / "bin" / compiler).exists(), compiler
    assert not list((image_root / "opt" / "streamfeed" / "bin").glob("pip*"))
    assert in_image(image_root, "--version").stdout.startswith("streamfeed ")
    demo = in_image(image_root, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "mark_all(seen=True): 0 unseen" in demo.stdout


def test_the_image_talks_to_kafka_and_redis(image_root, stack):
    prefix = f"image-{uuid.uuid4().hex[:6]}-"
    env = {
        "STREAMFEED_TOPIC_PREFIX": prefix,
        "STREAMFEED_APP_ID": f"{prefix}app",
        "STREAMFEED_STORAGE": "redis",
    }
    env.update(
        {k: v for k, v in os.environ.items() if k in ("STREAMFEED_KAFKA_BOOTSTRAP", "STREAMFEED_REDIS_URL")}
    )
    created = in_image(image_root, "topics", "create", **env)
    assert created.returncode == 0, created.stdout + created.stderr
    status = in_image(image_root, "status", **env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "lag" in status.stdout.lower()
