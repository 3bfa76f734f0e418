"""Events as JSON lines: `streamfeed produce`, and services that cannot speak Avro.

One object a line, in the shape of the models below (published as
schemas/events.schema.json):

  {"type": "activity", "op": "add", "actor": "13", "verb": "love", "object": "42",
   "target": "7", "time": "2026-11-26T12:00:00Z", "extra_context": {"title": "..."},
   "foreign_id": "pin:42", "to": ["notification:9"], "priority": "high"}
  {"type": "follow", "op": "follow", "follower": "13", "followed": "7",
   "activity_copy_limit": 100, "time": "2026-11-26T12:00:00Z"}
  {"type": "reaction", "op": "add", "id": "c1", "activity_id": "<30 hex digits>",
   "kind": "comment", "user_id": "9", "data": {"text": "lovely"}}

JSON is strict where Python is lenient: ids are strings (``"actor": 5`` is an
error, not "5"), no field is coerced, unknown fields are refused. Times are
ISO 8601 (UTC when no offset is given); a missing time means now. The models
check the shape; the events' own rules (user ids, verbs, `to` targets against
the app's feeds, extra_context size, time range) then apply exactly as they do
to a decoded Avro record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as ShapeError

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import version_of
from streamfeed.domain.events import ActivityEvent, FollowEvent
from streamfeed.domain.exceptions import StreamfeedError
from streamfeed.domain.reactions import ReactionEvent

Scalar = str | bool | int | float | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ActivityLine(_Strict):
    """An activity event: what the Avro record io.streamfeed.ActivityEvent carries."""

    type: Literal["activity"]
    op: Literal["add", "update", "remove", "ADD", "UPDATE", "REMOVE"] = "add"
    actor: str = Field(description="Who did it: a user id (1-200 of A-Za-z0-9_.:@-).")
    verb: str = Field(description="A registered verb's infinitive, e.g. 'love'.")
    object: str = Field(description="Id of what was acted on.")
    target: str | None = Field(None, description="Where it happened, e.g. a board id.")
    time: datetime | None = Field(None, description="ISO 8601; UTC if no offset; now if missing.")
    extra_context: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    foreign_id: str | None = Field(None, description="The producer's own id for the activity.")
    to: list[str] = Field(default_factory=list, description="Extra feeds, 'FEED:USER_ID'.")
    priority: Literal["high", "low"] | None = Field(None, description="Fanout lane; null: the app decides.")


class FollowLine(_Strict):
    """A follow or unfollow: what the Avro record io.streamfeed.FollowEvent carries."""

    type: Literal["follow"]
    op: Literal["follow", "unfollow", "FOLLOW", "UNFOLLOW"] = "follow"
    follower: str
    followed: str
    activity_copy_limit: int | None = Field(None, ge=0, le=2**31 - 1)
    time: datetime | None = None


class ReactionLine(_Strict):
    """A reaction's add, update or remove: what the Avro record io.streamfeed.ReactionEvent carries."""

    type: Literal["reaction"]
    op: Literal["add", "update", "remove", "ADD", "UPDATE", "REMOVE"] = "add"
    id: str = Field(description="The reaction's id, yours to choose (1-64 of A-Za-z0-9_-).")
    activity_id: str = Field(description="The activity's id (30 hex digits, as pages show it).")
    kind: str | None = Field(None, description="An add's kind: like, comment, reply or your own.")
    user_id: str | None = Field(None, description="An add's user: who reacted.")
    parent_id: str | None = Field(None, description="An add's parent reaction (a like of a comment).")
    target_feeds: list[str] = Field(
        default_factory=list, description="An add's feeds to tell, 'FEED:USER_ID'."
    )
    time: datetime | None = Field(None, description="When the user reacted; now if missing.")
    data: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    version: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Orders the events of one reaction; null: the time now."
    )


