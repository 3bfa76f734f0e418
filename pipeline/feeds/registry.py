"""Feed classes by name: what the CLI and the pipeline resolve feed names against."""

from __future__ import annotations

from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed
from streamfeed.feeds.flat import BaseFeed, Feed, UserFeed


def default_feed_classes() -> dict[str, type[BaseFeed]]:
    """The built-in feeds; a manager may declare its own."""
    return {cls.name: cls for cls in (Feed, UserFeed, AggregatedFeed, NotificationFeed)}
