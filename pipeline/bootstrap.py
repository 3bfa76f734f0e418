"""The composition root: which Manager a command runs, and how its writes leave the process.

Every entry point (the CLI's commands, the HTTP API's processes, the demo)
gets its application here, so "load the user's app" and "publish through
Kafka instead of running inline" are decided in one place.
"""

from __future__ import annotations

import importlib
import os
import sys

from streamfeed.app.manager import Manager
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.feeds.flat import FeedKeyError, check_key_format
from streamfeed.kafka.driver import KafkaDriver
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.settings import Settings

#: The application a command runs without --app: Stream Framework's default feeds.
DEFAULT_APP = "streamfeed.default_app:manager"


class AppNotFound(StreamfeedError, ValueError):
    """--app does not name a Manager: the message says what it names instead."""


def load_manager(path: str) -> Manager:
    """Import 'module:attribute' (like faust -A) and return the Manager it names.

    The current directory goes on the import path first, as Faust's and
    Celery's -A do: `streamfeed worker --app myapp.feeds:manager` works from
    the folder that holds myapp/.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise AppNotFound(f"{path!r}: use module:attribute, e.g. myapp.feeds:manager")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AppNotFound(f"cannot import {module_name!r}: {exc}") from None
    manager = getattr(module, attribute, None)
    if not isinstance(manager, Manager):
        raise AppNotFound(f"{path!r} is {type(manager).__name__}, not a streamfeed Manager")
    for feed_class in manager.all_feed_classes().values():  # a bad key_format: said now, in one line
        try:
            check_key_format(feed_class.key_format)
        except FeedKeyError as error:
            raise AppNotFound(f"{path!r}: {feed_class.__qualname__}.{error}") from None
    return manager


def with_kafka(manager: Manager, settings: Settings) -> KafkaDriver:
    """Point the manager's writes at Kafka (the workers apply them); returns the driver to flush."""
    driver = KafkaDriver(StreamfeedProducer(settings, manager=manager))
    manager.driver = driver
    return driver
