"""streamfeed: Stream Framework's feeds as a Kafka stream pipeline.

The names an application uses are importable from here (``from streamfeed
import Activity, Feed, Manager``); everything else lives in the layer that
owns it (streamfeed.domain, .storage, .feeds, .app, .kafka, .consumers,
.ops, .api, .cli). The re-exports load on first use, so ``import
streamfeed.domain.activity`` does not load Kafka, Faust or the storage
drivers, and the layers below never import this module's re-exports.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("streamfeed")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Activity": "streamfeed.domain.activity",
    "ActivityNotFound": "streamfeed.domain.exceptions",
    "AggregatedActivity": "streamfeed.domain.aggregated_activity",
    "AggregatedFeed": "streamfeed.feeds.aggregated",
    "BadInput": "streamfeed.domain.exceptions",
    "BaseAggregator": "streamfeed.domain.aggregators",
    "BaseFeed": "streamfeed.feeds.flat",
    "DeliveryError": "streamfeed.kafka.producer",
    "FanoutPriority": "streamfeed.domain.events",
    "Feed": "streamfeed.feeds.flat",
    "FeedApplication": "streamfeed.app.application",
    "FormatAggregator": "streamfeed.domain.aggregators",
    "InlineDriver": "streamfeed.app.inline",
    "KafkaDriver": "streamfeed.kafka.driver",
    "Manager": "streamfeed.app.manager",
    "MarkSpec": "streamfeed.domain.events",
    "NotificationAggregator": "streamfeed.domain.aggregators",
    "NotificationFeed": "streamfeed.feeds.aggregated",
    "Ranking": "streamfeed.domain.ranking",
    "RankingInputs": "streamfeed.domain.ranking",
    "RecentVerbAggregator": "streamfeed.domain.aggregators",
    "Settings": "streamfeed.settings",
    "StreamfeedError": "streamfeed.domain.exceptions",
    "StreamfeedProducer": "streamfeed.kafka.producer",
    "UserFeed": "streamfeed.feeds.flat",
    "ValidationError": "streamfeed.domain.exceptions",
    "Verb": "streamfeed.domain.verbs",
    "get_settings": "streamfeed.settings",
    "register_verb": "streamfeed.domain.verbs",
}

__all__ = [
    "Activity",
    "ActivityNotFound",
    "AggregatedActivity",
    "AggregatedFeed",
    "BadInput",
    "BaseAggregator",
    "BaseFeed",
    "DeliveryError",
    "FanoutPriority",
    "Feed",
    "FeedApplication",
    "FormatAggregator",
    "InlineDriver",
    "KafkaDriver",
    "Manager",
    "MarkSpec",
    "NotificationAggregator",
    "NotificationFeed",
    "Ranking",
    "RankingInputs",
    "RecentVerbAggregator",
    "Settings",
    "StreamfeedError",
    "StreamfeedProducer",
    "UserFeed",
    "ValidationError",
    "Verb",
    "__version__",
    "get_settings",
    "register_verb",
]


def __getattr__(name: str) -> Any:
    """Load a re-exported name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamfeed' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), "register" if name == "register_verb" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from streamfeed.app.application import FeedApplication
    from streamfeed.app.inline import InlineDriver
    from streamfeed.app.manager import Manager
    from streamfeed.domain.activity import Activity
    from streamfeed.domain.aggregated_activity import AggregatedActivity
    from streamfeed.domain.aggregators import (
        BaseAggregator,
        FormatAggregator,
        NotificationAggregator,
        RecentVerbAggregator,
    )
    from streamfeed.domain.events import FanoutPriority, MarkSpec
    from streamfeed.domain.exceptions import ActivityNotFound, BadInput, StreamfeedError, ValidationError
    from streamfeed.domain.ranking import Ranking, RankingInputs
    from streamfeed.domain.verbs import Verb
    from streamfeed.domain.verbs import register as register_verb
    from streamfeed.feeds.aggregated import AggregatedFeed, NotificationFeed
    from streamfeed.feeds.flat import BaseFeed, Feed, UserFeed
    from streamfeed.kafka.driver import KafkaDriver
    from streamfeed.kafka.producer import DeliveryError, StreamfeedProducer
    from streamfeed.settings import Settings, get_settings
