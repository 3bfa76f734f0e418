"""A batch that fails with an unexpected error is narrowed to the record at fault: it is tried
again a bounded number of times, counted in storage, then set aside as a dead letter while
every other record is applied. Many failing in a row are a bug: the worker stops instead.

Before issue 25 any unexpected error ended the worker (exit 70) and every restart met the same
record again. The chaos suite proves the same against Kafka and Redis
(tests/chaos/test_chaos.py::test_poison_records_become_dead_letters_and_everything_else_is_applied).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamfeed.consumers import runtime as runtime_module
from streamfeed.consumers.dead_letters import DeadLetters
from streamfeed.consumers.runtime import AgentRuntime, FailingInARow
from streamfeed.domain.exceptions import ValidationError
from streamfeed.schemas.catalog import DEAD_LETTER
from streamfeed.schemas.codec import AvroCodec
from streamfeed.storage.memory import MemoryFailureLedger
from tests.consumed import Event, Message


class KeptTopic:
    """The dead-letter topic's side the runtime uses (Faust's topic.send), keeping what it is sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, key: Any, value: bytes) -> Any:
        self.sent.append(value)
        return _done()


def _done() -> asyncio.Future[None]:
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


def events(*values: str) -> list[Event]:
    return [Event(Message("feed-ops", 0, n, b"k", v.encode())) for n, v in enumerate(values)]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(runtime_module, "POISON_BACKOFF", (0.0, 0.0, 0.0))


def run(
    values: list[str], handle, ledger=None, streak: int = 5, topic: KeptTopic | None = None
) -> tuple[list[Any], list[dict], MemoryFailureLedger]:
    ledger = ledger or MemoryFailureLedger()
    codec = AvroCodec()
    topic = topic or KeptTopic()
    runtime = AgentRuntime(
        DeadLetters(topic, codec), failures=lambda: ledger, group="g", poison_attempts=3, poison_streak=streak
    )

    async def go() -> list[Any]:
        return await runtime.process("materialize", events(*values), bytes.decode, handle)

    results = asyncio.run(go())
    return results, [codec.decode(DEAD_LETTER, value) for value in topic.sent], ledger


def test_a_record_failing_every_time_is_set_aside_and_the_rest_applied() -> None:
    tries: dict[str, int] = {}

    def handle(value: str) -> str:
        tries[value] = tries.get(value, 0) + 1
        if value == "poison":
            raise KeyError("no renderer for this value")
        return value.upper()

    results, letters, ledger = run(["a", "poison", "b"], handle)
    assert results == ["A", "B"]
    assert tries["poison"] == 1 + 3  # in the failed batch, then alone three times
    [letter] = letters
    assert (letter["offset"], letter["error_type"], letter["attempts"]) == (1, "KeyError", 3)
    assert "in handle: raise KeyError" in letter["stack"]
    assert ledger.counts == {}  # forgotten once set aside


def test_a_record_that_fails_once_is_applied_with_no_dead_letter() -> None:
    failed = set()

    def handle(value: str) -> str:
        if value == "flaky" and value not in failed:
            failed.add(value)
            raise RuntimeError("a moment's bug")
        return value

    results, letters, ledger = run(["a", "flaky"], handle)
    assert results == ["a", "flaky"] and letters == [] and ledger.counts == {}


def test_failures_counted_before_a_restart_bound_the_tries_after_it() -> None:
    ledger = MemoryFailureLedger()
    ledger.failed("g/feed-ops:0:0")
    ledger.failed("g/feed-ops:0:0")
    tries = []

    def handle(value: str) -> str:
        tries.append(value)
        raise RuntimeError("still broken")

    _, letters, _ = run(["poison"], handle, ledger)
    assert tries == ["poison", "poison"]  # the batch, then alone once: the third failure
    assert [letter["attempts"] for letter in letters] == [3]


def test_bad_input_is_a_dead_letter_at_once_without_retries() -> None:
    tries = []

    def handle(value: str) -> str:
        tries.append(value)
        if value == "bad":
            raise ValidationError("feeds", ["x"], "unknown feeds")
        return value

    results, letters, _ = run(["bad", "ok"], handle)
    assert results == ["ok"] and tries.count("bad") == 2
    assert [(letter["error_type"], letter["attempts"], letter["stack"]) for letter in letters] == [
        ("ValidationError", None, None)
    ]


def test_records_failing_in_a_row_stop_the_worker_and_dead_letter_nothing() -> None:
    def handle(value: str) -> str:
        raise AttributeError("a broken deployment")

    topic = KeptTopic()
    with pytest.raises(FailingInARow, match="3 records in a row"):
        run(["a", "b", "c", "d"], handle, streak=3, topic=topic)
    assert topic.sent == []
