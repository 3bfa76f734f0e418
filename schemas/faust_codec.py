"""Faust codecs that carry streamfeed's Avro bytes directly on a topic.

A topic declared with ``value_serializer=avro_codec(ACTIVITY_EVENT)`` gives
agents decoded records and sends records as framed Avro, with no JSON step.
Faust is imported here only, so the codec itself stays usable without it.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from streamfeed.schemas.codec import AvroCodec


class FaustAvroCodec(codecs.Codec):
    """One schema's records to framed Avro bytes and back, through a shared AvroCodec."""

    def __init__(self, schema_name: str, codec: AvroCodec | None = None, **kwargs: Any) -> None:
        self.schema_name = schema_name
        self.codec = codec or AvroCodec()
        super().__init__(schema_name=schema_name, **kwargs)

    def _dumps(self, obj: Any) -> bytes:
        return self.codec.encode(self.schema_name, obj)

    def _loads(self, s: bytes) -> Any:
        return self.codec.decode(self.schema_name, s)


def avro_codec(schema_name: str, codec: AvroCodec | None = None) -> FaustAvroCodec:
    """A codec for one schema, registered with Faust under 'avro:<schema name>'."""
    instance = FaustAvroCodec(schema_name, codec)
    codecs.register(f"avro:{schema_name}", instance)
    return instance
