"""What every response and log line carries or leaves out, whatever the route.

Security headers on every answer (no sniffing, no framing, no referrer, and
a content policy that allows nothing but the demo page's own inline code),
and the realtime stream's query-string token cut out of uvicorn's access
log, which writes every request line by default.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
#: JSON and event streams need nothing; /docs loads its page from a CDN, and the demo page is
#: one inline document.
_API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
_PAGE_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    b"frame-ancestors 'none'"
)
_PAGES = ("/", "/docs", "/redoc")


class SecurityHeaders:
    """Pure ASGI middleware (it never buffers a body, so event streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = _PAGE_POLICY if scope["path"] in _PAGES else _API_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [*_HEADERS, (b"content-security-policy", policy)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_TOKEN = re.compile(r"(access_token=)[^&\s]*")


class RedactTokens(logging.Filter):
    """Replaces the value of access_token= in a log record's arguments with [redacted]."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        record.msg = _redacted(record.msg)
        return True


def _redacted(value: Any) -> Any:
    return _TOKEN.sub(r"\1[redacted]", value) if isinstance(value, str) else value


def redact_tokens_in_logs() -> None:
    """Install the filter on uvicorn's access and error loggers, once per process."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
