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
from streamfeed.api.rate_limit import Bucket, RateLimiter
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.settings import MIN_SECRET_BYTES


@dataclass(frozen=True)
class Caller:
    user_id: str | None  # None: a service
    service: bool = False

    def may_act_as(self, user_id: str) -> bool:
        return self.service or self.user_id == user_id

    def require(self, user_id: str, what: str) -> None:
        if not self.may_act_as(user_id):
            raise Problem(403, "Forbidden", f"a token for {self.user_id!r} may not {what} of {user_id!r}")


#: Verified tokens an API process remembers (a few MiB at most).
VERIFIED_TOKENS = 20_000


class WeakKey(StreamfeedError, ValueError):
    """A signing or service key too short to resist guessing: the API refuses to start."""


class Authenticator:
    """Checks bearer JWTs (HS256; `sub` and `exp` required, `exp` at most max_seconds ahead,
    `iss` and `aud` when configured) and the service key."""

    def __init__(
        self,
        jwt_key: str | None,
        service_key: str | None,
        algorithm: str = "HS256",
        issuer: str | None = None,
        audience: str | None = None,
        max_seconds: int = 86_400,
    ) -> None:
        for name, key in (("STREAMFEED_API_JWT_KEY", jwt_key), ("STREAMFEED_API_SERVICE_KEY", service_key)):
            if key is not None and len(key.encode()) < MIN_SECRET_BYTES:
                raise WeakKey(f"{name} must be at least {MIN_SECRET_BYTES} bytes")
        self.jwt_key = jwt_key
        self.service_key = service_key
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.max_seconds = max_seconds
        #: Tokens whose signature and claims were checked, with their caller and expiry: a user's
        #: next requests skip the HMAC and the claim parsing (a twelfth of a page read). A token
        #: is the same bytes that were verified, and it is dropped once it expires.
        self._verified: dict[str, tuple[Caller, float]] = {}

    def token_for(self, user_id: str, seconds: int = 3600) -> str:
        """A user token (the demo page's sign-in, `streamfeed token`): only where tokens are enabled."""

        if not self.jwt_key:
            raise Problem(404, "Not found", "user tokens are not enabled (STREAMFEED_API_JWT_KEY)")
        claims: dict[str, str | int] = {
            "sub": user_id,
            "exp": int(time.time()) + min(seconds, self.max_seconds),
        }
        if self.issuer:
            claims["iss"] = self.issuer
        if self.audience:
            claims["aud"] = self.audience
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
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        caller, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS:  # lapsed ones first; a full set of live ones: all
            now = time.time()
            self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= VERIFIED_TOKENS // 2:
                self._verified = {}
        self._verified[token] = (caller, expires)
        return caller

    def _verify(self, token: str) -> tuple[Caller, float]:
        """The token's caller and expiry, once its signature and claims hold."""
        assert self.jwt_key is not None
        try:
            claims = jwt.decode(
                token,
                self.jwt_key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": [
                        "sub",
                        "exp",
                        *(["iss"] if self.issuer else []),
                        *(["aud"] if self.audience else []),
                    ]
                },
            )
        except jwt.ExpiredSignatureError:
            raise Problem(401, "Unauthorized", "the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise Problem(401, "Unauthorized", f"the token is not valid: {error}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Problem(401, "Unauthorized", "the token names no user (sub)")
        if claims["exp"] - time.time() > self.max_seconds:
            raise Problem(
                401,
                "Unauthorized",
                f"the token lives longer than {self.max_seconds} s (STREAMFEED_API_TOKEN_MAX_SECONDS)",
            )
        return Caller(subject), float(claims["exp"])


async def current_caller(
    request: Request,
    authorization: str | None = Header(None),
    x_service_key: str | None = Header(None),
) -> Caller:
    """FastAPI dependency: the caller of this request, within its rate limit. Async: a sync
    dependency would cost each request a hop to the thread pool and back."""
    return await _limited_caller(request, authorization, x_service_key)


async def _limited_caller(request: Request, authorization: str | None, service_key: str | None) -> Caller:
    """Who calls, after taking a request from their bucket: the user's, the service's, or (a
    failed sign-in) the client address's, so guessing tokens is throttled too."""
    auth: Authenticator = request.app.state.auth
    limits: CallerLimits = request.app.state.rate_limits
    try:
        caller = auth.caller(authorization, service_key)
    except Problem:
        address = request.client.host if request.client else "unknown"
        await limits.limiter.take(f"failed:{address}", limits.failed)
        raise
    if caller.service:
        await limits.limiter.take("service", limits.service)
    else:
        await limits.limiter.take(f"user:{caller.user_id}", limits.user)
    return caller


@dataclass(frozen=True)
class CallerLimits:
    """The buckets of each kind of caller, and where they are kept."""

    limiter: RateLimiter
    user: Bucket
    service: Bucket
    failed: Bucket


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
    return await _limited_caller(request, authorization, x_service_key)
