"""`to` targets under hostile clients: who may notify whom, how many, and what a recipient
learns. Each test failed on the code before issue 24 (the spam route, the quadratic group
copies, the leaked recipient list, the unbounded target count)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from streamfeed import Activity, Manager
from streamfeed.api.app import create_app
from streamfeed.storage.memory import MemoryBackend

KEY = "test-signing-key-0123456789abcdef"
SERVICE = {"X-Service-Key": "service-key-0123456789abcdef-0123"}


def token(user: str) -> dict[str, str]:
    claims = {"sub": user, "exp": int(time.time() + 300)}
    return {"Authorization": f"Bearer {jwt.encode(claims, KEY, algorithm='HS256')}"}


def client_for(manager: Manager) -> TestClient:
    return TestClient(create_app(manager, jwt_key=KEY, service_key=SERVICE["X-Service-Key"]))


def note(actor: str, to: list[str], n: int = 1) -> dict:
    return {"actor": actor, "verb": "love", "object": f"pin:{n}", "to": to}


def raw_post(client: TestClient, body: dict, headers: dict[str, str]) -> object:
    """POST body as JSON with non-ASCII escaped (\\ud800 stays an escape, as a client sends it)."""
    return client.post(
        "/v1/activities", content=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def counts(client: TestClient, user: str) -> dict:
    return client.get(f"/v1/feeds/notification/{user}/counts", headers=token(user)).json()


def test_a_user_token_may_not_notify_another_user_and_nothing_is_written() -> None:
    """Before: any user token could raise anyone's unseen count with its own text."""
    client = client_for(Manager(MemoryBackend()))
    spam = note("mallory", ["notification:victim"]) | {"extra_context": {"text": "You won! http://evil"}}
    refused = client.post("/v1/activities", json=[note("mallory", []), spam], headers=token("mallory"))
    assert refused.status_code == 403 and refused.json()["field"] == "to"
    assert "notification:victim" in refused.json()["detail"]
    assert counts(client, "victim") == {"unseen": 0, "unread": 0}
    own_feed = client.get("/v1/feeds/user/mallory", headers=token("mallory")).json()["results"]
    assert own_feed == []  # the good item of the refused batch was not published either
    assert client.post("/v1/activities", json=spam, headers=SERVICE).status_code == 202
    assert counts(client, "victim") == {"unseen": 1, "unread": 1}


def test_the_apps_policy_decides_which_targets_a_user_may_use() -> None:
    class MentionFollowers(Manager):
        def allow_targets(self, activity: Activity) -> list[str]:
            mentioned = [entry.partition(":")[2] for entry in activity.to]
            following = self.backend.follows.follow_versions(mentioned, activity.actor_id)
            return [entry for entry in activity.to if entry.partition(":")[2] in following]

    manager = MentionFollowers(MemoryBackend())
    client = client_for(manager)
    manager.follow_user("fan", "ann")
    assert (
        client.post(
            "/v1/activities", json=note("ann", ["notification:fan"]), headers=token("ann")
        ).status_code
        == 202
    )
    stranger = client.post(
        "/v1/activities", json=note("ann", ["notification:stranger"], 2), headers=token("ann")
    )
    assert stranger.status_code == 403
    assert counts(client, "fan")["unseen"] == 1 and counts(client, "stranger")["unseen"] == 0


def test_a_recipient_sees_only_that_it_was_targeted() -> None:
    """Before: every recipient's page carried the whole `to` list."""
    client = client_for(Manager(MemoryBackend()))
    to = [f"notification:u{n}" for n in range(50)]
    assert client.post("/v1/activities", json=note("ann", to), headers=SERVICE).status_code == 202
    page = client.get("/v1/feeds/notification/u7", headers=token("u7")).json()["results"]
    assert [a["to"] for a in page[0]["activities"]] == [["notification:u7"]]
    own = client.get("/v1/feeds/user/ann", headers=token("ann")).json()["results"]
    assert own[0]["to"] == to  # the author sees every target of their own activity


@pytest.mark.parametrize("targets", [10, 500])
def test_a_recipients_stored_group_does_not_grow_with_the_target_count(targets: int) -> None:
    """Before: each recipient's group stored the whole list (n recipients x n entries)."""
    backend = MemoryBackend()
    manager = Manager(backend)
    to = [f"notification:user{n:04d}" for n in range(targets)]
    manager.add_user_activity("ann", Activity("ann", "love", "pin:1", to=to))
    [group] = manager.get_feed("notification", "user0003")[:]
    assert [a.to for a in group.activities] == [("notification:user0003",)]
    stored = backend.aggregated.groups[manager.get_feed("notification", "user0003").key]
    assert all(len(raw) < 600 for raw in stored.values()), [len(raw) for raw in stored.values()]


def test_more_targets_than_the_limit_are_refused_before_anything_is_written() -> None:
    manager = Manager(MemoryBackend())
    client = client_for(manager)
    to = [f"notification:u{n}" for n in range(manager.max_targets + 1)]
    refused = client.post("/v1/activities", json=note("ann", to), headers=SERVICE)
    assert refused.status_code == 422 and refused.json()["field"] == "to"
    assert "STREAMFEED_MAX_TARGETS" in refused.json()["detail"]
    assert counts(client, "u0")["unseen"] == 0
    assert client.get("/v1/feeds/user/ann", headers=token("ann")).json()["results"] == []
    ten_thousand = [f"notification:u{n}" for n in range(10_000)]
    assert client.post("/v1/activities", json=note("ann", ten_thousand), headers=SERVICE).status_code == 422


@pytest.mark.parametrize("field", ["object", "target", "foreign_id"])
def test_a_lone_surrogate_is_a_problem_naming_the_field_not_a_500(field: str) -> None:
    """Before: a UnicodeEncodeError traceback and a reset connection."""
    client = client_for(Manager(MemoryBackend()))
    body = note("ann", []) | {field: "pin\ud800"}
    answer = raw_post(client, body, token("ann"))
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_a_lone_surrogate_in_extra_context_and_an_overlong_id_are_refused() -> None:
    client = client_for(Manager(MemoryBackend()))
    answer = raw_post(client, note("ann", []) | {"extra_context": {"t": "x\ud800"}}, token("ann"))
    assert answer.status_code == 422 and "extra_context" in answer.json()["field"]
    long_id = client.post(
        "/v1/activities", json=note("ann", []) | {"object": "x" * 100_000}, headers=token("ann")
    )
    assert long_id.status_code in (413, 422), long_id.text
