"""The HTTP API in process (inline mode, memory storage): what apps call first, and every way a
caller can be wrong."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from streamfeed.api.app import create_app
from streamfeed.app.manager import Manager
from streamfeed.storage.memory import MemoryBackend

KEY = "test-signing-key-0123456789abcdef"
SERVICE = "service-key-0123456789abcdef0123456789"
SERVICE_HEADERS = {"X-Service-Key": SERVICE}


def token(user: str, key: str = KEY, expires_in: float = 300) -> dict[str, str]:
    claims = {"sub": user, "exp": int(time.time() + expires_in)}
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"}


@pytest.fixture
def client() -> TestClient:
    app = create_app(Manager(MemoryBackend()), jwt_key=KEY, service_key=SERVICE, realtime_wait=0.2)
    return TestClient(app)


def pin(actor: str, n: int, **extra) -> dict:
    return {"actor": actor, "verb": "add", "object": f"pin{n}", "time": f"2026-11-01T10:{n:02d}:00Z", **extra}


def test_publish_follow_read_page_by_page(client):
    assert (
        client.post(
            "/v1/follows", json={"follower": "bob", "followed": "ann"}, headers=token("bob")
        ).status_code
        == 202
    )
    published = client.post("/v1/activities", json=[pin("ann", n) for n in range(7)], headers=token("ann"))
    assert published.status_code == 202 and published.json()["accepted"] == 7
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"id_lt": cursor} if cursor else {})}
        page = client.get("/v1/feeds/normal/bob", params=params, headers=token("bob")).json()
        seen += [a["object"] for a in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"pin{n}" for n in reversed(range(7))]
    groups = client.get("/v1/feeds/aggregated/bob", headers=token("bob")).json()["results"]
    assert groups[0]["activity_count"] == 7 and groups[0]["verb"] == "add"


def test_notifications_count_and_mark(client):
    client.post("/v1/activities", json=pin("ann", 1, to=["notification:bob"]), headers=SERVICE_HEADERS)
    counts = client.get("/v1/feeds/notification/bob/counts", headers=token("bob"))
    assert counts.json() == {"unseen": 1, "unread": 1}
    assert (
        client.post("/v1/feeds/notification/bob/mark", json={"seen": True}, headers=token("bob")).status_code
        == 202
    )
    assert client.get("/v1/feeds/notification/bob/counts", headers=token("bob")).json() == {
        "unseen": 0,
        "unread": 1,
    }


def test_a_mark_covers_what_the_client_displayed_whatever_the_dates(client):
    """A notification dated decades ahead (a producer's fast clock) is seen once marked; one the
    client had not displayed stays unseen, though its date is older. Failed before issue 26:
    marks were the server's clock against the activities' dates."""
    ahead = {"time": "2099-01-01T10:00:00Z"}
    client.post(
        "/v1/activities", json=pin("ann", 1, to=["notification:bob"], **ahead), headers=SERVICE_HEADERS
    )
    page = client.get("/v1/feeds/notification/bob", headers=token("bob")).json()["results"]
    displayed = page[0]["activities"][0]["id"]
    client.post("/v1/activities", json=pin("cat", 2, to=["notification:bob"]), headers=SERVICE_HEADERS)
    answer = client.post(
        "/v1/feeds/notification/bob/mark", json={"read": True, "displayed": [displayed]}, headers=token("bob")
    )
    assert answer.status_code == 202
    groups = client.get("/v1/feeds/notification/bob", headers=token("bob")).json()["results"]
    assert [(g["activities"][0]["actor"], g["is_seen"], g["is_read"]) for g in groups] == [
        ("ann", True, True),
        ("cat", False, False),
    ]
    assert client.get("/v1/feeds/notification/bob/counts", headers=token("bob")).json() == {
        "unseen": 1,
        "unread": 1,
    }


# Tokens are made when the test runs, not when it is collected: a suite can take longer than they live.
CREDENTIALS = {
    "none": lambda: {},
    "basic": lambda: {"Authorization": "Basic abc"},
    "other key": lambda: token("bob", key="another-signing-key-0123456789abcdef"),
    "expired": lambda: token("bob", expires_in=-10),
    "not a jwt": lambda: {"Authorization": "Bearer not.a.jwt"},
    "wrong service key": lambda: {"X-Service-Key": "wrong"},
    "another user": lambda: token("eve"),
    "the user": lambda: token("bob"),
    "a service": lambda: {"X-Service-Key": SERVICE},
}
EXPECTED = {"another user": 403, "the user": 200, "a service": 200}


@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_only_the_user_or_a_service_reads_a_feed(client, credentials):
    status = EXPECTED.get(credentials, 401)
    response = client.get("/v1/feeds/normal/bob", headers=CREDENTIALS[credentials]())
    assert response.status_code == status
    if status != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == status and "results" not in response.json()


def test_users_write_only_as_themselves(client):
    eve = token("eve")
    assert client.post("/v1/activities", json=pin("ann", 1), headers=eve).status_code == 403
    assert (
        client.post("/v1/follows", json={"follower": "bob", "followed": "eve"}, headers=eve).status_code
        == 403
    )
    assert client.post("/v1/feeds/notification/bob/mark", json={}, headers=eve).status_code == 403
    assert (
        client.post("/v1/activities", json=pin("ann", 1), headers={"X-Service-Key": SERVICE}).status_code
        == 202
    )
    assert client.get("/v1/feeds/user/ann", headers=token("ann")).json()["results"][0]["object"] == "pin1"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/v1/activities", pin("ann", 1, to=["user:bob"]), "to"),
        ("post", "/v1/activities", pin("ann", 1, verb="shout"), "verb"),
        ("post", "/v1/activities", {**pin("ann", 1), "colour": "red"}, "colour"),
        ("post", "/v1/activities", {**pin("ann", 1), "actor": 5}, "actor"),
        ("post", "/v1/follows", {"follower": "ann", "followed": "a b"}, "followed"),
        (
            "post",
            "/v1/follows",
            {"follower": "ann", "followed": "bob", "activity_copy_limit": -1},
            "activity_copy_limit",
        ),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(client, method, path, body, field):
    response = getattr(client, method)(path, json=body, headers=token("ann"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422 and field in (problem.get("field") or "") + problem["detail"]


def test_unknown_feeds_limits_and_ids(client):
    ann = token("ann")
    assert client.get("/v1/feeds/nope/ann", headers=ann).status_code == 404
    assert client.get("/v1/feeds/normal/ann", params={"limit": 101}, headers=ann).status_code == 422
    assert client.get("/v1/feeds/normal/ann/counts", headers=ann).status_code == 404
    assert (
        client.post("/v1/activities", json=[pin("ann", n % 60) for n in range(501)], headers=ann).status_code
        == 413
    )


def test_bodies_over_the_limit_are_refused_whether_announced_or_chunked():
    small = TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, max_body_bytes=2_000))
    ann = {**token("ann"), "Content-Type": "application/json"}
    big = json.dumps([pin("ann", n) for n in range(30)]).encode()
    assert len(big) > 2_000
    announced = small.post("/v1/activities", content=big, headers=ann)
    assert announced.status_code == 413 and "2000 bytes" in announced.json()["detail"]
    chunked = small.post("/v1/activities", content=iter([big[:1500], big[1500:]]), headers=ann)
    assert chunked.status_code == 413
    fits = json.dumps(pin("ann", 1)).encode()
    accepted = small.post("/v1/activities", content=iter([fits[:10], fits[10:]]), headers=ann)
    assert accepted.status_code == 202, accepted.text
    assert len(small.get("/v1/feeds/user/ann", headers=token("ann")).json()["results"]) == 1


def test_the_openapi_document_is_served():
    app = create_app(Manager(MemoryBackend()), jwt_key=KEY)
    document = TestClient(app).get("/openapi.json").json()
    assert {"/v1/feeds/{feed}/{user_id}", "/v1/activities", "/v1/follows"} <= set(document["paths"])


def test_realtime_resumes_after_the_last_event_id_without_gaps(client):
    assert client.post("/v1/follows", json={"follower": "bob", "followed": "fan0"}, headers=token("bob"))
    assert client.post("/v1/follows", json={"follower": "carl", "followed": "fan0"}, headers=token("carl"))
    publisher = client.app.state.manager.backend.publisher
    publisher.listen("bob", 60)  # bob's client is connected; carl has none
    for n in range(3):
        client.post(
            "/v1/activities", json=pin(f"fan{n}", n, to=["notification:bob"]), headers=SERVICE_HEADERS
        )
    kept = publisher.read("bob", "0", 0)
    assert publisher.read("carl", "0", 0) == []  # new entries are kept only for listeners
    counts = [data["unseen"] for _, data in kept if data["type"] == "counts"]
    assert counts == [1, 2, 3]
    entries = [(data["name"], data["activity_ids"]) for _, data in kept if data["type"] == "entries"]
    first = client.get("/v1/feeds/normal/bob", headers=token("bob")).json()["results"][0]["id"]
    assert ("normal", [first]) in entries and ("aggregated", [first]) in entries
    assert [name for name, _ in entries].count("notification") == 3
    headers = {**token("bob"), "Last-Event-ID": kept[0][0]}
    received: list[tuple[str, dict]] = []
    kind = None
    with client.stream("GET", "/v1/realtime/bob", headers=headers) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            if line.startswith("data: "):
                received.append((kind, json.loads(line[6:])))
            if len(received) == len(kept) - 1:
                break
    assert received == [(data["type"], data) for _, data in kept[1:]]
    assert client.get("/v1/realtime/bob", headers=token("eve")).status_code == 403


def test_update_and_remove_by_id_reach_every_feed(client):
    client.post("/v1/follows", json={"follower": "bob", "followed": "ann"}, headers=token("bob"))
    activity_id = client.post("/v1/activities", json=pin("ann", 1), headers=token("ann")).json()["ids"][0]
    assert (
        client.patch(
            f"/v1/activities/{activity_id}", json={"extra_context": {"t": "x"}}, headers=token("eve")
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"/v1/activities/{activity_id}", json={"extra_context": {"t": "x"}}, headers=token("ann")
        ).status_code
        == 202
    )
    feed = client.get("/v1/feeds/normal/bob", headers=token("bob")).json()["results"]
    assert feed[0]["extra_context"] == {"t": "x"}
    assert client.delete(f"/v1/activities/{activity_id}", headers=token("ann")).status_code == 202
    assert client.get("/v1/feeds/normal/bob", headers=token("bob")).json()["results"] == []
    assert client.delete(f"/v1/activities/{activity_id}", headers=token("ann")).status_code == 404


def test_the_demo_page_and_its_sign_in_exist_only_when_enabled(client):
    assert client.get("/").status_code == 404
    assert client.post("/v1/demo/token", json={"user_id": "bob"}).status_code == 404
    demo = TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, demo_page=True, realtime_wait=0.1))
    assert "streamfeed" in demo.get("/").text
    issued = demo.post("/v1/demo/token", json={"user_id": "bob"}).json()["token"]
    assert jwt.decode(issued, KEY, algorithms=["HS256"])["sub"] == "bob"
    assert demo.post("/v1/demo/token", json={"user_id": "a b"}).status_code == 422
    # EventSource sends no headers: the token may come as access_token.
    with demo.stream("GET", f"/v1/realtime/bob?access_token={issued}") as stream:
        assert stream.status_code == 200 and next(stream.iter_lines()) == ": connected"
    assert demo.get("/v1/realtime/bob?access_token=nonsense").status_code == 401


def test_the_committed_openapi_document_is_the_apps():
    """pipeline/api/openapi.json is what client generators take: kept in step with the code
    (operations, their answers, and every schema's fields; not the exact text a FastAPI
    version writes)."""
    from pathlib import Path

    committed = json.loads(
        (Path(__file__).resolve().parents[2] / "pipeline" / "api" / "openapi.json").read_text()
    )
    current = create_app(Manager(MemoryBackend()), jwt_key=KEY).openapi()

    def shape(document: dict) -> dict:
        operations = {
            (path, method): sorted(operation.get("responses", {}))
            for path, methods in document["paths"].items()
            for method, operation in methods.items()
        }
        schemas = {
            name: (sorted(schema.get("properties", {})), sorted(schema.get("required", [])))
            for name, schema in document.get("components", {}).get("schemas", {}).items()
        }
        return {"operations": operations, "schemas": schemas}

    assert shape(committed) == shape(current), (
        "regenerate pipeline/api/openapi.json from create_app(...).openapi()"
    )
