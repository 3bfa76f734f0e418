"""The app `streamfeed serve` runs, built the same way in one process or in each of several.

uvicorn starts extra worker processes from an import string, so the choices
made on the command line (which Manager, inline or Kafka) travel to them in
the environment and each process builds its own app, connections included.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from streamfeed.api.app import create_app
from streamfeed.api.auth import CallerLimits
from streamfeed.api.rate_limit import Bucket, RateLimiter, RedisRateLimiter
from streamfeed.bootstrap import load_manager, with_kafka
from streamfeed.settings import Settings, get_settings

APP_ENV = "STREAMFEED_SERVE_APP"
KAFKA_ENV = "STREAMFEED_SERVE_KAFKA"


def build_app(app_path: str, kafka: bool) -> FastAPI:
    settings = get_settings()
    manager = load_manager(app_path)
    # The API only renders what it reads: its pages may share decoded activities.
    manager.backend.remember_decoded(settings.api_decode_cache)
    if kafka:
        with_kafka(manager, settings)
    return create_app(
        manager,
        settings.api_jwt_key,
        settings.api_service_key,
        settings.api_cors_origins,
        demo_page=settings.api_demo_page,
        realtime_per_user=settings.api_realtime_per_user,
        realtime_max=settings.api_realtime_max,
        docs=settings.api_docs,
        jwt_issuer=settings.api_jwt_issuer,
        jwt_audience=settings.api_jwt_audience,
        token_max_seconds=settings.api_token_max_seconds,
        rate_limits=caller_limits(settings),
        freeze_gc=True,
    )


def caller_limits(settings: Settings) -> CallerLimits:
    """The buckets of the settings, kept in Redis (shared by every API process) when the feeds
    are there, else in this process."""
    limiter = (
        RedisRateLimiter(settings.redis_url, settings.redis_prefix)
        if settings.storage == "redis"
        else RateLimiter()
    )
    return CallerLimits(
        limiter,
        Bucket(settings.api_rate_user, settings.api_rate_user_burst),
        Bucket(settings.api_rate_service, settings.api_rate_service_burst),
        Bucket(settings.api_rate_failed, 20),
    )


def from_environment() -> FastAPI:
    """uvicorn's factory in each worker process."""
    return build_app(os.environ[APP_ENV], os.environ.get(KAFKA_ENV) == "1")
