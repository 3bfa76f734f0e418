"""Reactions: a like, a comment or a reply attached to an activity, or to a reaction of it.

A reaction is its own event stream (add, update, remove), keyed by the activity
it belongs to, so that one writer owns an activity's counts. What storage keeps
per reaction id is a `ReactionState`, and `merged` folds any event into it such
that the result does not depend on the order events arrive in, nor on how many
times each arrives (it is a join: commutative, associative, idempotent):

- who reacted, with what kind, on what and when (the identity) comes from the
  ADD; two ADDs of one id that disagree (a producer bug) resolve to the one
  with the higher version, then the greater identity, never to arrival order;
- the data comes from the newest ADD or UPDATE (version, then UPDATE over ADD,
  then the greater data): an UPDATE that arrives before its ADD is kept;
- a REMOVE is final: a late ADD or UPDATE of a removed reaction changes nothing.

What a reaction counts towards (the lists and counts per kind, a user's own) is
a function of the state alone (`index_entries`), so storage applies an event by
moving the entries from the old state's set to the new one's: the counts stay
exact under redelivery, reordering and replay.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from streamfeed.domain.activity import check_extra_context, check_user_id, parse_target, utc_time
from streamfeed.domain.activity_state import version_of
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.ids import is_activity_id

#: A reaction's kind: "like", "comment", "reply", your own.
KIND_RULE = "1-64 of a-z, 0-9, _ and -, starting with a letter"
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_\-]{0,63}\Z")
#: A reaction's id, chosen by whoever publishes it (a UUID's hex by default).
REACTION_ID_RULE = "1-64 of A-Za-z0-9_-"
REACTION_ID_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,64}\Z")
#: The most feeds one reaction may notify.
MAX_TARGET_FEEDS = 20
#: Largest data of a reaction, in bytes (as extra_context is counted).
MAX_DATA_BYTES = 16_384
#: The most reactions of each kind a page may show per activity.
MAX_RECENT_REACTIONS = 10


class ReactionOp(StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    REMOVE = "REMOVE"


def check_kind(value: Any) -> str:
    if not isinstance(value, str) or not KIND_PATTERN.match(value):
        raise ValidationError("kind", value, f"must be {KIND_RULE}")
    return value


def check_reaction_id(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not REACTION_ID_PATTERN.match(value):
        raise ValidationError(field_name, value, f"must be a reaction id ({REACTION_ID_RULE})")
    return value


@dataclass(frozen=True, slots=True)
class ReactionIdentity:
    """Who reacted how, on what and when: fixed by the ADD."""

    kind: str
    user_id: str
    activity_id: str
    #: The reaction this one is on (a like of a comment), or None: on the activity itself.
    parent_id: str | None
    time: datetime
    #: Feeds told of it, 'FEED:USER_ID' (a notification activity referencing the reaction).
    target_feeds: tuple[str, ...] = ()

    @property
    def on(self) -> str:
        """What it counts towards: its parent reaction, else its activity."""
        return self.parent_id or self.activity_id

    def sort_key(self) -> tuple[Any, ...]:
        """A total order of identities, for the rare ADDs of one id that disagree."""
        return (self.kind, self.user_id, self.activity_id, self.parent_id or "", self.time, self.target_feeds)


def reaction_identity(
    kind: Any,
    user_id: Any,
    activity_id: Any,
    parent_id: Any = None,
    time: datetime | None = None,
    target_feeds: Sequence[str] = (),
) -> ReactionIdentity:
    """A checked identity: each bad field is a ValidationError naming it."""
    if not is_activity_id(activity_id):
        raise ValidationError("activity_id", activity_id, "must be an activity id")
    if isinstance(target_feeds, str):
        raise ValidationError("target_feeds", target_feeds, "must be a list of feed ids, not one string")
    targets = tuple(target_feeds)
    if len(targets) > MAX_TARGET_FEEDS:
        raise ValidationError("target_feeds", len(targets), f"at most {MAX_TARGET_FEEDS} feeds")
    for target in targets:
        try:
            parse_target(target)
        except ValidationError as error:
            raise ValidationError("target_feeds", error.value, error.reason) from None
    return ReactionIdentity(
        check_kind(kind),
        check_user_id("user_id", user_id),
        activity_id,
        None if parent_id is None else check_reaction_id("parent_id", parent_id),
        utc_time("time", time),
        targets,
    )


def check_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A reaction's data (a comment's text, say): what extra_context may hold."""
    try:
        return check_extra_context(data, MAX_DATA_BYTES)
    except ValidationError as error:
        raise ValidationError("data", error.value, error.reason) from None


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    """An ADD carries the identity and data, an UPDATE the data, a REMOVE only the ids. Every
    event names its activity: the key that sends all of an activity's reactions to one writer."""

    op: ReactionOp
    reaction_id: str
    activity_id: str
    #: Orders the events of one reaction: the publish time, in microseconds.
    version: int
    identity: ReactionIdentity | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_reaction_id("id", self.reaction_id)
        if not is_activity_id(self.activity_id):
            raise ValidationError("activity_id", self.activity_id, "must be an activity id")
        if self.op is ReactionOp.ADD and self.identity is None:
            raise ValidationError("identity", None, "an ADD names its kind, user and activity")
        if self.identity is not None and self.identity.activity_id != self.activity_id:
            raise ValidationError("activity_id", self.activity_id, "differs from the reaction's own")
        if (
            isinstance(self.version, bool)
            or not isinstance(self.version, int)
            or not 0 <= self.version < 2**63
        ):
            raise ValidationError("version", self.version, "must be a non-negative 64-bit integer")

    def to_record(self) -> dict[str, Any]:
        """The event as its Avro record (io.streamfeed.ReactionEvent)."""
        identity = self.identity
        return {
            "op": self.op.value,
            "id": self.reaction_id,
            "activity_id": self.activity_id,
            "version": self.version,
            "identity": None
            if identity is None
            else {
                "kind": identity.kind,
                "user_id": identity.user_id,
                "parent_id": identity.parent_id,
                "time": identity.time,
                "target_feeds": list(identity.target_feeds),
            },
            "data": self.data,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ReactionEvent:
        """The event a record holds, checked as the Python API checks it: a bad field is a
        ValidationError naming it (the worker sends the record to the dead-letter topic)."""
        try:
            op = ReactionOp(cast(str, record.get("op")))  # None or junk: ValueError, named below
        except ValueError:
            raise ValidationError("op", record.get("op"), "must be ADD, UPDATE or REMOVE") from None
        raw = record.get("identity")
        identity = None
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise ValidationError("identity", raw, "must be a record")
            identity = reaction_identity(
                raw.get("kind"),
                raw.get("user_id"),
                record.get("activity_id"),
                raw.get("parent_id"),
                _required_time(raw.get("time")),
                raw.get("target_feeds") or (),
            )
        if op is not ReactionOp.ADD and identity is not None:
            raise ValidationError("identity", op.value, "only an ADD carries who reacted")
        data = check_data(record.get("data")) if op is not ReactionOp.REMOVE else {}
        return cls(
            op,
            check_reaction_id("id", record.get("id")),
            record.get("activity_id"),  # type: ignore[arg-type]  # __post_init__ checks it
            record.get("version"),  # type: ignore[arg-type]  # as above
            identity,
            data,
        )


def _required_time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError("identity.time", value, "is required")
    return value


def add_event(
    reaction_id: str, identity: ReactionIdentity, data: Mapping[str, Any] | None, published: datetime
) -> ReactionEvent:
    version = version_of(published)
    return ReactionEvent(
        ReactionOp.ADD, reaction_id, identity.activity_id, version, identity, check_data(data)
    )


def update_event(
    reaction_id: str, activity_id: str, data: Mapping[str, Any] | None, published: datetime
) -> ReactionEvent:
    return ReactionEvent(
        ReactionOp.UPDATE, reaction_id, activity_id, version_of(published), None, check_data(data)
    )


def remove_event(reaction_id: str, activity_id: str, published: datetime) -> ReactionEvent:
    return ReactionEvent(ReactionOp.REMOVE, reaction_id, activity_id, version_of(published))


_DATA_RANK = {ReactionOp.ADD: 0, ReactionOp.UPDATE: 1}


def _data_key(version: int, op: ReactionOp, data: Mapping[str, Any]) -> tuple[int, int, str]:
    return (version, _DATA_RANK[op], json.dumps(data, sort_keys=True, default=str))


@dataclass(frozen=True, slots=True)
class ReactionState:
    """What storage keeps per reaction id: the join of every event of it seen so far."""

    reaction_id: str
    identity: ReactionIdentity | None = None
    identity_version: int = -1
    data: dict[str, Any] = field(default_factory=dict)
    #: (version, op rank, data) of the data held: the newest wins.
    data_key: tuple[int, int, str] = (-1, -1, "")
    removed: bool = False

    @property
    def live(self) -> bool:
        """Shown and counted: added, and not removed."""
        return self.identity is not None and not self.removed


def merged(state: ReactionState | None, event: ReactionEvent) -> ReactionState:
    """state with event folded in (state None: nothing seen of this id yet). Built with the
    constructor, not dataclasses.replace: this runs once per event on the workers' hot path,
    where replace's field-by-field introspection cost a third of the fold."""
    current = state or ReactionState(event.reaction_id)
    identity, identity_version = current.identity, current.identity_version
    data, data_key, removed = current.data, current.data_key, current.removed
    if event.op is ReactionOp.REMOVE:
        if removed:
            return current
        return ReactionState(current.reaction_id, identity, identity_version, data, data_key, True)
    changed = False
    if event.op is ReactionOp.ADD:
        assert event.identity is not None  # ReactionEvent checks it
        if identity is None or (event.version, event.identity.sort_key()) > (
            identity_version,
            identity.sort_key(),
        ):
            identity, identity_version, changed = event.identity, event.version, True
    key = _data_key(event.version, event.op, event.data)
    if key > data_key:
        data, data_key, changed = event.data, key, True
    if not changed:
        return current
    return ReactionState(current.reaction_id, identity, identity_version, data, data_key, removed)


@dataclass(frozen=True, slots=True, order=True)
class IndexEntry:
    """A live reaction as the lists and counts of what it is on hold it: newest first by
    (time, id) within (on, kind); `user_id` for the reader's own."""

    on: str
    kind: str
    time: datetime
    reaction_id: str
    user_id: str


def index_entries(state: ReactionState | None) -> set[IndexEntry]:
    """The entries a state stands for: one while it is live, none otherwise."""
    if state is None or not state.live:
        return set()
    identity = state.identity
    assert identity is not None
    return {IndexEntry(identity.on, identity.kind, identity.time, state.reaction_id, identity.user_id)}


@dataclass(frozen=True, slots=True)
class ReactionSummary:
    """What a feed page shows of one activity's reactions: live counts per kind, the reader's
    own (newest first), and the newest few of each kind."""

    counts: dict[str, int]
    own: list[ReactionState] = field(default_factory=list)
    recent: dict[str, list[ReactionState]] = field(default_factory=dict)
