"""Feeds can live on different named Redis servers, as with Stream Framework's STREAM_REDIS_CONFIG."""

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.feeds.flat import Feed
from streamfeed.settings import Settings
from streamfeed.storage import registry

pytestmark = pytest.mark.integration


def test_feed_class_picks_its_named_server(redis_client, monkeypatch, unique_name):
    settings = Settings(
        redis_servers={"analytics": "redis://127.0.0.1:6379/3"}, redis_prefix=f"{unique_name}:"
    )

    class AnalyticsFeed(Feed):
        key_format = "analytics:{user_id}"
        backend_name = "redis:analytics"

    backend = registry.create_backend("redis:analytics", settings=settings)
    try:
        AnalyticsFeed("7", backend=backend).add(Activity("1", "add", "2"))
        assert backend.client.connection_pool.connection_kwargs["db"] == 3
        assert backend.client.zcard(f"{unique_name}:analytics:{{7}}") == 1
        with pytest.raises(ValueError, match="no Redis server named 'reports'"):
            registry.create_backend("redis:reports", settings=settings)
    finally:
        keys = list(backend.client.scan_iter(f"{unique_name}:*"))
        if keys:
            backend.client.delete(*keys)
        backend.close()
