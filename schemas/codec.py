"""Avro bytes to records and back, in one of two framings.

- Single-object encoding (Avro specification): ``C3 01``, the writer schema's
  8-byte CRC-64-AVRO fingerprint, then the body. The default: a message names
  its writer schema with no server to ask.
- Confluent wire format: ``00``, a 4-byte big-endian schema id, then the body,
  used when a Schema Registry is configured (any Confluent-compatible client
  can then read the topics).

Decoding resolves the writer schema to the reader's, so a reader of version N
reads what N-1 and N+1 wrote. Every failure to decode, whatever the bytes,
raises SerializationException with a reason: the pipeline relies on that to
send bad records to the dead-letter topic instead of crashing.
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader

from streamfeed.schemas.catalog import ParsedSchema, SchemaCatalog, default_catalog
from streamfeed.schemas.compiled import Decoder, Encoder, SchemaCompiler
from streamfeed.schemas.errors import SerializationException

SINGLE_OBJECT_MARKER = b"\xc3\x01"
SINGLE_OBJECT_HEADER = len(SINGLE_OBJECT_MARKER) + 8
CONFLUENT_MAGIC = 0
CONFLUENT_HEADER = 5


class AvroCodec:
    """Encodes records by schema name and decodes any framing it knows.

    With ``registry`` (a Schema Registry URL, or a client such as
    confluent-kafka's ``mock://`` one) it writes the Confluent wire format,
    registering each schema once under ``<subject>``; without, single-object
    encoding. It reads both either way, the Confluent one only with a registry.
    """

    def __init__(self, catalog: SchemaCatalog | None = None, registry: Any = None) -> None:
        self.catalog = catalog or default_catalog()
        if isinstance(registry, str):
            # Only with a registry URL set: the registry client's imports take a third of a second.
            from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415

            registry = SchemaRegistryClient.new_client({"url": registry})
        self.registry = registry
        self._registered: dict[tuple[str, str], bytes] = {}
        self._registry_schemas: dict[int, ParsedSchema] = {}
        self._compiled: dict[str, tuple[Encoder, Decoder]] = {}
        self._headers: dict[str, bytes] = {}

    def _single_object_header(self, name: str) -> bytes:
        header = self._headers.get(name)
        if header is None:
            header = self._headers[name] = SINGLE_OBJECT_MARKER + self.catalog.fingerprint(name)
        return header

    def _compiled_for(self, name: str) -> tuple[Encoder, Decoder]:
        compiled = self._compiled.get(name)
        if compiled is None:
            schema = self.catalog.schema(name)
            compiled = SchemaCompiler(schema.get("__named_schemas", {})).compile(schema)
            self._compiled[name] = compiled
        return compiled

    # -- writing ---------------------------------------------------------------

    def _header(self, name: str, subject: str | None) -> bytes:
        if self.registry is None:
            return self._single_object_header(name)
        subject = subject or name
        header = self._registered.get((subject, name))
        if header is None:
            from confluent_kafka.schema_registry import Schema  # noqa: PLC0415 (as above)

            schema_id = self.registry.register_schema(subject, Schema(self.catalog.schema_json(name), "AVRO"))
            header = struct.pack(">bI", CONFLUENT_MAGIC, schema_id)
            self._registered[(subject, name)] = header
        return header

    def encode(self, name: str, record: dict[str, Any], subject: str | None = None) -> bytes:
        """The framed Avro bytes of record under schema name (subject: registry subject)."""
        encode = self._compiled.get(name) or self._compiled_for(name)
        out = bytearray(self._header(name, subject))
        try:
            encode[0](record, out)
        except SerializationException as exc:
            raise SerializationException(f"cannot encode {name}: {exc}") from None
        return bytes(out)

    # -- reading ---------------------------------------------------------------

    def _writer_schema(self, data: bytes) -> tuple[ParsedSchema, int]:
        if len(data) >= SINGLE_OBJECT_HEADER and data[:2] == SINGLE_OBJECT_MARKER:
            key = data[2:SINGLE_OBJECT_HEADER]
            schema = self.catalog.writer_schema(key)
            if schema is None:
                raise SerializationException(
                    f"unknown writer schema fingerprint {key.hex()}: the producer uses a schema "
                    "this reader was not given"
                )
            return schema, SINGLE_OBJECT_HEADER
        if len(data) >= CONFLUENT_HEADER and data[0] == CONFLUENT_MAGIC:
            if self.registry is None:
                raise SerializationException(
                    "Confluent wire format (magic byte 0) but no schema registry is configured"
                )
            (schema_id,) = struct.unpack_from(">I", data, 1)
            return self._registry_schema(schema_id), CONFLUENT_HEADER
        if not data:
            raise SerializationException("empty message")
        raise SerializationException(
            f"not Avro single-object or Confluent framing (starts with {data[:2].hex()})"
        )

    def _registry_schema(self, schema_id: int) -> ParsedSchema:
        schema = self._registry_schemas.get(schema_id)
        if schema is None:
            try:
                text = self.registry.get_schema(schema_id).schema_str
            except Exception as exc:  # the registry client raises its own error types
                raise SerializationException(f"schema id {schema_id} not in registry: {exc}") from exc
            key = self.catalog.add_writer_schema(text)
            found = self.catalog.writer_schema(key)
            if found is None:  # add_writer_schema just stored it
                raise SerializationException(f"schema id {schema_id}: not kept by the catalog")
            schema = self._registry_schemas[schema_id] = found
        return schema

    def is_record(self, name: str, data: bytes) -> bool:
        """Whether data was written with a schema of that full name (any version of it): how a
        topic that carries two kinds of record tells them apart. Unreadable framing is False;
        decoding reports it."""
        if bytes(data[:SINGLE_OBJECT_HEADER]) == self._single_object_header(name):
            return True
        try:
            writer, _offset = self._writer_schema(bytes(data))
        except SerializationException:
            return False
        return writer.get("name") == name

    def decode(self, name: str, data: bytes) -> dict[str, Any]:
        """The record in data, resolved to the current schema called name."""
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise SerializationException(f"expected bytes, got {type(data).__name__}")
            data = bytes(data)
        if data.startswith(self._single_object_header(name)):
            return self._decode_current(name, data, SINGLE_OBJECT_HEADER)
        writer, offset = self._writer_schema(data)
        reader = self.catalog.schema(name)
        if writer is reader:
            return self._decode_current(name, data, offset)
        buffer = BytesIO(data)
        buffer.seek(offset)
        try:
            record = schemaless_reader(buffer, writer, None if writer is reader else reader)
        except Exception as exc:  # fastavro raises many types on bad bytes; all mean the same here
            raise SerializationException(f"cannot decode {name}: {type(exc).__name__}: {exc}"[:500]) from exc
        if buffer.tell() != len(data):
            raise SerializationException(
                f"cannot decode {name}: {len(data) - buffer.tell()} bytes left after the record"
            )
        if not isinstance(record, dict):
            raise SerializationException(f"cannot decode {name}: writer schema is not a record")
        return record

    def _decode_current(self, name: str, data: bytes, offset: int) -> dict[str, Any]:
        """The fast path: written with the very schema we read with, so no resolution."""
        decode = (self._compiled.get(name) or self._compiled_for(name))[1]
        try:
            record, end = decode(data, offset)
        except SerializationException as exc:
            raise SerializationException(f"cannot decode {name}: {exc}") from None
        except (IndexError, struct.error):
            raise SerializationException(f"cannot decode {name}: message is truncated") from None
        except UnicodeDecodeError as exc:
            raise SerializationException(f"cannot decode {name}: bad UTF-8: {exc.reason}") from None
        if end != len(data):
            left = len(data) - end
            raise SerializationException(f"cannot decode {name}: {left} bytes after the record")
        decoded: dict[str, Any] = record
        return decoded