EventLine = Annotated[ActivityLine | FollowLine | ReactionLine, Field(discriminator="type")]
#: What a JSON line publishes.
JsonEvent = ActivityEvent | FollowEvent | ReactionEvent
EVENT_LINE = TypeAdapter(EventLine)


class JsonEventError(StreamfeedError):
    """A JSON line that is not a valid event, and why."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one line (committed as schemas/events.schema.json)."""
    schema = EVENT_LINE.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "streamfeed event (one JSON line)"
    return schema


def _when(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _shape_error(error: ShapeError) -> JsonEventError:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"] if part not in ("activity", "follow", "reaction"))
    message = first["msg"]
    if first["type"] == "json_invalid":
        return JsonEventError(f"not JSON: {first.get('ctx', {}).get('error', message)}")
    if first["type"] == "union_tag_invalid" or (first["type"] == "union_tag_not_found"):
        return JsonEventError("type must be 'activity', 'follow' or 'reaction'")
    if first["type"] in ("model_type", "model_attributes_type", "dict_type") and not where:
        return JsonEventError("each line must be a JSON object")
    if first["type"] == "extra_forbidden":
        return JsonEventError(f"{where}: unknown field")
    if first["type"] == "missing":
        return JsonEventError(f"{where}: is required")
    return JsonEventError(f"{where}: {message}" if where else message)


def parse_json_event(line: str | bytes) -> JsonEvent:
    """One line as an event; JsonEventError says what is wrong and where."""
    try:
        parsed = EVENT_LINE.validate_json(line)
    except ShapeError as error:
        raise _shape_error(error) from None
    except (RecursionError, ValueError) as error:  # nesting deeper than the parser allows
        raise JsonEventError(f"not JSON: {error}") from None
    try:
        return event_from_line(parsed)
    except StreamfeedError as error:
        raise JsonEventError(str(error)) from None


def event_from_line(parsed: ActivityLine | FollowLine | ReactionLine) -> JsonEvent:
    """The event a checked line describes; the events' own rules raise ValidationError."""
    if isinstance(parsed, ReactionLine):
        return _reaction(parsed)
    if isinstance(parsed, ActivityLine):
        activity = {
            "actor": parsed.actor,
            "verb": parsed.verb,
            "object": parsed.object,
            "target": parsed.target,
            "time": _when(parsed.time),
            "extra_context": parsed.extra_context,
            "foreign_id": parsed.foreign_id,
            "to": parsed.to,
        }
        record = {
            "op": parsed.op.upper(),
            "activity": activity,
            "priority": parsed.priority,
            "published_at": datetime.now(UTC),
        }
        return ActivityEvent.from_record(record, Activity)
    follow: dict[str, Any] = {
        "op": parsed.op.upper(),
        "follower": parsed.follower,
        "followed": parsed.followed,
        "activity_copy_limit": parsed.activity_copy_limit,
        "time": _when(parsed.time),
    }
    return FollowEvent.from_record(follow)


def dump_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _reaction(parsed: ReactionLine) -> ReactionEvent:
    """An add names who reacted how; an update or remove names only the ids (and an update the
    data): a field that only an add carries is refused on them rather than ignored."""
    op = parsed.op.upper()
    when = _when(parsed.time)
    identity = None
    if op == "ADD":
        identity = {
            "kind": parsed.kind,
            "user_id": parsed.user_id,
            "parent_id": parsed.parent_id,
            "time": when,
            "target_feeds": parsed.target_feeds,
        }
    else:
        for name in ("kind", "user_id", "parent_id", "target_feeds"):
            if getattr(parsed, name):
                raise JsonEventError(f"{name}: only an add names who reacted and how")
        if op == "REMOVE" and parsed.data:
            raise JsonEventError("data: a remove carries no data")
    record = {
        "op": op,
        "id": parsed.id,
        "activity_id": parsed.activity_id,
        "version": parsed.version if parsed.version is not None else version_of(datetime.now(UTC)),
        "identity": identity,
        "data": parsed.data,
    }
    return ReactionEvent.from_record(record)
