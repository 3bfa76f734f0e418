"""`streamfeed token`: a user token signed with STREAMFEED_API_JWT_KEY, for development and tests.

Apps mint their users' tokens in their own backend (any JWT library, HS256,
`sub` the user id, `exp` within STREAMFEED_API_TOKEN_MAX_SECONDS, and `iss`
and `aud` when those are set); this command does the same from a shell.
"""

from __future__ import annotations

from typing import Annotated

import typer

from streamfeed.domain.activity import check_user_id
from streamfeed.domain.exceptions import ValidationError
from streamfeed.settings import get_settings


def token(
    user: Annotated[str, typer.Argument(help="The user id the token acts as (its `sub`).")],
    seconds: Annotated[
        int, typer.Option(min=60, help="Lifetime, at most STREAMFEED_API_TOKEN_MAX_SECONDS.")
    ] = 3600,
) -> None:
    """Print a user token for the HTTP API."""
    settings = get_settings()
    if not settings.api_jwt_key:
        typer.echo("error: STREAMFEED_API_JWT_KEY is not set: user tokens are off", err=True)
        raise typer.Exit(2)
    try:
        check_user_id("user", user)
    except ValidationError as error:
        raise typer.BadParameter(str(error), param_hint="USER") from None
    if seconds > settings.api_token_max_seconds:
        raise typer.BadParameter(
            f"at most {settings.api_token_max_seconds} (STREAMFEED_API_TOKEN_MAX_SECONDS)",
            param_hint="--seconds",
        )
    from streamfeed.api.auth import Authenticator  # noqa: PLC0415 (FastAPI loads only where it serves)

    auth = Authenticator(
        settings.api_jwt_key,
        None,
        issuer=settings.api_jwt_issuer,
        audience=settings.api_jwt_audience,
        max_seconds=settings.api_token_max_seconds,
    )
    typer.echo(auth.token_for(user, seconds))
