"""The image ships: deploy/image/build makes it from Debian packages with podman (no registry
reachable here), and its root filesystem runs streamfeed as an unprivileged user, with no
compiler, against the local stack (`podman run` cannot set resource limits on these machines,
so the image's root filesystem is mounted and entered with chroot, host network)."""

from __future__ import annotations

import json
import os
import subprocess
import time
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


def image_command(root: Path, env: dict[str, str]) -> list[str]:
    """`streamfeed` in the image, as its user (10001) would run it, with only env set."""
    environment = [
        "PATH=/opt/streamfeed/bin:/usr/bin:/bin",
        "HOME=/tmp",
        *(f"{k}={v}" for k, v in env.items()),
    ]
    return ["chroot", "--userspec=10001:10001", str(root), "/usr/bin/env", "-i", *environment, "streamfeed"]


def in_image(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*image_command(root, env), *args], capture_output=True, text=True, timeout=300)


def test_the_image_runs_streamfeed_unprivileged_without_a_compiler(image_root):
    config = json.loads(
        subprocess.run(["podman", "image", "inspect", TAG], capture_output=True, text=True, check=True).stdout
    )[0]["Config"]
    assert config["User"] == "10001:10001"
    inspect = ["podman", "image", "inspect", "--format", "{{.Size}}", TAG]
    size = int(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout)
    print(f"image size: {size / 1e6:.0f} MB")
    assert size < 250e6, f"the image is {size / 1e6:.0f} MB, over the 250 MB budget"
    assert config["Entrypoint"] == ["streamfeed"]
    for compiler in ("gcc", "cc", "make", "g++"):
        assert not (image_root / "usr" / "bin" / compiler).exists(), compiler
    assert not list((image_root / "opt" / "streamfeed" / "bin").glob("pip*"))
    site = next((image_root / "opt" / "streamfeed" / "lib").glob("python3*/site-packages"))
    assert not (site / "setuptools").exists()
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


KEY = "image-signing-key-0123456789abcdef0123"
SERVICE = "image-service-key-0123456789abcdef"


def start_in_image(root: Path, log: Path, *args: str, **env: str) -> subprocess.Popen:
    """A long-running streamfeed command in the image (a worker, the API), its output in log."""
    with log.open("wb") as out:
        return subprocess.Popen([*image_command(root, env), *args], stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def scratch_tmp(image_root, tmp_path):
    """A writable /tmp in the image, as the manifests mount an emptyDir there (the root
    filesystem is read-only, in Kubernetes as in this mounted image)."""
    scratch = tmp_path / "image-tmp"
    scratch.mkdir()
    scratch.chmod(0o1777)
    mounted = subprocess.run(
        ["mount", "--bind", str(scratch), str(image_root / "tmp")], capture_output=True, text=True
    )
    assert mounted.returncode == 0, f"could not mount a scratch /tmp into the image: {mounted.stderr}"
    yield scratch
    subprocess.run(["umount", str(image_root / "tmp")], capture_output=True)


def test_the_image_runs_a_worker_and_the_api_from_publish_to_feed(image_root, scratch_tmp, stack, tmp_path):
    """What the Kubernetes manifests run: `worker` and `serve --kafka` from the image, with a
    scratch /tmp as their emptyDir; a follow and an activity posted to the API, the follower's
    feed read back through it."""
    import httpx
    import jwt

    from streamfeed.consumers.processes import settings_env
    from streamfeed.kafka.topics import create_topics
    from streamfeed.ops.teardown import remove_run
    from streamfeed.settings import get_settings
    from tests.services import free_port

    run = f"image{uuid.uuid4().hex[:8]}"
    port = free_port()
    settings = get_settings().model_copy(
        update={
            "topic_prefix": f"{run}.",
            "app_id": run,
            "redis_prefix": f"{run}:",
            "storage": "redis",
            "partitions": 2,
            "api_port": port,
            "api_jwt_key": KEY,
            "api_service_key": SERVICE,
            "stats_interval": 2.0,
        }
    )
    create_topics(settings)
    env = settings_env(settings)
    worker = start_in_image(image_root, tmp_path / "worker.log", "worker", **env)
    api = start_in_image(image_root, tmp_path / "api.log", "serve", "--kafka", **env)
    base, service = f"http://127.0.0.1:{port}", {"X-Service-Key": SERVICE}
    token = jwt.encode({"sub": "julie", "exp": int(time.time() + 600)}, KEY, algorithm="HS256")
    julie = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 120
        while True:  # the API answers, and its Kafka producer reaches the broker
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert api.poll() is None, (tmp_path / "api.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()[-3000:]
            time.sleep(0.5)
        follow = httpx.post(
            f"{base}/v1/follows", json={"follower": "julie", "followed": "thierry"}, headers=service
        )
        assert follow.status_code == 202, follow.text
        posted = httpx.post(
            f"{base}/v1/activities",
            json=[{"actor": "thierry", "verb": "add", "object": "pin:42", "target": "board:7"}],
            headers=service,
        )
        assert posted.status_code == 202, posted.text
        deadline = time.monotonic() + 180
        while True:
            page = httpx.get(f"{base}/v1/feeds/normal/julie", headers=julie, timeout=5).json()
            if [entry["object"] for entry in page.get("results", [])] == ["pin:42"]:
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (page, (tmp_path / "worker.log").read_text()[-3000:])
            time.sleep(1)
    finally:
        for process in (api, worker):
            process.terminate()
        for process in (api, worker):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        remove_run(settings)
