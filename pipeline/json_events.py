"""Events as JSON lines, for `streamfeed produce` and services that cannot speak Avro.

One object a line:
  {"type": "activity", "op": "add", "actor": "13", "verb": "love", "object": "42",
   "target": "7", "time": "2026-11-26T12:00:00Z", "extra_context": {...},
   "foreign_id": "...", "to": ["notification:9"], "priority": "high"}
  {"type": "follow", "op": "follow" | "unfollow", "follower": "13", "followed": "7",
   "activity_copy_limit": 100, "time": "..."}
Times are ISO 8601; a missing time means now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pipeline.activity import Activity
from pipeline.events import ActivityEvent, FollowEvent
from pipeline.exceptions import StreamfeedError

ACTIVITY_FIELDS = {"actor", "verb", "object", "target", "time", "extra_context", "foreign_id", "to"}


class JsonEventError(StreamfeedError):
    """A JSON line that is not a valid event, and why."""


def _time(value: Any, field: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, str):
        raise JsonEventError(f"{field}: must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise JsonEventError(f"{field}: not an ISO 8601 time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def parse_json_event(line: str) -> ActivityEvent | FollowEvent:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise JsonEventError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise JsonEventError("each line must be a JSON object")
    kind = data.get("type")
    try:
        if kind == "activity":
            unknown = set(data) - ACTIVITY_FIELDS - {"type", "op", "priority"}
            if unknown:
                raise JsonEventError(f"unknown fields: {', '.join(sorted(unknown))}")
            record = {k: data.get(k) for k in ACTIVITY_FIELDS}
            record["time"] = _time(data.get("time"), "time")
            activity = {
                **record,
                "to": record["to"] or [],
                "extra_context": record["extra_context"] or {},
            }
            event = {
                "op": str(data.get("op", "add")).upper(),
                "activity": activity,
                "priority": data.get("priority"),
                "published_at": datetime.now(UTC),
            }
            return ActivityEvent.from_record(event, Activity)
        if kind == "follow":
            record = {
                "op": str(data.get("op", "follow")).upper(),
                "follower": data.get("follower"),
                "followed": data.get("followed"),
                "activity_copy_limit": data.get("activity_copy_limit"),
                "time": _time(data.get("time"), "time"),
            }
            return FollowEvent.from_record(record)
    except StreamfeedError as exc:
        raise JsonEventError(str(exc)) from None
    raise JsonEventError(f"type must be 'activity' or 'follow', got {kind!r}")
