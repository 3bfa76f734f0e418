"""An app whose aggregated feed cannot group some activities: a bug in the app's own code.

Its aggregator raises for every activity whose object starts with "poison:",
every time: the records carrying one are poison, the rest of the world is
applied as by the default app (the inline oracle).
"""

from __future__ import annotations

from typing import ClassVar

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregators import BaseAggregator, RecentVerbAggregator
from streamfeed.feeds.aggregated import AggregatedFeed
from streamfeed.feeds.flat import BaseFeed, Feed

POISON_PREFIX = "poison:"


class PoisonedAggregator(RecentVerbAggregator):
    def get_group(self, activity: Activity) -> str:
        if activity.object_id.startswith(POISON_PREFIX):
            raise RuntimeError(f"injected: the app cannot group {activity.object_id}")
        return super().get_group(activity)


class PoisonedAggregatedFeed(AggregatedFeed):
    aggregator_class: ClassVar[type[BaseAggregator]] = PoisonedAggregator


class PoisonedManager(Manager):
    feed_classes: ClassVar[dict[str, type[BaseFeed]]] = {"normal": Feed, "aggregated": PoisonedAggregatedFeed}


manager = PoisonedManager()
