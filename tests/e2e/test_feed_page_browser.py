"""The demo feed page in a real browser (Playwright driving Debian's chromium, headless): sign in,
see the feeds, an activity published through the API appears and the unseen badge changes with
no reload, mark all seen, the badge goes to 0; like a pin on the feed and take the like back; a
like made elsewhere shows live, and ordering by popularity puts the liked pin first."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx
import pytest

from tests.services import free_port, start_api_server

pytestmark = pytest.mark.integration

KEY = "browser-signing-key-0123456789abcdef0123"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed on first use like the stack's redis-server."""
    if not shutil.which("chromium"):
        install = subprocess.run(
            [
                "bash",
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert install.returncode == 0, f"could not install chromium: {install.stderr[-2000:]}"
    return shutil.which("chromium") or CHROMIUM


def test_the_page_updates_live_and_marks_seen(chromium, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    env = {
        **os.environ,
        "STREAMFEED_STORAGE": "memory",
        "STREAMFEED_API_PORT": str(port),
        "STREAMFEED_API_JWT_KEY": KEY,
        "STREAMFEED_API_DEMO_PAGE": "true",
        "STREAMFEED_API_SERVICE_KEY": "e2e-service-key-0123456789abcdef",
    }
    server = start_api_server(env, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        # The app's backend notifies (a user token may target only its own feeds).
        ann = {"X-Service-Key": "e2e-service-key-0123456789abcdef"}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(base + "/")
            page.fill("#user", "bob")
            page.click("button[type=submit]")
            expect(page.locator("#who")).to_have_text("bob")
            expect(page.locator("body[data-live=yes]")).to_have_count(1, timeout=15_000)  # stream open
            expect(page.locator("#badge")).to_have_text("0")
            published = httpx.post(
                base + "/v1/activities",
                json={"actor": "ann", "verb": "love", "object": "pin:42", "to": ["notification:bob"]},
                headers=ann,
            )
            assert published.status_code == 202
            expect(page.locator("#badge")).to_have_text("1", timeout=15_000)  # no reload: the event stream
            expect(page.locator("#notification li")).to_contain_text(["ann love"], timeout=15_000)
            page.click("#markall")
            expect(page.locator("#badge")).to_have_text("0", timeout=15_000)

            # Likes: bob follows ann, ann pins, bob likes the pin on his feed and takes it back.
            follow = {"follower": "bob", "followed": "ann"}
            assert httpx.post(base + "/v1/follows", json=follow, headers=ann).status_code == 202
            pin = {"actor": "ann", "verb": "add", "object": "pin:7"}
            published = httpx.post(base + "/v1/activities", json=pin, headers=ann)
            assert published.status_code == 202
            (pin_id,) = published.json()["ids"]
            entry = page.locator("#normal li", has_text="ann add pin:7")
            expect(entry.locator(".likes")).to_have_text("\u2665 0", timeout=15_000)
            entry.locator("button.like").click()
            expect(entry.locator(".likes")).to_have_text("\u2665 1", timeout=15_000)
            expect(entry.locator("button.like")).to_have_text("Unlike")
            entry.locator("button.like").click()
            expect(entry.locator(".likes")).to_have_text("\u2665 0", timeout=15_000)
            expect(entry.locator("button.like")).to_have_text("Like")

            # A newer pin comes first; eve likes the older one elsewhere: its count changes with no
            # reload (a realtime `reactions` event), and ordered by popularity the liked pin leads.
            newer = {"actor": "ann", "verb": "add", "object": "pin:8"}
            assert httpx.post(base + "/v1/activities", json=newer, headers=ann).status_code == 202
            expect(page.locator("#normal li").first).to_contain_text("ann add pin:8", timeout=15_000)
            like = {"kind": "like", "user_id": "eve"}
            liked = httpx.post(f"{base}/v1/activities/{pin_id}/reactions", json=like, headers=ann)
            assert liked.status_code == 202, liked.text
            expect(entry.locator(".likes")).to_have_text("\u2665 1", timeout=15_000)
            page.select_option("#order", "popular")
            expect(page.locator("#normal li").first).to_contain_text("ann add pin:7", timeout=15_000)
            page.select_option("#order", "")
            expect(page.locator("#normal li").first).to_contain_text("ann add pin:8", timeout=15_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(15)
