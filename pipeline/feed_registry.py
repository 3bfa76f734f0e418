"""Feed classes by name: what the CLI and the pipeline resolve feed names against."""

from __future__ import annotations

from pipeline.aggregated_feeds import AggregatedFeed, NotificationFeed
from pipeline.feeds import BaseFeed, Feed, UserFeed


def default_feed_classes() -> dict[str, type[BaseFeed]]:
    """The built-in feeds; a manager may declare its own."""
    return {cls.name: cls for cls in (Feed, UserFeed, AggregatedFeed, NotificationFeed)}
