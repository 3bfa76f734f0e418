"""Errors as RFC 9457 problem details: a status, a title, what went wrong, and the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from streamfeed.domain.exceptions import StreamfeedError

MEDIA_TYPE = "application/problem+json"


class Problem(StreamfeedError):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        body["detail"] = self.detail
        if self.field is not None:
            body["field"] = self.field
        return body


def problem_response(status: int, title: str, detail: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        Problem(status, title, detail, field).body(), status_code=status, media_type=MEDIA_TYPE
    )


async def handle_problem(request: Request, problem: Problem) -> JSONResponse:
    response = problem_response(problem.status, problem.title, problem.detail, problem.field)
    response.headers.update(problem.headers)
    return response
