"""Activity ids: time-sortable, unique, and the same every time for the same activity.

An id is 30 lowercase hex digits: 14 for the activity time in microseconds
since the Unix epoch (the *sort key*), then 16 for a 64-bit BLAKE2b digest of
the activity's identity (actor, verb, object, target, foreign_id and the same
time). Consequences, each one needed somewhere:

- Plain string order is time order, ties broken by the digest, so the id works
  as a Redis sorted-set member (equal scores order by member) and as a
  Cassandra text clustering key, and both order a feed identically.
- The sort key is below 2**53 until the year 2255, so a Redis score (a double)
  holds it exactly.
- The digest covers ids as strings of any length: no cap on object ids, unlike
  Stream Framework's padded serialization_id.
- Deterministic: a producer's retry or a replay of the same activity makes the
  same id, which is what makes every write idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from hashlib import blake2b

#: Largest sort key a double holds exactly; activity times must stay below it.
MAX_SORT_KEY = 2**53 - 1
SORT_KEY_DIGITS = 14
DIGEST_DIGITS = 16
ID_LENGTH = SORT_KEY_DIGITS + DIGEST_DIGITS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The latest time an activity may carry (its sort key is MAX_SORT_KEY).
MAX_TIME = datetime(2255, 6, 5, 23, 47, 34, 740991, tzinfo=UTC)


def sort_key_for(time: datetime) -> int:
    """Microseconds since the epoch of an aware UTC datetime; exact integer arithmetic."""
    delta = time - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def time_for(sort_key: int) -> datetime:
    """Inverse of sort_key_for."""
    seconds, micros = divmod(sort_key, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _identity_bytes(parts: tuple[str | None, ...]) -> bytes:
    # Length-prefixed so that ("ab", "c") and ("a", "bc") never hash alike.
    return "".join("-" if part is None else f"{len(part)}:{part}" for part in parts).encode()


def make_activity_id(sort_key: int, *identity: str | None) -> str:
    """The id of the activity at sort_key whose identifying fields are identity."""
    if not 0 <= sort_key <= MAX_SORT_KEY:
        raise ValueError(f"sort key {sort_key} outside 0..2**53-1")
    digest = blake2b(_identity_bytes(identity), digest_size=DIGEST_DIGITS // 2).hexdigest()
    return f"{sort_key:0{SORT_KEY_DIGITS}x}{digest}"


def sort_key_of(activity_id: str) -> int:
    """The sort key (time in microseconds) an id starts with."""
    return int(activity_id[:SORT_KEY_DIGITS], 16)


def is_activity_id(value: object) -> bool:
    if not isinstance(value, str) or len(value) != ID_LENGTH:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return value == value.lower()
