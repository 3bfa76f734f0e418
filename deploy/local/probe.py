"""Readiness probes for the local stack, speaking each server's own protocol.

A listening port is not a ready server: Kafka accepts connections before its
broker is registered, Cassandra before its CQL layer can read system tables.
So each probe makes the request a client would make first, with nothing but
the standard library, because the stack must start before the project's
virtualenv exists.

Usage: python3 probe.py kafka HOST PORT [BROKERS] | cassandra HOST PORT
Prints what the server answered and exits 0, or prints why not and exits 1.
BROKERS: how many brokers the metadata must list (a cluster's, default 1).
"""

from __future__ import annotations

import socket
import struct
import sys


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by server")
        data += chunk
    return data


def _kafka_string(data: bytes, pos: int) -> tuple[str | None, int]:
    (length,) = struct.unpack_from(">h", data, pos)
    pos += 2
    if length < 0:
        return None, pos
    return data[pos : pos + length].decode(), pos + length


def probe_kafka(host: str, port: int, brokers_wanted: int = 1) -> str:
    """Send a Metadata v4 request and return the brokers the cluster reports.

    A cluster is ready when all its brokers registered: topics created before
    that would get fewer replicas than asked, or be refused.
    """
    client_id = b"streamfeed-probe"
    # api_key 3 (Metadata), version 4, correlation id 1; topics null; no auto-create.
    body = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id
    body += struct.pack(">i?", -1, False)
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        data = _recv_exact(sock, size)
    correlation_id, _throttle, broker_count = struct.unpack_from(">iii", data, 0)
    if correlation_id != 1:
        raise ConnectionError(f"unexpected correlation id {correlation_id}")
    pos = 12
    brokers = []
    for _ in range(broker_count):
        (node_id,) = struct.unpack_from(">i", data, pos)
        host_name, pos = _kafka_string(data, pos + 4)
        (broker_port,) = struct.unpack_from(">i", data, pos)
        _rack, pos = _kafka_string(data, pos + 4)
        brokers.append(f"{node_id}@{host_name}:{broker_port}")
    if len(brokers) < brokers_wanted:
        raise ConnectionError(f"metadata lists {len(brokers)} of {brokers_wanted} brokers")
    return "brokers " + ",".join(brokers)


def _cql_frame(opcode: int, body: bytes, stream: int) -> bytes:
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body


def _cql_read(sock: socket.socket) -> tuple[int, bytes]:
    _version, _flags, _stream, opcode, length = struct.unpack(">BBhBi", _recv_exact(sock, 9))
    return opcode, _recv_exact(sock, length)


def _cql_error(body: bytes) -> str:
    code, length = struct.unpack_from(">ih", body, 0)
    return f"CQL error {code:#x}: {body[6 : 6 + length].decode(errors='replace')}"


def probe_cassandra(host: str, port: int) -> str:
    """Run SELECT release_version FROM system.local over native protocol v4."""
    startup = struct.pack(">h", 1)
    for text in (b"CQL_VERSION", b"3.0.0"):
        startup += struct.pack(">h", len(text)) + text
    query = b"SELECT release_version FROM system.local"
    query_body = struct.pack(">i", len(query)) + query + struct.pack(">hB", 0x0001, 0)
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(_cql_frame(0x01, startup, 0))
        opcode, body = _cql_read(sock)
        if opcode != 0x02:
            raise ConnectionError(_cql_error(body) if opcode == 0 else f"opcode {opcode}")
        sock.sendall(_cql_frame(0x07, query_body, 1))
        opcode, body = _cql_read(sock)
    if opcode != 0x08:
        raise ConnectionError(_cql_error(body) if opcode == 0 else f"opcode {opcode}")
    kind, flags, columns = struct.unpack_from(">iii", body, 0)
    if kind != 2 or columns != 1:
        raise ConnectionError(f"unexpected result kind {kind} with {columns} columns")
    pos = 12
    if flags & 0x0001:  # global table spec: keyspace and table names
        for _ in range(2):
            (length,) = struct.unpack_from(">h", body, pos)
            pos += 2 + length
    (length,) = struct.unpack_from(">h", body, pos)
    pos += 2 + length + 2  # column name, then its type id (varchar)
    (rows,) = struct.unpack_from(">i", body, pos)
    if rows != 1:
        raise ConnectionError(f"system.local returned {rows} rows")
    (length,) = struct.unpack_from(">i", body, pos + 4)
    return "release_version " + body[pos + 8 : pos + 8 + length].decode()


PROBES = {"kafka": probe_kafka, "cassandra": probe_cassandra}


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5) or argv[1] not in PROBES:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    try:
        print(PROBES[argv[1]](argv[2], *map(int, argv[3:])))
    except (OSError, struct.error, UnicodeDecodeError) as exc:
        print(f"{argv[1]} not ready: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
