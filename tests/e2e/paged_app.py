"""The default app with a follower page of 3: every fanout of more than three followers is
planned and sent a page at a time (streamfeed.app.steps.FanoutRest), as a celebrity's is."""

from __future__ import annotations

from streamfeed.app.manager import Manager


class PagedManager(Manager):
    follower_page_size = 3


manager = PagedManager()
