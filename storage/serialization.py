"""Stored forms: activities and groups as Avro single-object bytes.

Every backend stores the same bytes, so a backend can be swapped or
migrated without re-encoding, and a future schema version still reads what
an older one wrote (the fingerprint names the writer schema).
"""

from __future__ import annotations

from typing import Any

from pipeline.activity import Activity
from pipeline.aggregated_activity import AggregatedActivity
from pipeline.exceptions import SerializationException
from schemas.catalog import ACTIVITY, STORED_AGGREGATED_ACTIVITY
from schemas.codec import AvroCodec


class CorruptStoredData(SerializationException):
    """Bytes in storage that cannot be read back; names where they were."""


class StoredForms:
    """Encodes and decodes what storage holds, with one shared codec."""

    def __init__(self, codec: AvroCodec | None = None) -> None:
        self.codec = codec or AvroCodec()

    def activity_bytes(self, activity: Activity) -> bytes:
        return self.codec.encode(ACTIVITY, activity.to_record())

    def activity(self, data: bytes, activity_class: type[Activity], where: str) -> Activity:
        try:
            return activity_class.from_stored(self.codec.decode(ACTIVITY, data))
        except (SerializationException, KeyError, TypeError) as exc:
            raise CorruptStoredData(f"{where}: stored activity cannot be read: {exc}") from None

    def aggregated_record(self, group: AggregatedActivity) -> dict[str, Any]:
        return {
            "group": group.group,
            "activities": [a.to_record() for a in group.activities],
            "created_at": group.created_at,
            "updated_at": group.updated_at,
            "seen_at": group.seen_at,
            "read_at": group.read_at,
            "minimized_activities": group.minimized_activities,
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
            group = aggregated_class(record["group"])
            group.activities = [activity_class.from_stored(a) for a in record["activities"]]
            group.created_at = record["created_at"]
            group.updated_at = record["updated_at"]
            group.seen_at = record["seen_at"]
            group.read_at = record["read_at"]
            group.minimized_activities = record["minimized_activities"]
            return group
        except (SerializationException, KeyError, TypeError) as exc:
            raise CorruptStoredData(f"{where}: stored group cannot be read: {exc}") from None
