"""Stored forms: activities and groups as Avro single-object bytes.

Every backend stores the same bytes, so a backend can be swapped or
migrated without re-encoding, and a future schema version still reads what
an older one wrote (the fingerprint names the writer schema).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregated_activity import AggregatedActivity, Member
from streamfeed.domain.aggregation import PendingCover
from streamfeed.domain.exceptions import SerializationException
from streamfeed.domain.ids import sort_key_of
from streamfeed.schemas.catalog import ACTIVITY, STORED_ACTIVITY, STORED_AGGREGATED_ACTIVITY
from streamfeed.schemas.codec import AvroCodec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
StateDecoder = Callable[[bytes, type[Activity]], ActivityState]
ActivityDecoder = Callable[[bytes, type[Activity]], Activity]


def pending_text(pending: Sequence[PendingCover]) -> str:
    """A feed's pending marks as stored beside its counts: compact JSON, '' for none."""
    if not pending:
        return ""
    return json.dumps([[c.group, list(c.seen), list(c.read)] for c in pending], separators=(",", ":"))


def pending_from_text(text: str | bytes | None) -> tuple[PendingCover, ...]:
    if not text:
        return ()
    try:
        return tuple(PendingCover(g, tuple(seen), tuple(read)) for g, seen, read in json.loads(text))
    except (ValueError, TypeError) as exc:
        raise CorruptStoredData(f"a feed's pending marks cannot be read: {exc}") from None


class CorruptStoredData(SerializationException):
    """Bytes in storage that cannot be read back; names where they were."""


class StoredForms:
    """Encodes and decodes what storage holds, with one shared codec."""

    def __init__(self, codec: AvroCodec | None = None) -> None:
        self.codec = codec or AvroCodec()
        self._decode_state: StateDecoder = self._state_of
        self._decode_activity: ActivityDecoder = self._activity_of

    def remember_decoded(self, size: int) -> None:
        """Keep the last `size` activities decoded, by their stored bytes, and hand out the same
        objects again: a read-only server (the HTTP API) then decodes a hot activity once, not
        once per reader whose page shows it (a quarter of a page read's cost). Keyed by the bytes,
        which carry the version, an update or removal is a new entry, never a stale one. The
        objects are shared: only for code that never changes what it reads (workers do not
        use it)."""
        if size > 0:
            remember = functools.lru_cache(maxsize=size)
            self._decode_state = cast(StateDecoder, remember(self._state_of))
            self._decode_activity = cast(ActivityDecoder, remember(self._activity_of))

    def activity_bytes(self, activity: Activity) -> bytes:
        return self.codec.encode(ACTIVITY, activity.to_record())

    def activity(self, data: bytes, activity_class: type[Activity], where: str) -> Activity:
        try:
            return self._decode_activity(data, activity_class)
        except (SerializationException, KeyError, TypeError) as exc:
            raise CorruptStoredData(f"{where}: stored activity cannot be read: {exc}") from None

    def state_bytes(self, state: ActivityState) -> bytes:
        return self.codec.encode(STORED_ACTIVITY, self.state_record(state))

    @staticmethod
    def state_record(state: ActivityState) -> dict[str, Any]:
        return {
            "version": state.version,
            "added": state.added,
            "removed": state.removed,
            "activity": state.activity.to_record(),
        }

    def state(self, data: bytes, activity_class: type[Activity], where: str) -> ActivityState:
        try:
            return self._decode_state(data, activity_class)
        except (SerializationException, KeyError, TypeError) as exc:
            raise CorruptStoredData(f"{where}: stored activity cannot be read: {exc}") from None

    def _activity_of(self, data: bytes, activity_class: type[Activity]) -> Activity:
        return activity_class.from_stored(self.codec.decode(ACTIVITY, data))

    def _state_of(self, data: bytes, activity_class: type[Activity]) -> ActivityState:
        record = self.codec.decode(STORED_ACTIVITY, data)
        activity = activity_class.from_stored(record["activity"])
        return ActivityState(activity, record["version"], record["added"], record["removed"])

    def aggregated_record(self, group: AggregatedActivity) -> dict[str, Any]:
        return {
            "group": group.group,
            "activities": [a.to_record() for a in group.activities],
            "created_at": group.created_at or _EPOCH,
            "updated_at": group.updated_at or _EPOCH,
            "seen_at": group.seen_at,
            "read_at": group.read_at,
            "seen_ids": sorted(group.seen_ids),
            "read_ids": sorted(group.read_ids),
            "minimized_activities": group.minimized_activities,
            "members": [
                {"id": i, "actor": m.actor, "stamp": m.stamp, "removed": m.removed, "hidden": m.hidden}
                for i, m in sorted(group.members.items())
            ],
        }

    def aggregated_bytes(self, group: AggregatedActivity) -> bytes:
        return self.codec.encode(STORED_AGGREGATED_ACTIVITY, self.aggregated_record(group))

    def aggregated(
        self,
        data: bytes,
        activity_class: type[Activity],
        aggregated_class: type[AggregatedActivity],
        where: str,
    ) -> AggregatedActivity:
        try:
            record = self.codec.decode(STORED_AGGREGATED_ACTIVITY, data)
            group = aggregated_class(
                record["group"],
                seen_at=record["seen_at"],
                read_at=record["read_at"],
                seen_ids=record.get("seen_ids") or (),
                read_ids=record.get("read_ids") or (),
            )
            group.activities = [activity_class.from_stored(a) for a in record["activities"]]
            members = record.get("members") or []
            if members:
                group.members = {
                    m["id"]: Member(m["actor"], m["stamp"], m["removed"], m.get("hidden", False))
                    for m in members
                }
            else:  # written before groups kept their members: the held activities are all we know
                group.members = {a.id: Member(a.actor_id, sort_key_of(a.id)) for a in group.activities}
            return group
        except (SerializationException, KeyError, TypeError) as exc:
            raise CorruptStoredData(f"{where}: stored group cannot be read: {exc}") from None
