"""The Avro schemas of streamfeed, loaded once, and every writer schema a reader knows.

Schemas live one named type per file, ``<namespace>.<Name>.avsc`` beside this
module, so producers in other languages can take the files as they are.
A reader finds a message's writer schema by the fingerprint (single-object
encoding) the message carries; the catalog knows the current schemas and any
other version added with add_writer_schema (a newer producer's, or an older
one kept for replay). Former versions of the storage forms live in
``history/`` (parsing canonical form, named by fingerprint), so bytes stored by
an earlier release stay readable after a schema gains a field.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from fastavro.schema import fingerprint, load_schema, parse_schema, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).resolve().parent
NAMESPACE = "io.streamfeed"

ACTIVITY = f"{NAMESPACE}.Activity"
ACTIVITY_EVENT = f"{NAMESPACE}.ActivityEvent"
FOLLOW_EVENT = f"{NAMESPACE}.FollowEvent"
AUTHOR_MODE_EVENT = f"{NAMESPACE}.AuthorModeEvent"
FANOUT_BATCH = f"{NAMESPACE}.FanoutBatch"
STORED_AGGREGATED_ACTIVITY = f"{NAMESPACE}.StoredAggregatedActivity"
STORED_ACTIVITY = f"{NAMESPACE}.StoredActivity"
DEAD_LETTER = f"{NAMESPACE}.DeadLetter"
REACTION_EVENT = f"{NAMESPACE}.ReactionEvent"

#: Parsed schema, as fastavro wants it for reading and writing.
ParsedSchema = dict[str, Any]


def schema_fingerprint(schema: ParsedSchema) -> bytes:
    """CRC-64-AVRO of the parsing canonical form, little-endian (single-object encoding)."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class SchemaCatalog:
    """Current schemas by full name, and writer schemas by fingerprint."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.directory = directory
        self._current: dict[str, ParsedSchema] = {}
        self._fingerprints: dict[str, bytes] = {}
        self._writers: dict[bytes, ParsedSchema] = {}
        for path in sorted(directory.glob(f"{NAMESPACE}.*.avsc")):
            name = path.name.removesuffix(".avsc")
            schema = cast(ParsedSchema, load_schema(str(path)))
            self._current[name] = schema
            self._fingerprints[name] = self.add_writer_schema(schema)
        for path in sorted((directory / "history").glob(f"{NAMESPACE}.*.json")):
            self.add_writer_schema(path.read_text())

    @property
    def names(self) -> list[str]:
        return sorted(self._current)

    def schema(self, name: str) -> ParsedSchema:
        try:
            return self._current[name]
        except KeyError:
            raise KeyError(f"no schema named {name!r}; known: {', '.join(self.names)}") from None

    def fingerprint(self, name: str) -> bytes:
        return self._fingerprints[name]

    def schema_json(self, name: str) -> str:
        """The schema with its references inlined, as a registry or another language wants it."""
        return to_parsing_canonical_form(self.schema(name))

    def add_writer_schema(self, schema: ParsedSchema | str) -> bytes:
        """Make data written with this schema readable; returns its fingerprint."""
        parsed: ParsedSchema = json.loads(schema) if isinstance(schema, str) else schema
        if "__fastavro_parsed" not in parsed:
            parsed = cast(ParsedSchema, parse_schema(parsed, _write_hint=False))
        key = schema_fingerprint(parsed)
        self._writers.setdefault(key, parsed)
        return key

    def writer_schema(self, key: bytes) -> ParsedSchema | None:
        return self._writers.get(key)


@lru_cache(maxsize=1)
def default_catalog() -> SchemaCatalog:
    """The catalog of the schemas shipped with streamfeed, loaded once per process."""
    return SchemaCatalog()
