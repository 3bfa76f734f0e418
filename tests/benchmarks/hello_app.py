"""The ceiling of the API benchmark: a bare ASGI app on uvicorn answering a fixed JSON body.

What one Python process with uvicorn's parser serves when the app does
nothing: the API's page reads are measured against it in the same run.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"results": []}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})
