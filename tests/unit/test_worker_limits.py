"""Byte-sized feed-ops messages, throttled client logs, and the limits settings refuse."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from streamfeed.consumers.log_throttle import ThrottledLog, ThrottleFilter
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import ActivityOp, FanoutBatch, FanoutPriority
from streamfeed.domain.exceptions import ValidationError
from streamfeed.kafka.sizing import split_to_fit
from streamfeed.schemas.catalog import FANOUT_BATCH
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import Settings

codec = AvroCodec()


def encode(batch: FanoutBatch) -> bytes:
    return codec.encode(FANOUT_BATCH, batch.to_record())


def decode(value: bytes) -> FanoutBatch:
    return FanoutBatch.from_record(codec.decode(FANOUT_BATCH, value))


def big_activity(n: int) -> Activity:
    when = datetime(2026, 11, 2, 9, 0, n % 60, tzinfo=UTC)
    return Activity("alice", "add", f"pin{n}", "board1", when, {"blob": "x" * 16_000})


def test_a_history_copy_of_big_activities_is_split_under_the_limit_in_order():
    activities = [big_activity(n) for n in range(300)]
    batch = FanoutBatch(ActivityOp.ADD, ["bob"], activities, (), FanoutPriority.HIGH, version=7)
    messages = split_to_fit(batch, encode, 900_000)
    assert len(messages) > 1
    assert all(len(m) <= 900_000 for m in messages)
    pieces = [decode(m) for m in messages]
    assert [a.id for p in pieces for a in p.activities] == [a.id for a in activities]
    assert {(tuple(p.recipients), p.version, p.op) for p in pieces} == {(("bob",), 7, ActivityOp.ADD)}


def test_many_recipients_are_split_when_activities_cannot_be():
    batch = FanoutBatch(ActivityOp.ADD, [f"u{n:05d}" for n in range(5000)], [big_activity(1)])
    messages = split_to_fit(batch, encode, 20_000)
    assert all(len(m) <= 20_000 for m in messages)
    assert [r for m in messages for r in decode(m).recipients] == list(batch.recipients)


def test_one_activity_too_big_for_any_message_is_bad_input():
    batch = FanoutBatch(ActivityOp.ADD, ["bob"], [big_activity(1)])
    with pytest.raises(ValidationError, match="feed_ops_max_bytes"):
        split_to_fit(batch, encode, 10_000)


def test_a_small_batch_is_one_message_unchanged():
    batch = FanoutBatch(ActivityOp.ADD, ["bob"], [big_activity(1)])
    assert split_to_fit(batch, encode, 900_000) == [encode(batch)]


def record(name: str, message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, (), None)


def test_the_kafka_client_filter_says_a_repeated_error_once_per_interval():
    now = [0.0]
    throttle = ThrottleFilter(("aiokafka",), 10.0, clock=lambda: now[0])
    passed = []
    for step in range(1000):  # 100 attempts a second for 10 s
        now[0] = step / 100
        item = record("aiokafka.conn", "Unable connect to node with id 1")
        if throttle.filter(item):
            passed.append(item.getMessage())
    now[0] = 10.5
    last = record("aiokafka.conn", "Unable connect to node with id 1")
    assert throttle.filter(last)
    assert passed == ["Unable connect to node with id 1"]
    assert last.getMessage().endswith("(999 similar since the last report)")


def test_the_filter_drops_faust_s_missing_leader_topic_error_at_start_only():
    throttle = ThrottleFilter(("aiokafka",), 10.0, clock=lambda: 0.0)
    template = "Topic %s not found in cluster metadata"
    start = logging.LogRecord(
        "aiokafka.cluster", logging.ERROR, __file__, 1, template, ("app-__assignor-__leader",), None
    )
    other = logging.LogRecord(
        "aiokafka.cluster", logging.ERROR, __file__, 1, template, ("app.activities",), None
    )
    assert not throttle.filter(start)
    assert throttle.filter(other)


def test_the_filter_lets_other_messages_and_other_loggers_through():
    throttle = ThrottleFilter(("aiokafka",), 10.0, clock=lambda: 0.0)
    assert throttle.filter(record("aiokafka.conn", "first"))
    assert throttle.filter(record("aiokafka.conn", "second"))
    assert throttle.filter(record("streamfeed.worker", "first"))
    assert throttle.filter(record("streamfeed.worker", "first"))
    assert throttle.filter(record("aiokafka.conn", "first", logging.INFO))


def test_throttled_log_reports_the_count_held_back(caplog):
    throttled = ThrottledLog(logging.getLogger("streamfeed.test"), interval=3600)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            throttled.warning("outage", "storage unavailable")
    assert [r.getMessage() for r in caplog.records] == ["storage unavailable"]


def test_settings_refuse_a_retry_deadline_past_the_session_timeout():
    with pytest.raises(ValueError, match="worker_retry_deadline"):
        Settings(worker_retry_deadline=12.0, worker_session_timeout=10.0)


def test_settings_refuse_feed_ops_messages_the_broker_would_refuse():
    with pytest.raises(ValueError, match="feed_ops_max_bytes"):
        Settings(feed_ops_max_bytes=2_000_000, message_max_bytes=1_048_576)


def test_wait_for_waits_out_outages_and_says_so_once_per_interval(caplog, monkeypatch):
    from streamfeed.consumers import worker

    monkeypatch.setattr(worker.time, "sleep", lambda seconds: None)
    attempts = iter([ConnectionError("refused")] * 5 + ["connected"])

    def attempt():
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    readiness = worker.Readiness()
    with caplog.at_level(logging.WARNING, logger="streamfeed.worker"):
        assert worker.wait_for("Kafka", attempt, readiness, report_interval=3600) == "connected"
    waiting = [r.getMessage() for r in caplog.records if "not ready" in r.getMessage()]
    assert len(waiting) == 1 and "waiting for Kafka" in waiting[0]
    assert readiness.reason == "waiting for Kafka"


def test_wait_for_does_not_wait_out_what_waiting_cannot_fix():
    from streamfeed.consumers import worker

    def attempt():
        raise ImportError("no module named myapp")

    with pytest.raises(ImportError):
        worker.wait_for("storage", attempt, worker.Readiness())
