"""Realtime streams under hostile clients (inline, memory storage): caps, Last-Event-ID checks,
and gaps said out loud. Each failed before issue 24: streams were uncapped, a junk id broke the
stream, and an id the log no longer held (or never gave) was silence."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from streamfeed import Manager
from streamfeed.api.app import create_app
from streamfeed.api.routes import realtime
from streamfeed.storage.base import REALTIME_KEEP
from streamfeed.storage.memory import MemoryBackend

KEY = "test-signing-key-0123456789abcdef"


def token(user: str) -> dict[str, str]:
    claims = {"sub": user, "exp": int(time.time() + 300)}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='HS256')}"}


@pytest.fixture
def client() -> TestClient:
    app = create_app(
        Manager(MemoryBackend()), jwt_key=KEY, realtime_wait=0.1, realtime_per_user=2, realtime_max=3
    )
    return TestClient(app)


def first_lines(stream, count: int) -> list[str]:
    """The next `count` non-empty lines of a stream (one line iterator per stream)."""
    if not hasattr(stream, "_lines"):
        stream._lines = stream.iter_lines()
    lines: list[str] = []
    for line in stream._lines:
        if line:
            lines.append(line)
        if len(lines) == count:
            break
    return lines


@pytest.mark.parametrize("junk", ["abc", "-1", "²".encode(), "1" * 23, "1-2-3", "18446744073709551616"])
def test_a_malformed_last_event_id_is_a_400_naming_it(client: TestClient, junk: str | bytes) -> None:
    answer = client.get("/v1/realtime/bob", headers={**token("bob"), "Last-Event-ID": junk})
    assert answer.status_code == 400 and answer.json()["field"] == "Last-Event-ID"


def test_an_id_the_log_never_gave_starts_with_a_reset_then_delivers(client: TestClient) -> None:
    publisher = client.app.state.manager.backend.publisher
    with client.stream(
        "GET", "/v1/realtime/bob", headers={**token("bob"), "Last-Event-ID": "99999"}
    ) as stream:
        assert first_lines(stream, 2) == [": connected", "event: reset"]
        publisher.publish("bob", "notification:bob", 1, 1)
        lines = first_lines(stream, 4)
        assert any(line.startswith("id: ") for line in lines), lines


def test_an_id_older_than_the_kept_log_says_events_were_missed(client: TestClient) -> None:
    publisher = client.app.state.manager.backend.publisher
    for n in range(REALTIME_KEEP + 5):
        publisher.publish("bob", "notification:bob", n, n)
    with client.stream("GET", "/v1/realtime/bob", headers={**token("bob"), "Last-Event-ID": "1"}) as stream:
        lines = first_lines(stream, 3)
    assert lines[:2] == [": connected", "event: reset"]
    assert lines[2] == "data: " + '{"reason": "events missed: re-read the feed"}'


def test_streams_are_capped_per_user_and_per_process_and_give_their_place_back(client: TestClient) -> None:
    with client.stream("GET", "/v1/realtime/bob", headers=token("bob")) as one:
        assert first_lines(one, 1) == [": connected"]
        with client.stream("GET", "/v1/realtime/bob", headers=token("bob")) as two:
            assert first_lines(two, 1) == [": connected"]
            third = client.get("/v1/realtime/bob", headers=token("bob"))
            assert third.status_code == 429 and "bob" in third.json()["detail"]
            with client.stream("GET", "/v1/realtime/ann", headers=token("ann")) as ann:
                assert first_lines(ann, 1) == [": connected"]
                full = client.get("/v1/realtime/cid", headers=token("cid"))
                assert full.status_code == 429 and "3 realtime streams" in full.json()["detail"]
    with client.stream("GET", "/v1/realtime/bob", headers=token("bob")) as again:
        assert first_lines(again, 1) == [": connected"]
    assert dict(client.app.state.stream_limits.open) == {}


def test_the_token_in_the_query_string_is_taken_only_by_the_stream(client: TestClient) -> None:
    raw = token("bob")["Authorization"].removeprefix("Bearer ")
    assert client.get(f"/v1/feeds/normal/bob?access_token={raw}").status_code == 401
    with client.stream("GET", f"/v1/realtime/bob?access_token={raw}") as stream:
        assert first_lines(stream, 1) == [": connected"]


def test_an_open_stream_keeps_its_user_listening_past_the_grace(monkeypatch) -> None:
    """Streams no longer renew themselves each turn: the app's one renewal task does, for
    every user with a stream open, and stops with the stream."""
    monkeypatch.setattr(realtime, "LISTEN_GRACE", 0.2)
    app = create_app(Manager(MemoryBackend()), jwt_key=KEY, realtime_wait=0.1)
    publisher = app.state.manager.backend.publisher
    with TestClient(app) as client:
        with client.stream("GET", "/v1/realtime/bob", headers=token("bob")) as stream:
            assert first_lines(stream, 1) == [": connected"]
            time.sleep(1.0)  # three times what the first renewal promised
            assert publisher.listening(["bob", "ann"]) == {"bob"}
        time.sleep(0.6)
        assert publisher.listening(["bob"]) == set()
