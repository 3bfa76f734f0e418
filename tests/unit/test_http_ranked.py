"""Ranked feed pages over HTTP (issue 31): `?ranking=` orders a flat feed by the feed class's
ranking with a cursor, each activity with its score; what cannot rank is refused by name."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamfeed.api.app import create_app
from streamfeed.app.manager import Manager
from streamfeed.storage.memory import MemoryBackend
from tests.unit.test_http_api import KEY, SERVICE, SERVICE_HEADERS, token
from tests.unit.test_http_reactions import publish, react


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Manager(MemoryBackend()), jwt_key=KEY, service_key=SERVICE))


def test_a_ranked_page_puts_the_liked_first_and_pages_by_cursor(client):
    answer = client.post("/v1/follows", json={"follower": "bob", "followed": "ann"}, headers=SERVICE_HEADERS)
    assert answer.status_code == 202, answer.text
    pins = [publish(client, "ann", f"pin:{n}") for n in range(6)]
    for n in range(4):
        react(client, pins[1], f"fan{n}")
    reader = token("bob")
    newest = client.get("/v1/feeds/normal/bob?limit=3", headers=reader).json()
    assert [a["id"] for a in newest["results"]] == pins[::-1][:3]

    first = client.get("/v1/feeds/normal/bob?limit=3&ranking=popular&reactions=true", headers=reader).json()
    assert first["ranking"] == "popular"
    assert first["results"][0]["id"] == pins[1] and first["results"][0]["reactions"]["counts"] == {"like": 4}
    scores = [a["score"] for a in first["results"]]
    assert scores == sorted(scores, reverse=True)
    second = client.get(
        f"/v1/feeds/normal/bob?limit=3&ranking=popular&cursor={first['next']}", headers=reader
    )
    rest = second.json()
    assert rest["next"] is None
    assert sorted(a["id"] for a in first["results"] + rest["results"]) == sorted(pins)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("ranking=trending", 400, "ranking"),
        ("ranking=popular&cursor=zzz", 400, "cursor"),
        ("cursor=abc", 400, "cursor"),
        ("ranking=popular&id_lt=0000", 400, "ranking"),
    ],
)
def test_what_cannot_rank_is_refused_naming_the_parameter(client, query, status, field):
    answer = client.get(f"/v1/feeds/normal/bob?{query}", headers=token("bob"))
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field


def test_an_aggregated_feed_does_not_rank(client):
    answer = client.get("/v1/feeds/aggregated/bob?ranking=popular", headers=token("bob"))
    assert answer.status_code == 400 and "only flat feeds rank" in answer.json()["detail"]
