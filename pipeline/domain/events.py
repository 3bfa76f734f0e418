"""The messages of the pipeline as Python objects, and their Avro records.

Agents and inline mode work on these, never on dicts, so both drivers
validate input the same way: building an event from a record validates it
(ValidationError names the field), which is what sends a bad record to the
dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from streamfeed.domain.activity import Activity, check_user_id
from streamfeed.domain.activity_state import version_of
from streamfeed.domain.exceptions import ValidationError


class ActivityOp(StrEnum):
    ADD = "ADD"
    REMOVE = "REMOVE"
    UPDATE = "UPDATE"


class FollowOp(StrEnum):
    FOLLOW = "FOLLOW"
    UNFOLLOW = "UNFOLLOW"


class FanoutPriority(StrEnum):
    """Fanout lanes: a backlog of LOW never delays HIGH (separate topics and agents)."""

    HIGH = "high"
    LOW = "low"


def _priority(value: Any) -> FanoutPriority | None:
    if value is None:
        return None
    try:
        return FanoutPriority(value)
    except ValueError:
        raise ValidationError("priority", value, "must be 'high', 'low' or null") from None


_OP_ORDER = {ActivityOp.ADD: 0, ActivityOp.UPDATE: 1, ActivityOp.REMOVE: 2}


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValidationError("version", value, "must be a non-negative 64-bit integer or null")
    return value


@dataclass(frozen=True)
class ActivityEvent:
    op: ActivityOp
    activity: Activity
    priority: FanoutPriority | None = None
    published_at: datetime | None = None
    #: Orders the events of one activity; None: published_at, else the activity's own time
    #: (producers fill published_at in, so set one of the two when publishing by hand).
    version: int | None = None

    @property
    def effective_version(self) -> int:
        """The version storage compares: explicit, else publish time, else activity time."""
        if self.version is not None:
            return self.version
        if self.published_at is not None:
            return version_of(self.published_at)
        # Neither given: the activity's own time, a microsecond later for an update and
        # two for a removal, so a removal still beats the add it removes.
        return self.activity.sort_key + _OP_ORDER[self.op]

    def to_record(self) -> dict[str, Any]:
        return {
            "op": self.op.value,
            "activity": self.activity.to_record(),
            "priority": None if self.priority is None else self.priority.value,
            "published_at": self.published_at,
            "version": self.version,
        }

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], activity_class: type[Activity] = Activity
    ) -> ActivityEvent:
        try:
            op = ActivityOp(cast(str, record.get("op")))  # None or junk: ValueError, named below
        except ValueError:
            raise ValidationError("op", record.get("op"), "must be ADD, REMOVE or UPDATE") from None
        activity = record.get("activity")
        if not isinstance(activity, Mapping):
            raise ValidationError("activity", activity, "is required")
        return cls(
            op,
            activity_class.from_record(activity),
            _priority(record.get("priority")),
            record.get("published_at"),
            _version(record.get("version")),
        )


@dataclass(frozen=True)
class FollowEvent:
    op: FollowOp
    follower: str
    followed: str
    time: datetime
    activity_copy_limit: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "op": self.op.value,
            "follower": self.follower,
            "followed": self.followed,
            "activity_copy_limit": self.activity_copy_limit,
            "time": self.time,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FollowEvent:
        try:
            op = FollowOp(cast(str, record.get("op")))  # None or junk: ValueError, named below
        except ValueError:
            raise ValidationError("op", record.get("op"), "must be FOLLOW or UNFOLLOW") from None
        for name in ("follower", "followed"):
            value = record.get(name)
            if not isinstance(value, str):
                raise ValidationError(name, value, "must be a user id string")
            check_user_id(name, value)
        if record["follower"] == record["followed"]:
            raise ValidationError("followed", record["followed"], "a user cannot follow themselves")
        limit = record.get("activity_copy_limit")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValidationError("activity_copy_limit", limit, "must be a non-negative integer")
        if isinstance(limit, bool) or (limit is not None and limit > 2**31 - 1):
            raise ValidationError("activity_copy_limit", limit, "must be an integer below 2**31")
        time = record.get("time")
        if not isinstance(time, datetime):
            raise ValidationError("time", time, "is required")
        return cls(op, record["follower"], record["followed"], time, limit)

    @property
    def version(self) -> int:
        """Follows of one pair are ordered by time; it also stamps the copied activities."""
        return version_of(self.time)


#: What a mark covers: per group, the member ids the user saw.
Covers = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class MarkSpec:
    """Mark groups of one notification feed seen and/or read.

    covers names what the user saw, per group the member ids (resolved from
    the feed when the mark is made: streamfeed.domain.aggregation.resolve_covers),
    so no clock decides and a replay marks the same. Without covers (records of
    older producers) a mark is judged by its time: groups (None: every group)
    are seen up to `time`. time also versions the mark's message.
    """

    feed: str
    groups: tuple[str, ...] | None
    seen: bool
    read: bool
    time: datetime
    covers: Covers | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "groups": None if self.groups is None else list(self.groups),
            "seen": self.seen,
            "read": self.read,
            "time": self.time,
            "covers": None
            if self.covers is None
            else [{"group": group, "ids": list(ids)} for group, ids in self.covers],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MarkSpec:
        groups = record.get("groups")
        covers = record.get("covers")
        return cls(
            record["feed"],
            None if groups is None else tuple(groups),
            record["seen"],
            record["read"],
            record["time"],
            None if covers is None else tuple((c["group"], tuple(c["ids"])) for c in covers),
        )


@dataclass(frozen=True)
class FanoutBatch:
    """One operation for the recipients that live on one feed-ops partition."""

    op: ActivityOp
    recipients: Sequence[str]
    activities: Sequence[Activity]
    feeds: Sequence[str] = field(default_factory=tuple)
    priority: FanoutPriority = FanoutPriority.HIGH
    published_at: datetime | None = None
    #: With REMOVE: take out every activity by this actor as well (an unfollow).
    remove_actor: str | None = None
    #: Marks instead of activities: the recipient's groups seen or read.
    mark: MarkSpec | None = None
    #: Version of the event that caused the batch.
    version: int = 0
    #: A follow's copy of history: written to pulling feeds too (streamfeed.feeds.hybrid merges only the
    #: fanout's deliveries at read; a copy is what shows again what an unfollow hid).
    history: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "op": self.op.value,
            "recipients": list(self.recipients),
            "feeds": list(self.feeds),
            "activities": [a.to_record() for a in self.activities],
            "remove_actor": self.remove_actor,
            "priority": self.priority.value,
            "published_at": self.published_at,
            "mark": None if self.mark is None else self.mark.to_record(),
            "version": self.version,
            "history": self.history,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], activity_class: type[Activity] = Activity) -> FanoutBatch:
        """Batches are written by streamfeed itself: activities are rebuilt without validation."""
        return cls(
            ActivityOp(record["op"]),
            list(record["recipients"]),
            [activity_class.from_stored(a) for a in record["activities"]],
            list(record["feeds"]),
            FanoutPriority(record["priority"]),
            record.get("published_at"),
            record.get("remove_actor"),
            None if record.get("mark") is None else MarkSpec.from_record(record["mark"]),
            record.get("version") or 0,
            bool(record.get("history")),
        )


def mark_batch(user_id: str, spec: MarkSpec) -> FanoutBatch:
    """A user's seen/read marks as a feed-ops message for the user's own partition."""
    return FanoutBatch(
        ActivityOp.UPDATE,
        [user_id],
        [],
        (spec.feed,),
        FanoutPriority.HIGH,
        mark=spec,
        version=version_of(spec.time),
    )
