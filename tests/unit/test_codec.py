"""The codec: framings, schema evolution, agreement with fastavro, and bad bytes."""

import struct
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import SerializationException
from streamfeed.schemas.catalog import (
    ACTIVITY,
    ACTIVITY_EVENT,
    DEAD_LETTER,
    FANOUT_BATCH,
    FOLLOW_EVENT,
    STORED_ACTIVITY,
    STORED_AGGREGATED_ACTIVITY,
    SchemaCatalog,
    default_catalog,
    schema_fingerprint,
)
from streamfeed.schemas.codec import AvroCodec

V2 = Path(__file__).resolve().parent.parent / "fixtures" / "schemas_v2"
T = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)
ACT = Activity("user:1", "love", "pin:2", "board:3", T, {"t": "x", "n": 5, "l": [1.5, None]}, "f")

RECORDS = {
    ACTIVITY: ACT.to_record(),
    ACTIVITY_EVENT: {
        "op": "REMOVE",
        "activity": ACT.to_record(),
        "priority": "low",
        "published_at": T,
        "version": 17,
    },
    FOLLOW_EVENT: {
        "op": "UNFOLLOW",
        "follower": "1",
        "followed": "2",
        "activity_copy_limit": 10,
        "time": T,
    },
    FANOUT_BATCH: {
        "op": "ADD",
        "recipients": ["1", "2"],
        "feeds": ["normal"],
        "activities": [ACT.to_record()],
        "remove_actor": "user:9",
        "priority": "high",
        "published_at": None,
        "mark": None,
        "version": 0,
        "history": True,
    },
    STORED_AGGREGATED_ACTIVITY: {
        "group": "love-2026-11-26",
        "activities": [ACT.to_record()],
        "created_at": T,
        "updated_at": T,
        "seen_at": None,
        "read_at": T,
        "minimized_activities": 3,
        "members": [{"id": "x", "actor": "1", "stamp": 5, "removed": True, "hidden": True}],
        "seen_ids": ["x", "y"],
        "read_ids": ["x"],
    },
    STORED_ACTIVITY: {"version": 9, "added": 3, "removed": True, "activity": ACT.to_record()},
    DEAD_LETTER: {
        "topic": "activities",
        "partition": 3,
        "offset": 2**40,
        "key": b"k",
        "value": b"\x00\xff",
        "error_type": "SerializationException",
        "error": "bad",
        "failed_at": T,
        "stack": "feeds.py:12 in get_group: raise KeyError(name)",
        "attempts": 3,
    },
}


def normalized(record):
    """What decoding gives back: times as datetimes, tuples as lists."""
    if isinstance(record, dict):
        out = {k: normalized(v) for k, v in record.items()}
        if "time" in out and isinstance(out["time"], int):
            out["time"] = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=out["time"])
        return out
    if isinstance(record, list | tuple):
        return [normalized(v) for v in record]
    return record


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_every_schema_round_trips_in_both_framings(name):
    record = RECORDS[name]
    for codec in (
        AvroCodec(),
        AvroCodec(registry=SchemaRegistryClient.new_client({"url": "mock://rt"})),
    ):
        data = codec.encode(name, record)
        assert codec.decode(name, data) == normalized(record)


def test_single_object_header_is_marker_and_little_endian_fingerprint():
    codec = AvroCodec()
    data = codec.encode(ACTIVITY, ACT.to_record())
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == default_catalog().fingerprint(ACTIVITY)
    # The Avro specification's CRC-64-AVRO of the schema "null" is 0x63dd24e7cc258f8a.
    assert schema_fingerprint("null") == struct.pack("<Q", 0x63DD24E7CC258F8A)


def test_confluent_wire_format_registers_once_and_reads_by_id():
    registry = SchemaRegistryClient.new_client({"url": "mock://wire"})
    codec = AvroCodec(registry=registry)
    first = codec.encode(ACTIVITY_EVENT, RECORDS[ACTIVITY_EVENT], subject="activities-value")
    second = codec.encode(ACTIVITY_EVENT, RECORDS[ACTIVITY_EVENT], subject="activities-value")
    assert first[0] == 0 and first[:5] == second[:5]
    schema_id = struct.unpack(">I", first[1:5])[0]
    assert registry.get_latest_version("activities-value").schema_id == schema_id
    reader = AvroCodec(registry=registry)
    assert reader.decode(ACTIVITY_EVENT, first)["activity"]["id"] == ACT.id
    # The body is plain Avro of the registered schema: any Confluent client can read it.
    body = schemaless_reader(BytesIO(first[5:]), default_catalog().schema(ACTIVITY_EVENT), None)
    assert body["op"] == "REMOVE"
    with pytest.raises(SerializationException, match="no schema registry"):
        AvroCodec().decode(ACTIVITY_EVENT, first)
    with pytest.raises(SerializationException, match="not in registry"):
        reader.decode(ACTIVITY_EVENT, b"\x00\x00\x00\x03\x99" + first[5:])


def test_reader_reads_the_previous_and_the_next_version():
    """v1 is the shipped schema; the fixture's v2 adds a field with a default."""
    v1 = AvroCodec(SchemaCatalog())
    v2 = AvroCodec(SchemaCatalog(V2))
    assert v1.catalog.fingerprint(ACTIVITY) != v2.catalog.fingerprint(ACTIVITY)
    newer = v2.encode(ACTIVITY, dict(ACT.to_record(), language="en"))
    older = v1.encode(ACTIVITY, ACT.to_record())

    with pytest.raises(SerializationException, match="unknown writer schema fingerprint"):
        v1.decode(ACTIVITY, newer)
    v1.catalog.add_writer_schema(v2.catalog.schema_json(ACTIVITY))
    from_newer = v1.decode(ACTIVITY, newer)
    assert "language" not in from_newer
    assert Activity.from_record(from_newer) == ACT

    v2.catalog.add_writer_schema(v1.catalog.schema_json(ACTIVITY))
    from_older = v2.decode(ACTIVITY, older)
    assert from_older["language"] is None
    assert from_older["extra_context"] == ACT.extra_context


