"""Reactions over HTTP (issue 30): add, page newest first by kind, count for a page of
activities, a user's own, edit and remove, with who may do what and the refusals naming what
is wrong."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamfeed.api.app import create_app
from streamfeed.app.manager import Manager
from streamfeed.storage.memory import MemoryBackend
from tests.unit.test_http_api import KEY, SERVICE, SERVICE_HEADERS, token


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, service_key=SERVICE))


def publish(client: TestClient, actor: str, obj: str) -> str:
    body = {"actor": actor, "verb": "add", "object": obj}
    answer = client.post("/v1/activities", json=body, headers=SERVICE_HEADERS)
    assert answer.status_code == 202, answer.text
    return answer.json()["ids"][0]


def react(client: TestClient, activity_id: str, user: str, kind: str = "like", **extra) -> str:
    answer = client.post(
        f"/v1/activities/{activity_id}/reactions",
        json={"kind": kind, "user_id": user, **extra},
        headers=token(user),
    )
    assert answer.status_code == 202, answer.text
    (reaction_id,) = answer.json()["ids"]
    return reaction_id


def test_react_page_count_own_edit_and_remove(client):
    pin, other = publish(client, "ann", "pin:1"), publish(client, "ann", "pin:2")
    likes = [react(client, pin, f"fan{n}") for n in range(5)]
    comment = react(client, pin, "bob", "comment", data={"text": "lovely"})
    react(client, pin, "ann", parent_id=comment)  # a like of the comment
    react(client, other, "fan0", id="mine-1")
    reader = token("anyone")

    counts = client.get(f"/v1/reaction-counts?activity_id={pin}&activity_id={other}", headers=reader).json()
    assert counts == {"activity_ids": [pin, other], "results": [{"comment": 1, "like": 5}, {"like": 1}]}
    on_comment = client.get(f"/v1/reaction-counts?activity_id={pin}&parent_id={comment}", headers=reader)
    assert on_comment.json()["results"] == [{"like": 1}]

    seen, before = [], None
    while True:
        query = "kind=like&limit=2" + (f"&before={before}" if before else "")
        page = client.get(f"/v1/activities/{pin}/reactions?{query}", headers=reader).json()
        seen += [(r["id"], r["user_id"]) for r in page["results"]]
        before = page["next"]
        if before is None:
            break
    assert seen == [(rid, f"fan{n}") for n, rid in reversed(list(enumerate(likes)))]  # newest first

    mine = client.get(
        f"/v1/users/fan0/reactions?activity_id={pin}&activity_id={other}", headers=token("fan0")
    )
    assert [[r["id"] for r in rs] for rs in mine.json()["results"]] == [[likes[0]], ["mine-1"]]

    path = f"/v1/activities/{pin}/reactions/{comment}"
    refused = client.patch(path, json={"data": {"text": "mine now"}}, headers=token("ann"))
    assert refused.status_code == 403 and "'bob'" in refused.json()["detail"]
    assert (
        client.patch(path, json={"data": {"text": "lovely light"}}, headers=token("bob")).status_code == 202
    )
    (shown,) = client.get(f"/v1/activities/{pin}/reactions?kind=comment", headers=reader).json()["results"]
    assert shown["data"] == {"text": "lovely light"} and shown["user_id"] == "bob"

    gone = f"/v1/activities/{pin}/reactions/{likes[1]}"
    assert client.delete(gone, headers=token("fan2")).status_code == 403
    assert client.delete(gone, headers=token("fan1")).status_code == 202
    assert client.delete(gone, headers=token("fan1")).status_code == 404  # removed for good
    after = client.get(f"/v1/reaction-counts?activity_id={pin}", headers=reader).json()["results"]
    assert after == [{"comment": 1, "like": 4}]


def test_bad_reactions_are_refused_naming_what_is_wrong(client):
    pin = publish(client, "ann", "pin:1")
    missing = "0" * 30

    def post(activity_id: str, body: dict, headers=None):
        return client.post(
            f"/v1/activities/{activity_id}/reactions", json=body, headers=headers or token("bob")
        )

    like = {"kind": "like", "user_id": "bob"}
    assert post(missing, like).status_code == 404
    assert post("pin:1", like).status_code == 422
    assert post(pin, {**like, "user_id": "eve"}).status_code == 403
    targeted = post(pin, {**like, "target_feeds": ["notification:ann"]})
    assert targeted.status_code == 403 and targeted.json()["field"] == "target_feeds"
    bad_target = post(pin, {**like, "target_feeds": ["nofeed"]}, SERVICE_HEADERS)
    assert bad_target.status_code == 422 and bad_target.json()["field"] == "target_feeds"
    assert post(pin, {**like, "target_feeds": ["notification:ann"]}, SERVICE_HEADERS).status_code == 202
    assert post(pin, {**like, "kind": "Like!"}).status_code == 422
    too_big = post(pin, {**like, "data": {"text": "x" * 20_000}})
    assert too_big.status_code == 422 and too_big.json()["field"] == "data"
    assert post(pin, {**like, "extra": 1}).status_code == 422

    reader = token("anyone")
    assert client.get(f"/v1/users/bob/reactions?activity_id={pin}", headers=reader).status_code == 403
    many = "&".join(f"activity_id={pin}" for _ in range(101))
    assert client.get(f"/v1/reaction-counts?{many}", headers=reader).status_code == 422
    assert (
        client.get(f"/v1/activities/{pin}/reactions?kind=like&before=yesterday", headers=reader).status_code
        == 422
    )
    assert client.get(f"/v1/reaction-counts?activity_id={pin}").status_code == 401
    assert client.get(f"/v1/reaction-counts?activity_id={pin}", headers=reader).json()["results"] == [
        {"like": 1}
    ]


def test_a_feed_page_carries_each_activitys_reactions_when_asked(client):
    follow = {"follower": "julie", "followed": "ann"}
    assert client.post("/v1/follows", json=follow, headers=SERVICE_HEADERS).status_code == 202
    first, second = publish(client, "ann", "pin:1"), publish(client, "ann", "pin:2")
    for n in range(3):
        react(client, first, f"fan{n}")
    react(client, first, "julie", "comment", data={"text": "mine"})
    react(client, second, "julie")
    headers = token("julie")

    plain = client.get("/v1/feeds/normal/julie", headers=headers).json()
    assert [a["id"] for a in plain["results"]] == [second, first]
    assert all("reactions" not in a for a in plain["results"])

    page = client.get("/v1/feeds/normal/julie?reactions=true&recent_reactions=2", headers=headers).json()
    newer, older = (a["reactions"] for a in page["results"])
    assert newer["counts"] == {"like": 1} and [r["user_id"] for r in newer["own"]] == ["julie"]
    assert older["counts"] == {"comment": 1, "like": 3}
    assert [(r["kind"], r["data"]) for r in older["own"]] == [("comment", {"text": "mine"})]
    assert [r["user_id"] for r in older["recent"]["like"]] == ["fan2", "fan1"]

    counts_only = client.get("/v1/feeds/normal/julie?reactions=true", headers=headers).json()
    assert counts_only["results"][1]["reactions"]["recent"] == {}
    assert client.get("/v1/feeds/normal/julie?recent_reactions=11", headers=headers).status_code == 422

    # An aggregated feed's groups: each member activity carries its own.
    grouped = client.get("/v1/feeds/aggregated/julie?reactions=true", headers=headers).json()
    members = {a["id"]: a["reactions"]["counts"] for g in grouped["results"] for a in g["activities"]}
    assert members == {first: {"comment": 1, "like": 3}, second: {"like": 1}}
