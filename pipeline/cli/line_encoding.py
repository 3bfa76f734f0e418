"""JSON lines to Kafka records, one chunk of lines at a time: the part of `streamfeed produce`
that can run in several processes (parsing and checking a line costs ten times what sending
its record does), while one process sends the records in the input's order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamfeed.domain.json_events import parse_json_event
from streamfeed.kafka.event_records import EventEncoder, Record
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings


@dataclass
class EncodedChunk:
    """What a chunk of lines became: its records in line order, and each refused line's number
    and reason."""

    records: list[Record] = field(default_factory=list)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    bytes_read: int = 0
    lines: int = 0


class LineEncoder:
    """Refuses what a worker would refuse (`to` feeds of the app, the encoded size against the
    topics' message limit) before anything is published, and encodes each event once: the
    bytes whose size is checked are the bytes published."""

    def __init__(self, manager: Any, settings: Settings, publishing: bool) -> None:
        """publishing: encode as the producer will (the schema registry's wire format when one
        is set); a dry run encodes without the registry, so that it registers nothing."""
        codec = None if publishing else AvroCodec()
        self.encoder = EventEncoder(settings, codec, manager)
        self.limit = settings.message_max_bytes

    def encode(self, first_number: int, lines: list[bytes]) -> EncodedChunk:
        chunk = EncodedChunk()
        chunk.lines = len(lines)
        for number, raw in enumerate(lines, start=first_number):
            chunk.bytes_read += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                where = f"byte {raw[error.start]:#04x} at {error.start + 1}"
                chunk.refusals.append((number, f"not UTF-8 ({where})"))
                continue
            if not text.strip():
                continue
            try:
                record = self.encoder.encoded(parse_json_event(text.rstrip("\r\n")))
                if len(record[2]) > self.limit:
                    size = f"{len(record[2]):,} bytes"
                    raise ValueError(f"encodes to {size}, over the topics' limit of {self.limit:,}")
            except Exception as error:  # every refusal of one line is reported, and the others go on
                chunk.refusals.append((number, str(error)))
                continue
            chunk.records.append(record)
        return chunk
