"""The application the pipeline benchmark's worker runs: flat feeds only.

The figure asked for is flat-feed inserts per second; aggregated feeds are a
read-merge-write per recipient and are measured by the end-to-end tests.
"""

from typing import ClassVar

from streamfeed.app.manager import Manager
from streamfeed.feeds.flat import BaseFeed, Feed


class FlatOnlyManager(Manager):
    feed_classes: ClassVar[dict[str, type[BaseFeed]]] = {"normal": Feed}


manager = FlatOnlyManager()
