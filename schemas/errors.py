"""The errors the codec raises, at the bottom of the layers so nothing above is imported.

streamfeed.domain.exceptions re-exports both: StreamfeedError is the family every
streamfeed error belongs to, SerializationException the codec's.
"""

from __future__ import annotations


class StreamfeedError(Exception):
    """Base of every error streamfeed raises on purpose."""


class SerializationException(StreamfeedError):
    """Bytes could not be decoded, or a value could not be encoded, and why."""
