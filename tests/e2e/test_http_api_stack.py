"""The HTTP API on the real stack: `streamfeed serve --kafka` publishes, a worker applies,
the API reads Redis; realtime events come from the workers' count changes."""

from __future__ import annotations

import json
import os
import time

import httpx
import jwt
import pytest

from streamfeed.consumers.processes import PARENT_ENV, settings_env, wait_until_drained
from streamfeed.kafka.topics import create_topics
from tests.services import free_port, start_api_server

pytestmark = pytest.mark.integration

KEY = "e2e-signing-key-0123456789abcdef0123"
SERVICE = "e2e-service-key-0123456789abcdef"


def bearer(user: str) -> dict[str, str]:
    claims = {"sub": user, "exp": int(time.time() + 600)}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='HS256')}"}


def test_publish_through_kafka_read_and_listen(stack, isolated, worker_factory, tmp_path):
    port = free_port()
    settings = isolated("redis", partitions=2, api_port=port, api_jwt_key=KEY, api_service_key=SERVICE)
    create_topics(settings)
    worker = worker_factory(settings)
    env = {**os.environ, **settings_env(settings), PARENT_ENV: str(os.getpid())}
    server = start_api_server(env, tmp_path / "serve.log", "--kafka")
    base = f"http://127.0.0.1:{port}"
    try:
        follow = httpx.post(
            f"{base}/v1/follows", json={"follower": "julie", "followed": "thierry"}, headers=bearer("julie")
        )
        assert follow.status_code == 202, follow.text
        # Julie's app connects once: from then on (and for a grace after it leaves) her new
        # entries are kept for her stream.
        with httpx.stream("GET", f"{base}/v1/realtime/julie", headers=bearer("julie"), timeout=30) as stream:
            assert next(stream.iter_lines()) == ": connected"
        body = [
            {"actor": "thierry", "verb": "add", "object": f"pin:{n}", "to": ["notification:julie"]}
            for n in range(3)
        ]
        # Notifying other users is the app backend's call: a user token may not target them.
        refused = httpx.post(f"{base}/v1/activities", json=body, headers=bearer("thierry"))
        assert refused.status_code == 403 and refused.json()["field"] == "to", refused.text
        published = httpx.post(f"{base}/v1/activities", json=body, headers={"X-Service-Key": SERVICE})
        assert published.status_code == 202 and published.json()["accepted"] == 3
        wait_until_drained(settings, timeout=120, workers=[worker])
        page = httpx.get(f"{base}/v1/feeds/normal/julie", params={"limit": 2}, headers=bearer("julie")).json()
        assert [a["object"] for a in page["results"]] == ["pin:2", "pin:1"] and page["next"]
        rest = httpx.get(
            f"{base}/v1/feeds/normal/julie", params={"id_lt": page["next"]}, headers=bearer("julie")
        ).json()
        assert [a["object"] for a in rest["results"]] == ["pin:0"] and rest["next"] is None
        counts = httpx.get(f"{base}/v1/feeds/notification/julie/counts", headers=bearer("julie")).json()
        assert counts["unseen"] >= 1
        assert httpx.get(f"{base}/v1/feeds/normal/julie", headers=bearer("thierry")).status_code == 403
        # Realtime: everything kept since the start (new entries, counts), then a mark's change.
        received = []
        with httpx.stream(
            "GET", f"{base}/v1/realtime/julie", headers={**bearer("julie"), "Last-Event-ID": "0"}, timeout=30
        ) as stream:
            marked = False
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                    if not marked:
                        mark = httpx.post(
                            f"{base}/v1/feeds/notification/julie/mark",
                            json={"read": True},
                            headers=bearer("julie"),
                        )
                        assert mark.status_code == 202
                        marked = True
                if received and received[-1].get("unseen") == 0:
                    break
        assert received[-1] == {**received[-1], "type": "counts", "unseen": 0, "unread": 0}
        shown = [
            i for r in received if r["type"] == "entries" and r["name"] == "normal" for i in r["activity_ids"]
        ]
        # At least once: the follow's copy and the fanout may both tell of an entry.
        assert set(shown) == {a["id"] for a in page["results"] + rest["results"]}
    finally:
        server.terminate()
        server.wait(15)
