"""Who is calling: a user (a JWT whose `sub` is the user id) or a service (a shared key).

A user may read and mark only their own feeds and publish or follow only as
themselves; a service may publish for any actor. Everything else is 401 (no
or bad credentials) or 403 (someone else's data), never data.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

import jwt
from fastapi import Header, Query, Request

from streamfeed.api.problems import Problem


@dataclass(frozen=True)
class Caller:
    user_id: str | None  # None: a service
    service: bool = False

    def may_act_as(self, user_id: str) -> bool:
        return self.service or self.user_id == user_id

    def require(self, user_id: str, what: str) -> None:
        if not self.may_act_as(user_id):
            raise Problem(403, "Forbidden", f"a token for {self.user_id!r} may not {what} of {user_id!r}")


class Authenticator:
    """Checks bearer JWTs (HS256, `sub` and `exp` required) and the service key."""

    def __init__(self, jwt_key: str | None, service_key: str | None, algorithm: str = "HS256") -> None:
        self.jwt_key = jwt_key
        self.service_key = service_key
        self.algorithm = algorithm

    def token_for(self, user_id: str, seconds: int = 3600) -> str:
        """A user token (the demo page's sign-in): only where tokens are enabled."""

        if not self.jwt_key:
            raise Problem(404, "Not found", "user tokens are not enabled (STREAMFEED_API_JWT_KEY)")
        claims = {"sub": user_id, "exp": int(time.time()) + seconds}
        return jwt.encode(claims, self.jwt_key, algorithm=self.algorithm)

    def caller(self, authorization: str | None, service_key: str | None) -> Caller:
        if service_key is not None:
            if self.service_key and hmac.compare_digest(service_key.encode(), self.service_key.encode()):
                return Caller(None, service=True)
            raise Problem(401, "Unauthorized", "the service key is not valid")
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Problem(401, "Unauthorized", "send Authorization: Bearer <token>")
        if not self.jwt_key:
            raise Problem(401, "Unauthorized", "user tokens are not enabled (STREAMFEED_API_JWT_KEY)")
        token = authorization[7:].strip()
        try:
            claims = jwt.decode(
                token, self.jwt_key, algorithms=[self.algorithm], options={"require": ["sub", "exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise Problem(401, "Unauthorized", "the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise Problem(401, "Unauthorized", f"the token is not valid: {error}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Problem(401, "Unauthorized", "the token names no user (sub)")
        return Caller(subject)


async def current_caller(
    request: Request,
    authorization: str | None = Header(None),
    x_service_key: str | None = Header(None),
) -> Caller:
    """FastAPI dependency: the caller of this request. Async, since it never waits: a sync
    dependency would cost each request a hop to the thread pool and back."""
    auth: Authenticator = request.app.state.auth
    return auth.caller(authorization, x_service_key)


async def stream_caller(
    request: Request,
    authorization: str | None = Header(None),
    x_service_key: str | None = Header(None),
    access_token: str | None = Query(
        None, max_length=4096, description="For EventSource, which sends no headers; never logged."
    ),
) -> Caller:
    """current_caller for the realtime stream, the one route that also takes the token as a
    query parameter: a browser's EventSource cannot send headers."""
    if authorization is None and access_token is not None:
        authorization = f"Bearer {access_token}"
    auth: Authenticator = request.app.state.auth
    return auth.caller(authorization, x_service_key)
