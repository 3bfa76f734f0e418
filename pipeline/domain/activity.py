"""Activity: "actor verb object (target) at time", Stream Framework's unit of a feed.

An activity is immutable once built: its id is derived from its identifying
fields (streamfeed.domain.ids), so changing one of them would make it a different
activity. Equality and hashing go by that id, which is also why the same
activity published twice is stored once.

Ids of actors, objects and targets are strings on the wire and in storage
(any language can produce them, and no width is imposed); ints and objects
with an ``.id`` are accepted and converted.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from streamfeed.domain.exceptions import ActivityNotFound, ValidationError
from streamfeed.domain.ids import EPOCH, MAX_TIME, make_activity_id, sort_key_for, sort_key_of, time_for
from streamfeed.domain.verbs import Verb, get_verb_by_infinitive, resolve_verb

#: A scalar extra_context value, or a list of them: what the Avro schema can carry.
Scalar = None | bool | int | float | str
_SCALARS = (type(None), bool, int, float, str)
_INT64 = range(-(2**63), 2**63)

#: The one rule for user ids (actors, followers, followed users, `to` targets):
#: a user id becomes part of storage keys and a Redis Cluster hash tag.
USER_ID_RULE = "1-200 letters, digits or _.:@-"
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:@\-]{1,200}\Z")


def check_user_id(field: str, value: Any) -> str:
    """The user id as a string, or a ValidationError naming the field and the rule."""
    if value is None:
        raise ValidationError(field, value, "is required")
    if hasattr(value, "id") and not isinstance(value, str | int):
        value = value.id
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(field, value, f"must be a user id ({USER_ID_RULE})")
    text = str(value)
    if not USER_ID_PATTERN.match(text):
        raise ValidationError(field, value, f"is not a valid user id: use {USER_ID_RULE}")
    return text


def parse_target(entry: Any) -> tuple[str, str]:
    """A `to` entry 'FEED:USER_ID' as (feed name, user id); ValidationError if malformed."""
    if not isinstance(entry, str) or ":" not in entry:
        raise ValidationError("to", entry, "entries must be 'FEED:USER_ID', for example 'notification:42'")
    name, _, user_id = entry.partition(":")
    if not name:
        raise ValidationError("to", entry, "names no feed; use 'FEED:USER_ID'")
    check_user_id(f"to[{entry!r}]", user_id)
    return name, user_id


#: Longest object, target or foreign id, in characters: an id names a thing, it is not the thing.
MAX_REF_LENGTH = 1024


def check_text(field: str, value: str) -> str:
    """The text if UTF-8 can carry it (Avro, JSON and every storage need that): a lone
    surrogate, which Python strings may hold and JSON parsers let through, is refused here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError(
            field, value, f"is not valid UTF-8: a lone surrogate at {error.start}"
        ) from None
    return value


def ref_id(field: str, value: Any, required: bool) -> str | None:
    """The string id of an actor, object or target given as an id or an object with .id."""
    if value is None:
        if required:
            raise ValidationError(field, value, "is required")
        return None
    if hasattr(value, "id") and not isinstance(value, str | int):
        value = value.id
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(field, value, "must be a string or integer id, or have an .id")
    text = str(value)
    if not text:
        raise ValidationError(field, value, "must not be empty")
    if len(text) > MAX_REF_LENGTH:
        raise ValidationError(field, f"{len(text)} characters", f"is longer than {MAX_REF_LENGTH} characters")
    return check_text(field, text)


def utc_time(field: str, value: datetime | None) -> datetime:
    """An aware UTC datetime inside the range activity ids can hold; naive means UTC."""
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, datetime):
        raise ValidationError(field, value, "must be a datetime")
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EPOCH <= value <= MAX_TIME:
        raise ValidationError(field, value, f"must be between {EPOCH:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}")
    return value


