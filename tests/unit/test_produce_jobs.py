"""`streamfeed produce --jobs N`: lines encoded by several processes come out as one process
would make them, in the input's order, with each refusal at its own line number."""

from __future__ import annotations

import json

from streamfeed.cli.produce import CHUNK_LINES, ChunkEncoding
from streamfeed.schemas.catalog import ACTIVITY_EVENT, FOLLOW_EVENT
from streamfeed.schemas.codec import AvroCodec

APP = "streamfeed.default_app:manager"


def lines(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        if n % 7 == 3:
            event = {"type": "follow", "follower": f"u{n % 50}", "followed": f"u{n % 13}x"}
        else:
            event = {"type": "activity", "actor": f"u{n % 50}", "verb": "add", "object": f"pin:{n}"}
            event["time"] = "2026-11-26T12:00:00Z"
        out.append(json.dumps(event).encode() + b"\n")
    out[5] = b'{"type": "activity", "actor": "bad actor!", "verb": "add", "object": "x"}\n'
    out[CHUNK_LINES + 1] = b"\xff not utf-8\n"
    out[-1] = b"{not json\n"
    return out


def outcome(jobs: int, source: list[bytes]) -> tuple[list[tuple[str, bytes, str]], list[tuple[int, str]]]:
    codec = AvroCodec()
    records, refusals = [], []
    with ChunkEncoding(APP, publishing=False, jobs=jobs) as encoding:
        for chunk in encoding.encode(source):
            refusals += chunk.refusals
            for topic, key, value in chunk.records:
                if topic.endswith("activities"):
                    what = codec.decode(ACTIVITY_EVENT, value)["activity"]["id"]
                else:
                    what = codec.decode(FOLLOW_EVENT, value)["followed"]
                records.append((topic, key, what))
    return records, refusals


def test_two_processes_give_what_one_gives_in_the_same_order():
    source = lines(3 * CHUNK_LINES + 17)
    serial = outcome(1, source)
    parallel = outcome(2, source)
    assert parallel == serial
    records, refusals = parallel
    assert len(records) == len(source) - 3
    assert [number for number, _ in refusals] == [6, CHUNK_LINES + 2, len(source)]
    assert "actor" in refusals[0][1] and "not UTF-8" in refusals[1][1] and "not JSON" in refusals[2][1]
