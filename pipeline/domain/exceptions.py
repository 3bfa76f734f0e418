"""The errors streamfeed raises, with Stream Framework's names where it had one.

Every error is a StreamfeedError, so a caller can catch the family; the
pipeline tells bad input (ValidationError, SerializationException: the record
goes to the dead-letter topic) from everything else (retry).
"""

from __future__ import annotations

from typing import Any

from streamfeed.schemas.errors import SerializationException, StreamfeedError

__all__ = [
    "ActivityNotFound",
    "BadInput",
    "DuplicateActivityException",
    "SerializationException",
    "StreamfeedError",
    "UnknownVerb",
    "ValidationError",
    "VerbConflict",
]


class DuplicateActivityException(StreamfeedError):
    """An activity was appended to an aggregated activity that already holds it."""


class ActivityNotFound(StreamfeedError):
    """An activity to remove is not where the caller said it was."""


class BadInput(StreamfeedError):
    """Input that no retry can fix; the pipeline sends it to the dead-letter topic."""


class ValidationError(BadInput, ValueError):
    """A field of an activity or event holds a value streamfeed cannot accept.

    The message names the field and the value, so a producer in any language
    can find the offending record from the dead-letter reason alone.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: {reason} (got {shown})")


class UnknownVerb(ValidationError):
    """A verb id or infinitive that no registered Verb has."""


class VerbConflict(StreamfeedError):
    """A second verb tried to register an id or infinitive already taken."""