def _check_scalar(field: str, value: Any) -> None:
    if not isinstance(value, _SCALARS):
        raise ValidationError(
            field,
            value,
            f"type {type(value).__name__} cannot be stored; use str, int, float, bool or None",
        )
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        raise ValidationError(field, value, "integer does not fit in 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(field, value, "must be a finite number")


def check_extra_context(context: Mapping[str, Any] | None, limit: int) -> dict[str, Any]:
    """A copy of context if Avro can carry it and it fits in limit bytes; else ValidationError.

    The size counted is the UTF-8 length of keys and strings plus 8 bytes per
    other value: close to the encoded size, and cheap to compute.
    """
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        raise ValidationError("extra_context", context, "must be a mapping of names to values")
    size = 0
    checked: dict[str, Any] = {}
    for key, value in context.items():
        if not isinstance(key, str):
            raise ValidationError("extra_context", key, "keys must be strings")
        field = f"extra_context[{key!r}]"
        size += len(check_text("extra_context", key).encode())
        if isinstance(value, list | tuple):
            for item in value:
                _check_scalar(field, item)
                size += len(check_text(field, item).encode()) if isinstance(item, str) else 8
            value = list(value)
        else:
            _check_scalar(field, value)
            size += len(check_text(field, value).encode()) if isinstance(value, str) else 8
        checked[key] = value
    if size > limit:
        raise ValidationError("extra_context", f"{size} bytes", f"exceeds the limit of {limit} bytes")
    return checked


class IdentifiedById:
    """Equality and hashing by activity id, for activities and their dehydrated stand-ins."""

    __slots__ = ()
    id: str

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentifiedById):
            return NotImplemented
        return self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)


