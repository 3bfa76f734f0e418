"""The application a worker runs when --app is not given: Stream Framework's default feeds.

Followers get a flat feed ("normal") and an aggregated feed ("aggregated");
activities reach notification feeds through their `to` field. Storage is
the STREAMFEED_STORAGE setting.
"""

from streamfeed.app.manager import Manager

manager = Manager()
