"""What several commands share: options, and loading the user's app as a usage error."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from streamfeed.app.manager import Manager
from streamfeed.bootstrap import DEFAULT_APP, AppNotFound, load_manager
from streamfeed.settings import get_settings
from streamfeed.storage.base import Backend
from streamfeed.storage.registry import get_backend

__all__ = ["DEFAULT_APP", "AppOption", "Storage", "StorageOption", "load_app", "reading_backend"]


class Storage(StrEnum):
    memory = "memory"
    redis = "redis"
    cassandra = "cassandra"


StorageOption = Annotated[str | None, typer.Option(help="memory, redis or cassandra (default: setting).")]
AppOption = Annotated[
    str,
    typer.Option("--app", "-A", help="Your Manager, as module:attribute: its feeds and verbs are checked."),
]


def load_app(path: str) -> Manager:
    """The Manager --app names; a wrong path is a usage error (exit 2, one line), not a traceback."""
    try:
        return load_manager(path)
    except AppNotFound as error:
        raise typer.BadParameter(str(error), param_hint="--app") from None


#: `--json`: the command's report as one JSON object on standard output, for scripts (the
#: human lines and progress go to standard error, or are left out).
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")]


def reading_backend(storage: Storage | None) -> Backend:
    """The backend a reading command reads (--storage, else STREAMFEED_STORAGE); memory holds only
    what this process wrote, which is said on standard error."""
    name = storage.value if storage is not None else get_settings().storage
    if name == "memory":
        typer.echo(
            "note: memory storage holds only what this process wrote; set STREAMFEED_STORAGE "
            "(or --storage) to read redis or cassandra",
            err=True,
        )
    return get_backend(name)
