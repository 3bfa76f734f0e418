"""The demo page and its sign-in: anyone gets a token, so create_app mounts it only when asked."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from streamfeed.api.models import DemoSignIn

router = APIRouter(include_in_schema=False)


@cache
def _page() -> str:
    return (Path(__file__).parent.parent / "static" / "index.html").read_text()


@cache
def _client() -> str:
    return (Path(__file__).parent.parent / "static" / "streamfeed-client.js").read_text()


@router.get("/")
def index() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get("/streamfeed-client.js")
def client_bundle() -> Response:
    """The TypeScript client (clients/typescript) bundled for the page: it reads and marks
    through the same typed client app developers use."""
    return Response(_client(), media_type="text/javascript")


@router.post("/v1/demo/token")
def demo_token(body: DemoSignIn, request: Request) -> dict[str, str]:
    token: str = request.app.state.auth.token_for(body.user_id)
    return {"token": token}
