"""The follow graph over HTTP (issue 30): batch follow and unfollow, followers and following
paged by user id, counts, and checks of many pairs, with the same refusals as every route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamfeed.api.app import create_app
from streamfeed.api.models import MAX_PAIRS
from streamfeed.app.manager import Manager
from streamfeed.storage.memory import MemoryBackend
from tests.unit.test_http_api import KEY, SERVICE, SERVICE_HEADERS, token


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, service_key=SERVICE))


def pairs(*items: tuple[str, str]) -> list[dict[str, str]]:
    return [{"follower": a, "followed": b} for a, b in items]


def test_batch_follow_then_page_count_check_and_unfollow(client):
    fans = [f"fan{n:02d}" for n in range(7)]
    body = {"pairs": pairs(*[(fan, "star") for fan in fans], ("fan00", "other"))}
    assert client.post("/v1/follows/batch", json=body, headers=SERVICE_HEADERS).json() == {
        "accepted": 8,
        "ids": [],
    }
    reader = token("anyone")
    first = client.get("/v1/users/star/followers?limit=3", headers=reader).json()
    assert first == {"user_id": "star", "results": fans[:3], "next": "fan02"}
    seen, after = list(first["results"]), first["next"]
    while after is not None:
        page = client.get(f"/v1/users/star/followers?limit=3&after={after}", headers=reader).json()
        seen, after = seen + page["results"], page["next"]
    assert seen == fans
    assert client.get("/v1/users/fan00/following", headers=reader).json()["results"] == ["other", "star"]
    counts = client.get("/v1/users/star/follow-counts", headers=reader).json()
    assert counts == {"user_id": "star", "followers": 7, "following": 0}
    check = {"pairs": pairs(("fan00", "star"), ("star", "fan00"), ("fan06", "star"))}
    assert client.post("/v1/follows/check", json=check, headers=reader).json() == {
        "results": [True, False, True]
    }

    mine = {"pairs": pairs(("fan00", "star"), ("fan00", "other"))}
    assert client.request("DELETE", "/v1/follows/batch", json=mine, headers=token("fan00")).status_code == 202
    assert client.get("/v1/users/fan00/follow-counts", headers=reader).json()["following"] == 0


def test_a_user_batches_only_their_own_follows_and_bad_batches_are_refused_whole(client):
    someone_else = {"pairs": pairs(("ann", "star"), ("bob", "star"))}
    refused = client.post("/v1/follows/batch", json=someone_else, headers=token("ann"))
    assert refused.status_code == 403 and "'bob'" in refused.json()["detail"]
    assert client.get("/v1/users/star/follow-counts", headers=token("ann")).json()["followers"] == 0
    themselves = {"pairs": pairs(("ann", "star"), ("ann", "ann"))}
    refused = client.post("/v1/follows/batch", json=themselves, headers=token("ann"))
    assert refused.status_code == 422 and "cannot follow themselves" in refused.json()["detail"]
    assert client.get("/v1/users/star/follow-counts", headers=token("ann")).json()["followers"] == 0
    bad_id = {"pairs": pairs(("ann", "star"), ("ann", "not a user"))}
    assert client.post("/v1/follows/batch", json=bad_id, headers=token("ann")).status_code == 422
    too_many = {"pairs": pairs(*[("ann", f"u{n}") for n in range(MAX_PAIRS + 1)])}
    assert client.post("/v1/follows/batch", json=too_many, headers=token("ann")).status_code == 422
    assert client.post("/v1/follows/batch", json={"pairs": []}, headers=token("ann")).status_code == 422
    assert client.get("/v1/users/star/following?limit=0", headers=token("ann")).status_code == 422
    assert client.get("/v1/users/star/followers?after=bad%20id", headers=token("ann")).status_code == 422
    assert client.get("/v1/users/star/followers").status_code == 401
    assert client.get("/v1/users/bad%20id/followers", headers=token("ann")).status_code == 422