class Activity(IdentifiedById):
    """One thing that happened; subclass it to add behaviour and hook the subclass to a feed."""

    #: Largest extra_context, in bytes (see check_extra_context); a class attribute to override.
    max_extra_context_bytes: ClassVar[int] = 16_384
    dehydrated: ClassVar[bool] = False

    __slots__ = (
        "actor_id",
        "extra_context",
        "foreign_id",
        "id",
        "object_id",
        "sort_key",
        "target_id",
        "time",
        "to",
        "verb",
    )

    def __init__(
        self,
        actor: Any,
        verb: type[Verb] | Verb | str | int,
        object: Any,  # Stream Framework's argument name, shadowing the builtin
        target: Any = None,
        time: datetime | None = None,
        extra_context: Mapping[str, Any] | None = None,
        foreign_id: str | None = None,
        to: Iterable[str] = (),
    ) -> None:
        self.actor_id = check_user_id("actor", actor)
        self.verb = resolve_verb(verb)
        self.object_id = ref_id("object", object, required=True)
        self.target_id = ref_id("target", target, required=False)
        self.time = utc_time("time", time)
        self.extra_context = check_extra_context(extra_context, self.max_extra_context_bytes)
        if foreign_id is not None and (not isinstance(foreign_id, str) or not foreign_id):
            raise ValidationError("foreign_id", foreign_id, "must be a non-empty string")
        self.foreign_id = None if foreign_id is None else ref_id("foreign_id", foreign_id, required=True)
        if isinstance(to, str):
            raise ValidationError("to", to, "must be a list of feed ids, not one string")
        self.to = tuple(to)
        for feed_id in self.to:
            parse_target(feed_id)
        self.sort_key = sort_key_for(self.time)
        self.id = make_activity_id(
            self.sort_key,
            self.actor_id,
            self.verb.infinitive,
            self.object_id,
            self.target_id,
            self.foreign_id,
        )

    @property
    def serialization_id(self) -> str:
        """Stream Framework's name for the id."""
        return self.id

    def __lt__(self, other: Activity) -> bool:
        return self.id < other.id

    def __repr__(self) -> str:
        target = f" to {self.target_id}" if self.target_id is not None else ""
        return (
            f"<{type(self).__name__} {self.actor_id} {self.verb.past_tense} "
            f"{self.object_id}{target} at {self.time:%Y-%m-%d %H:%M:%S} id={self.id}>"
        )

    def get_dehydrated(self) -> DehydratedActivity:
        """A stand-in holding only the id, which is what timelines store."""
        return DehydratedActivity(self.id)

    def get_hydrated(self, activities: Mapping[str, Activity] | None = None) -> Activity:
        return self

    def addressed_to(self, entries: tuple[str, ...]) -> Activity:
        """This activity as one recipient's feed keeps it: `to` narrowed to `entries`, the ones
        naming that recipient. A recipient learns it was targeted, never who else was, and a
        group stores its own targets, not every recipient's (linear in the target count)."""
        if entries == self.to:
            return self
        clone = copy.copy(self)
        clone.to = entries
        return clone

    def with_extra_context(self, extra_context: Mapping[str, Any]) -> Activity:
        """The same activity (same id) carrying new extra_context: what an update stores."""
        return type(self)(
            self.actor_id,
            self.verb,
            self.object_id,
            self.target_id,
            self.time,
            extra_context,
            self.foreign_id,
            self.to,
        )

    def to_record(self) -> dict[str, Any]:
        """The Avro record of io.streamfeed.Activity for this activity."""
        return {
            "id": self.id,
            "actor": self.actor_id,
            "verb": self.verb.infinitive,
            "object": self.object_id,
            "target": self.target_id,
            "time": self.sort_key,
            "foreign_id": self.foreign_id,
            "to": list(self.to),
            "extra_context": self.extra_context,
        }

    @classmethod
    def from_stored(cls, record: Mapping[str, Any]) -> Activity:
        """Rebuild an activity that streamfeed validated before it stored it.

        Skips validation and id derivation, which cost most of from_record:
        a feed page hydrates dozens of these per read. The record must come
        from storage's own bytes (decoded by the codec), never from a producer.
        """
        activity = cls.__new__(cls)
        activity.id = record["id"]
        activity.actor_id = record["actor"]
        activity.verb = get_verb_by_infinitive(record["verb"])
        activity.object_id = record["object"]
        activity.target_id = record["target"]
        activity.time = record["time"]
        activity.sort_key = sort_key_of(activity.id)
        activity.extra_context = record["extra_context"]
        activity.foreign_id = record["foreign_id"]
        activity.to = tuple(record["to"])
        return activity

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Activity:
        """Build and validate an activity from a decoded io.streamfeed.Activity record.

        A record that carries an id must carry the right one: a mismatch means
        the producer computed ids differently, and storing it would break
        idempotency.
        """
        fields: Any = record  # untrusted values: the constructor checks each one and names it
        time = fields.get("time")
        if isinstance(time, int) and not isinstance(time, bool):
            if not 0 <= time <= sort_key_for(MAX_TIME):
                raise ValidationError("time", time, "microseconds since the epoch out of range")
            time = time_for(time)
        activity = cls(
            fields.get("actor"),
            fields.get("verb"),
            fields.get("object"),
            fields.get("target"),
            time,
            fields.get("extra_context"),
            fields.get("foreign_id"),
            fields.get("to") or (),
        )
        claimed = record.get("id")
        if claimed and claimed != activity.id:
            raise ValidationError("id", claimed, f"does not match the activity's fields ({activity.id})")
        return activity


class DehydratedActivity(IdentifiedById):
    """An activity reduced to its id, as a normalized timeline stores it."""

    dehydrated = True
    __slots__ = ("id",)

    def __init__(self, activity_id: str) -> None:
        self.id = activity_id

    @property
    def serialization_id(self) -> str:
        return self.id

    def get_hydrated(self, activities: Mapping[str, Activity]) -> Activity:
        """The full activity from a look-up of activity storage (one round trip per page)."""

        try:
            return activities[self.id]
        except KeyError:
            raise ActivityNotFound(f"activity {self.id} is not in activity storage") from None

    def __repr__(self) -> str:
        return f"<DehydratedActivity {self.id}>"
