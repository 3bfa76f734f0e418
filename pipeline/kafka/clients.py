"""What every Kafka client of streamfeed is configured with: its servers, and where its log goes.

librdkafka writes its own log lines to stderr by default (a refused
connection is a `%3|FAIL|` line per broker per retry: 557 lines for one
`topics create` against a wrong address). Routed through Python logging
instead, they follow the process's logging setup: a worker logs them with
its own lines, the command line keeps them quiet unless `--verbose`, and
the command says what went wrong in one line of its own.
"""

from __future__ import annotations

import logging
from typing import Any

#: librdkafka's log lines, as Python log records.
LIBRDKAFKA_LOG = logging.getLogger("streamfeed.librdkafka")


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """A client's base configuration: `bootstrap.servers` and the logger, plus `extra`."""
    return {"bootstrap.servers": bootstrap, "logger": LIBRDKAFKA_LOG, **extra}
