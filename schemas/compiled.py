"""Avro binary encoders and decoders compiled from a schema into nested closures.

fastavro interprets the schema on every call, and resolving union branches
through its validators costs most of the time for our records (an
extra_context value tries each branch in turn). The records on streamfeed's
topics are small and of a handful of known schemas, so each schema is turned
once into a tree of small functions that do only that schema's work. This is
the fast path for the common case, writer schema equal to reader schema;
schema resolution between versions stays with fastavro (streamfeed.schemas.codec).

Values follow fastavro's conventions, so both paths give the same records:
records and maps are dicts, enums their symbol, timestamp-micros an aware
UTC datetime (an int of microseconds is accepted when writing).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from streamfeed.schemas.errors import SerializationException

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_MISSING = object()


class _EncodeError(SerializationException):
    """A value that does not fit its schema, with the path to it (fields, keys, indexes)."""

    def __init__(self, reason: str, path: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.path = path
        where = "".join(part if part.startswith("[") else f".{part}" for part in path).lstrip(".")
        super().__init__(f"{where}: {reason}" if where else reason)

    def at(self, part: str) -> _EncodeError:
        return _EncodeError(self.reason, (part, *self.path))


# -- primitives -----------------------------------------------------------------


def write_long(value: int, out: bytearray) -> None:
    value = (value << 1) ^ (value >> 63)
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    pos += 1
    if byte < 0x80:
        return (byte >> 1) ^ -(byte & 1), pos
    value = byte & 0x7F
    shift = 7
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7
        if shift > 63:
            raise SerializationException("varint longer than 10 bytes")


def _bad(kind: str, value: Any) -> _EncodeError:
    shown = repr(value)
    return _EncodeError(f"expected {kind}, got {type(value).__name__} {shown[:60]}")


def _encode_null(value: Any, out: bytearray) -> None:
    if value is not None:
        raise _bad("null", value)


def _decode_null(data: bytes, pos: int) -> tuple[None, int]:
    return None, pos


def _encode_boolean(value: Any, out: bytearray) -> None:
    if value is True:
        out.append(1)
    elif value is False:
        out.append(0)
    else:
        raise _bad("boolean", value)


def _decode_boolean(data: bytes, pos: int) -> tuple[bool, int]:
    byte = data[pos]
    if byte > 1:
        raise SerializationException(f"boolean byte {byte}")
    return byte == 1, pos + 1


def _integer_encoder(low: int, high: int, kind: str) -> Encoder:
    def encode(value: Any, out: bytearray) -> None:
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise _bad(kind, value)
        if not low <= value <= high:
            raise _bad(f"{kind} in range", value)
        write_long(value, out)

    return encode


def _decode_int(data: bytes, pos: int) -> tuple[int, int]:
    value, pos = read_long(data, pos)
    if not _INT_MIN <= value <= _INT_MAX:
        raise SerializationException(f"int out of range: {value}")
    return value, pos


def _encode_double(value: Any, out: bytearray) -> None:
    if isinstance(value, bool) or not isinstance(value, float | int):
        raise _bad("double", value)
    out += _DOUBLE.pack(value)


def _decode_double(data: bytes, pos: int) -> tuple[float, int]:
    end = pos + 8
    if end > len(data):
        raise SerializationException("double runs past the end")
    return _DOUBLE.unpack_from(data, pos)[0], end


def _encode_float(value: Any, out: bytearray) -> None:
    if isinstance(value, bool) or not isinstance(value, float | int):
        raise _bad("float", value)
    out += _FLOAT.pack(value)


def _decode_float(data: bytes, pos: int) -> tuple[float, int]:
    end = pos + 4
    if end > len(data):
        raise SerializationException("float runs past the end")
    return _FLOAT.unpack_from(data, pos)[0], end


def _encode_string(value: Any, out: bytearray) -> None:
    if type(value) is not str and not isinstance(value, str):
        raise _bad("string", value)
    raw = value.encode()
    write_long(len(raw), out)
    out += raw


def _decode_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = read_long(data, pos)
    end = pos + size
    if size < 0 or end > len(data):
        raise SerializationException(f"length {size} runs past the end")
    return data[pos:end], end


def _decode_string(data: bytes, pos: int) -> tuple[str, int]:
    size = data[pos]
    if size < 0x80 and not size & 1:  # the usual case: a short string, length in one byte
        size >>= 1
        pos += 1
    else:
        size, pos = read_long(data, pos)
        if size < 0:
            raise SerializationException(f"negative string length {size}")
    # A length past the end is caught by the caller: it checks the final position.
    end = pos + size
    return data[pos:end].decode(), end


def _encode_bytes(value: Any, out: bytearray) -> None:
    if not isinstance(value, bytes | bytearray):
        raise _bad("bytes", value)
    write_long(len(value), out)
    out += value


def _encode_timestamp_micros(value: Any, out: bytearray) -> None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        value = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    elif type(value) is not int:
        raise _bad("datetime or int microseconds", value)
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise _bad("timestamp in range", value)
    write_long(value, out)


def _decode_timestamp_micros(data: bytes, pos: int) -> tuple[datetime, int]:
    value, pos = read_long(data, pos)
    try:
        return _EPOCH + timedelta(microseconds=value), pos
    except OverflowError:
        raise SerializationException(f"timestamp {value} out of range") from None


_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")

_PRIMITIVES: dict[str, tuple[Encoder, Decoder]] = {
    "null": (_encode_null, _decode_null),
    "boolean": (_encode_boolean, _decode_boolean),
    "int": (_integer_encoder(_INT_MIN, _INT_MAX, "int"), _decode_int),
    "long": (_integer_encoder(_LONG_MIN, _LONG_MAX, "long"), read_long),
    "float": (_encode_float, _decode_float),
    "double": (_encode_double, _decode_double),
    "string": (_encode_string, _decode_string),
    "bytes": (_encode_bytes, _decode_bytes),
}

#: Python type of a value -> the Avro types that can hold it, in preference order.
_UNION_CANDIDATES: dict[type, tuple[str, ...]] = {
    type(None): ("null",),
    bool: ("boolean",),
    int: ("long", "int", "double", "float"),
    float: ("double", "float"),
    str: ("string", "enum"),
    bytes: ("bytes", "fixed"),
    list: ("array",),
    tuple: ("array",),
    dict: ("record", "map"),
    datetime: ("long",),
}


# -- inlined field decoders ---------------------------------------------------------

_INLINE_STRING = """\
{p}byte = data[pos]
{p}if byte < 0x80 and not byte & 1:
{p}    pos += 1
{p}    end = pos + (byte >> 1)
{p}else:
{p}    size, pos = read_long(data, pos)
{p}    if size < 0:
{p}        raise _Error(f"negative length {{size}}")
{p}    end = pos + size
{p}{var} = data[pos:end].decode()
{p}pos = end"""


def _inline_decode(schema: Any, var: str, fallback: str) -> list[str]:
    """Source lines that decode one record field into var, inlined for the common types.

    Strings and optional strings are most of every streamfeed record; decoding
    them in the record's own function saves a call and a tuple per field.
    Everything else calls the compiled decoder named by fallback.
    """
    if schema == "string":
        return _INLINE_STRING.format(p="    ", var=var).splitlines()
    if isinstance(schema, list) and schema == ["null", "string"]:
        lines = [
            "    tag = data[pos]",
            "    if tag == 0:",
            f"        {var} = None",
            "        pos += 1",
            "    elif tag == 2:",
            "        pos += 1",
        ]
        lines += _INLINE_STRING.format(p="        ", var=var).splitlines()
        lines += ["    else:", '        raise _Error(f"union branch byte {tag} out of range")']
        return lines
    return [f"    {var}, pos = {fallback}(data, pos)"]


# -- complex types ----------------------------------------------------------------


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    name: str = schema["type"]
    return name


class SchemaCompiler:
    """Compiles parsed schemas (fastavro's form, named types by full name)."""

    def __init__(self, named: dict[str, Any]) -> None:
        self.named = named
        self._cache: dict[str, tuple[Encoder, Decoder]] = {}

    def compile(self, schema: Any) -> tuple[Encoder, Decoder]:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema]
            if schema in self._cache:
                return self._cache[schema]
            return self.compile(self.named[schema])
        if isinstance(schema, list):
            return self._union(schema)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if kind == "long" and logical in ("timestamp-micros",):
            return _encode_timestamp_micros, _decode_timestamp_micros
        if isinstance(kind, str) and kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "record":
            return self._record(schema)
        if kind == "enum":
            return self._enum(schema)
        if kind == "array":
            return self._array(schema)
        if kind == "map":
            return self._map(schema)
        if kind == "fixed":
            return self._fixed(schema)
        return self.compile(kind)

    def _record(self, schema: dict[Any, Any]) -> tuple[Encoder, Decoder]:
        """Generates straight-line code for the record: no per-field loop or tuple unpacking.

        Recursive records need their own functions before their fields are
        compiled, so the generated pair is reached through a forwarding cell.
        """
        name = schema["name"]
        cell: list[tuple[Encoder, Decoder]] = []
        self._cache[name] = (
            lambda value, out: cell[0][0](value, out),
            lambda data, pos: cell[0][1](data, pos),
        )
        fields = [(f["name"], f.get("default", _MISSING)) for f in schema["fields"]]
        scope: dict[str, Any] = {
            "_MISSING": _MISSING,
            "_EncodeError": _EncodeError,
            "_Error": SerializationException,
            "read_long": read_long,
        }
        for i, field in enumerate(schema["fields"]):
            scope[f"e{i}"], scope[f"d{i}"] = self.compile(field["type"])
            scope[f"k{i}"] = field.get("default", _MISSING)
        encode_lines = ["def encode(value, out):", "    get = value.get"]
        for i, (field_name, _) in enumerate(fields):
            encode_lines.append(f"    e{i}(get({field_name!r}, k{i}), out)")
        decode_lines = ["def decode(data, pos):"]
        for i, field in enumerate(schema["fields"]):
            decode_lines += _inline_decode(field["type"], f"v{i}", f"d{i}")
        items = ", ".join(f"{field_name!r}: v{i}" for i, (field_name, _) in enumerate(fields))
        decode_lines.append(f"    return {{{items}}}, pos")
        exec("\n".join(encode_lines + decode_lines), scope)  # our own generated code
        fast_encode = scope["encode"]
        field_encoders = [(field_name, scope[f"e{i}"]) for i, (field_name, _) in enumerate(fields)]
        defaults = dict(fields)

        def encode(value: Any, out: bytearray) -> None:
            if not isinstance(value, dict):
                raise _bad(f"record {name}", value)
            mark = len(out)
            try:
                fast_encode(value, out)
            except _EncodeError:
                # Find the field at fault again, slowly, to name it in the error.
                del out[mark:]
                for field_name, field_encode in field_encoders:
                    item = value.get(field_name, defaults[field_name])
                    if item is _MISSING:
                        raise _EncodeError("required field is missing", (field_name,)) from None
                    try:
                        field_encode(item, out)
                    except _EncodeError as exc:
                        raise exc.at(field_name) from None
                raise

        cell.append((encode, scope["decode"]))
        self._cache[name] = cell[0]
        return cell[0]

    def _enum(self, schema: dict[Any, Any]) -> tuple[Encoder, Decoder]:
        symbols = list(schema["symbols"])
        index = {symbol: i for i, symbol in enumerate(symbols)}

        def encode(value: Any, out: bytearray) -> None:
            try:
                write_long(index[value], out)
            except (KeyError, TypeError):
                raise _bad(f"one of {symbols}", value) from None

        def decode(data: bytes, pos: int) -> tuple[str, int]:
            i, pos = read_long(data, pos)
            if not 0 <= i < len(symbols):
                raise SerializationException(f"enum index {i} out of range")
            return symbols[i], pos

        self._cache[schema["name"]] = (encode, decode)
        return encode, decode

    def _fixed(self, schema: dict[Any, Any]) -> tuple[Encoder, Decoder]:
        size = schema["size"]

        def encode(value: Any, out: bytearray) -> None:
            if not isinstance(value, bytes) or len(value) != size:
                raise _bad(f"{size} bytes", value)
            out += value

        def decode(data: bytes, pos: int) -> tuple[bytes, int]:
            end = pos + size
            if end > len(data):
                raise SerializationException("fixed runs past the end")
            return data[pos:end], end

        self._cache[schema["name"]] = (encode, decode)
        return encode, decode

    @staticmethod
    def _blocks(data: bytes, pos: int) -> tuple[int, int]:
        count, pos = read_long(data, pos)
        if count < 0:  # negative count: a block byte size follows, which we do not need
            count = -count
            _, pos = read_long(data, pos)
        if count > len(data) - pos:
            raise SerializationException(f"block of {count} items exceeds the message")
        return count, pos

    def _array(self, schema: dict[Any, Any]) -> tuple[Encoder, Decoder]:
        item_encode, item_decode = self.compile(schema["items"])
        blocks = self._blocks
        if item_encode is _encode_string:
            return self._string_array()

        def encode(value: Any, out: bytearray) -> None:
            if not isinstance(value, list | tuple):
                raise _bad("array", value)
            if value:
                write_long(len(value), out)
                for i, item in enumerate(value):
                    try:
                        item_encode(item, out)
                    except _EncodeError as exc:
                        raise exc.at(f"[{i}]") from None
            out.append(0)

        def decode(data: bytes, pos: int) -> tuple[list[Any], int]:
            items: list[Any] = []
            count, pos = blocks(data, pos)
            while count:
                for _ in range(count):
                    item, pos = item_decode(data, pos)
                    items.append(item)
                count, pos = blocks(data, pos)
            return items, pos

        return encode, decode

    def _string_array(self) -> tuple[Encoder, Decoder]:
        """Arrays of strings with the item loop inlined: a fanout batch carries a thousand
        recipient ids, and a call per id was most of encoding and decoding it."""
        blocks = self._blocks

        def encode(value: Any, out: bytearray) -> None:
            if not isinstance(value, list | tuple):
                raise _bad("array", value)
            if value:
                write_long(len(value), out)
                for i, item in enumerate(value):
                    if type(item) is not str and not isinstance(item, str):
                        raise _bad("string", item).at(f"[{i}]")
                    raw = item.encode()
                    size = len(raw)
                    if size < 64:  # the length's zigzag varint in one byte
                        out.append(size << 1)
                    else:
                        write_long(size, out)
                    out += raw
            out.append(0)

        def decode(data: bytes, pos: int) -> tuple[list[Any], int]:
            items: list[Any] = []
            append = items.append
            count, pos = blocks(data, pos)
            while count:
                for _ in range(count):
                    size = data[pos]
                    if size < 0x80 and not size & 1:
                        size >>= 1
                        pos += 1
                    else:
                        size, pos = read_long(data, pos)
                        if size < 0:
                            raise SerializationException(f"negative string length {size}")
                    end = pos + size
                    append(data[pos:end].decode())
                    pos = end
                count, pos = blocks(data, pos)
            return items, pos

        return encode, decode

    def _map(self, schema: dict[Any, Any]) -> tuple[Encoder, Decoder]:
        value_encode, value_decode = self.compile(schema["values"])
        blocks = self._blocks

        def encode(value: Any, out: bytearray) -> None:
            if not isinstance(value, dict):
                raise _bad("map", value)
            if value:
                write_long(len(value), out)
                for key, item in value.items():
                    _encode_string(key, out)
                    try:
                        value_encode(item, out)
                    except _EncodeError as exc:
                        raise exc.at(f"[{key!r}]") from None
            out.append(0)

        def decode(data: bytes, pos: int) -> tuple[dict[Any, Any], int]:
            result: dict[Any, Any] = {}
            count, pos = blocks(data, pos)
            while count:
                for _ in range(count):
                    key, pos = _decode_string(data, pos)
                    result[key], pos = value_decode(data, pos)
                count, pos = blocks(data, pos)
            return result, pos

        values = schema["values"]
        if isinstance(values, list) and values and values[0] == "string":
            # Free-form string maps (extra_context) are mostly short strings: decode key
            # and value inline, falling back to the union decoder for other branches.
            def decode_strings(data: bytes, pos: int) -> tuple[dict[Any, Any], int]:
                result: dict[Any, Any] = {}
                count, pos = blocks(data, pos)
                while count:
                    for _ in range(count):
                        size = data[pos]
                        if size < 0x80 and not size & 1:
                            end = pos + 1 + (size >> 1)
                            key = data[pos + 1 : end].decode()
                            pos = end
                        else:
                            key, pos = _decode_string(data, pos)
                        if data[pos] == 0:  # branch 0: string
                            size = data[pos + 1]
                            if size < 0x80 and not size & 1:
                                end = pos + 2 + (size >> 1)
                                result[key] = data[pos + 2 : end].decode()
                                pos = end
                                continue
                            result[key], pos = _decode_string(data, pos + 1)
                            continue
                        result[key], pos = value_decode(data, pos)
                    count, pos = blocks(data, pos)
                return result, pos

            return encode, decode_strings
        return encode, decode

    def _union(self, branches: list[Any]) -> tuple[Encoder, Decoder]:
        compiled = [self.compile(branch) for branch in branches]
        kinds = [_type_name(self.named[b] if isinstance(b, str) and b in self.named else b) for b in branches]
        decoders = [decoder for _, decoder in compiled]
        # For each Python type, the first branch (in our preference order) that holds it.
        by_type: dict[type, tuple[bytes, Encoder]] = {}
        for python_type, preferred in _UNION_CANDIDATES.items():
            for kind in preferred:
                if kind in kinds:
                    i = kinds.index(kind)
                    tag = bytearray()
                    write_long(i, tag)
                    by_type[python_type] = (bytes(tag), compiled[i][0])
                    break
        names = "|".join(kinds)
        if len(decoders) == 2 and kinds[0] == "null":  # the optional-field idiom, made cheap
            present = decoders[1]

            def decode_optional(data: bytes, pos: int) -> tuple[Any, int]:
                tag = data[pos]
                if tag == 0:
                    return None, pos + 1
                if tag == 2:
                    return present(data, pos + 1)
                raise SerializationException(f"union branch byte {tag} out of range")

        def encode(value: Any, out: bytearray) -> None:
            choice = by_type.get(type(value))
            if choice is None:
                for python_type, candidate in by_type.items():
                    if isinstance(value, python_type) and python_type is not type(None):
                        choice = candidate
                        break
                else:
                    raise _bad(names, value)
            out += choice[0]
            choice[1](value, out)

        def decode(data: bytes, pos: int) -> tuple[Any, int]:
            tag = data[pos]
            if tag < 0x80 and not tag & 1 and (tag >> 1) < len(decoders):  # one-byte branch index
                return decoders[tag >> 1](data, pos + 1)
            i, pos = read_long(data, pos)
            raise SerializationException(f"union branch {i} out of range")

        if len(decoders) == 2 and kinds[0] == "null":
            return encode, decode_optional
        return encode, decode