extra_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
activity_records = st.fixed_dictionaries(
    {
        "actor": st.text(min_size=1, max_size=30),
        "verb": st.sampled_from(["add", "love", "comment", "follow"]),
        "object": st.text(min_size=1, max_size=30),
        "target": st.one_of(st.none(), st.text(max_size=30)),
        "time": st.integers(min_value=0, max_value=2**53),
        "id": st.one_of(st.none(), st.text(max_size=30)),
        "foreign_id": st.one_of(st.none(), st.text(max_size=30)),
        "to": st.lists(st.text(max_size=10), max_size=4),
        "extra_context": st.dictionaries(
            st.text(max_size=10), st.one_of(extra_values, st.lists(extra_values, max_size=4))
        ),
    }
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(activity_records)
def test_compiled_codec_agrees_with_fastavro_byte_for_byte(record):
    codec = AvroCodec()
    schema = default_catalog().schema(ACTIVITY)
    ours = codec.encode(ACTIVITY, record)
    buffer = BytesIO()
    schemaless_writer(buffer, schema, record)
    assert ours[10:] == buffer.getvalue()
    assert codec.decode(ACTIVITY, ours) == schemaless_reader(BytesIO(ours[10:]), schema, None)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=100), max_size=70), st.lists(st.text(max_size=40), max_size=3))
def test_string_arrays_agree_with_fastavro_byte_for_byte(recipients, feeds):
    """Recipient lists have their own inlined codec: short, long (two-byte lengths) and non-ASCII."""
    codec = AvroCodec()
    record = dict(RECORDS[FANOUT_BATCH], recipients=recipients, feeds=feeds)
    ours = codec.encode(FANOUT_BATCH, record)
    buffer = BytesIO()
    schemaless_writer(buffer, default_catalog().schema(FANOUT_BATCH), record)
    assert ours[10:] == buffer.getvalue()
    decoded = codec.decode(FANOUT_BATCH, ours)
    assert decoded["recipients"] == recipients and decoded["feeds"] == feeds


def test_a_bad_recipient_is_named_by_its_index():
    with pytest.raises(SerializationException, match=r"recipients\[1\]: expected string, got int"):
        AvroCodec().encode(FANOUT_BATCH, dict(RECORDS[FANOUT_BATCH], recipients=["a", 7]))


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_raise_serialization_exception_only(data):
    codec = AvroCodec()
    for name in (ACTIVITY_EVENT, FOLLOW_EVENT, FANOUT_BATCH):
        try:
            record = codec.decode(name, data)
        except SerializationException as error:
            assert str(error)  # a reason, never an empty message
        else:
            assert isinstance(record, dict)


@settings(max_examples=500)
@given(st.binary(max_size=200), st.sampled_from(sorted(RECORDS)))
def test_valid_header_with_random_body_raises_serialization_exception_only(body, name):
    codec = AvroCodec()
    header = b"\xc3\x01" + default_catalog().fingerprint(name)
    try:
        record = codec.decode(name, header + body)
    except SerializationException:
        return
    assert isinstance(record, dict)


@settings(max_examples=200)
@given(st.data())
def test_truncated_and_extended_messages_are_rejected(data):
    name = data.draw(st.sampled_from(sorted(RECORDS)))
    encoded = AvroCodec().encode(name, RECORDS[name])
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(SerializationException):
        AvroCodec().decode(name, encoded[:cut])
    with pytest.raises(SerializationException, match="after the record"):
        AvroCodec().decode(name, encoded + b"\x00")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty message"),
        (b"\xc3\x01", "not Avro single-object"),
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02", "unknown writer schema fingerprint 0000000000000000"),
        (b'{"actor": 1}', "not Avro single-object or Confluent framing"),
        ("text", "expected bytes, got str"),
    ],
)
def test_bad_input_reasons(data, reason):
    with pytest.raises(SerializationException, match=reason):
        AvroCodec().decode(ACTIVITY_EVENT, data)


def test_encoding_errors_name_the_path():
    codec = AvroCodec()
    bad = dict(RECORDS[ACTIVITY_EVENT], activity=dict(ACT.to_record(), extra_context={"k": {}}))
    with pytest.raises(SerializationException, match=r"activity\.extra_context\['k'\]: expected"):
        codec.encode(ACTIVITY_EVENT, bad)
    with pytest.raises(SerializationException, match="op: expected one of"):
        codec.encode(ACTIVITY_EVENT, dict(RECORDS[ACTIVITY_EVENT], op="DELETE"))
    missing = {k: v for k, v in RECORDS[FOLLOW_EVENT].items() if k != "follower"}
    with pytest.raises(SerializationException, match="follower: required field is missing"):
        codec.encode(FOLLOW_EVENT, missing)
    with pytest.raises(SerializationException, match="activity_copy_limit: expected"):
        codec.encode(FOLLOW_EVENT, dict(RECORDS[FOLLOW_EVENT], activity_copy_limit=2**40))


def test_faust_codec_carries_the_same_bytes():
    from streamfeed.schemas.faust_codec import avro_codec

    faust_codec = avro_codec(FOLLOW_EVENT)
    data = faust_codec.dumps(RECORDS[FOLLOW_EVENT])
    assert data == AvroCodec().encode(FOLLOW_EVENT, RECORDS[FOLLOW_EVENT])
    assert faust_codec.loads(data) == normalized(RECORDS[FOLLOW_EVENT])
