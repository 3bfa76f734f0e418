"""`streamfeed produce`: JSON lines in, Avro records out, each bad line reported by number."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from typing import Annotated, Any

import typer

from streamfeed.cli.common import AppOption, JsonOption, load_app
from streamfeed.cli.errors import EXIT_UNAVAILABLE
from streamfeed.cli.progress import WorkProgress, rate_words
from streamfeed.domain.events import ActivityEvent
from streamfeed.domain.json_events import parse_json_event
from streamfeed.domain.targets import parse_targets
from streamfeed.kafka.producer import DeliveryError, StreamfeedProducer
from streamfeed.kafka.topics import TopicNames
from streamfeed.schemas.catalog import ACTIVITY_EVENT, FOLLOW_EVENT
from streamfeed.schemas.codec import AvroCodec
from streamfeed.settings import get_settings


def produce(
    source: Annotated[
        typer.FileBinaryRead, typer.Argument(help="JSON lines file, or - for standard input.")
    ] = "-",  # type: ignore[assignment]  # Typer opens the path (or stdin) it is given
    dry_run: Annotated[bool, typer.Option(help="Check every line (and encode it); publish nothing.")] = False,
    atomic: Annotated[
        bool, typer.Option(help="All or nothing: publish only if every line passes the checks.")
    ] = False,
    app_path: AppOption = "streamfeed.default_app:manager",
    as_json: JsonOption = False,
) -> None:
    """Publish events from JSON lines (format: docs/cli.md, "Publishing events as JSON lines"; JSON Schema:
    schemas/events.schema.json). A bad line is reported with its number and skipped; every
    good line is published (with --atomic, none unless all pass). Exit status 1 if any line was
    refused."""

    manager = load_app(app_path)
    settings = get_settings()
    checker = _EventChecker(manager, settings)
    size = _size_of(source)
    if atomic and not dry_run:  # check everything before connecting; publish only a clean file
        checked = list(source)
        _, refused = _produce_lines(checked, checker, None, size)
        if refused:
            if as_json:
                typer.echo(json.dumps({"published": 0, "valid": 0, "rejected": refused, "dry_run": False}))
            else:
                typer.echo(f"0 published, {refused} rejected: nothing published (--atomic)")
            raise typer.Exit(1)
        lines: Iterable[bytes] = checked
    else:
        lines = source
    producer = None
    if not dry_run:
        producer = StreamfeedProducer(settings)
    published, rejected = _produce_lines(lines, checker, producer, size)
    if producer is not None:
        try:
            producer.flush()
        except DeliveryError as error:
            where = f"Kafka at {settings.kafka_bootstrap} (STREAMFEED_KAFKA_BOOTSTRAP)"
            typer.echo(
                f"error: {published - error.count} of {published} published; {error}; {where}", err=True
            )
            raise typer.Exit(EXIT_UNAVAILABLE) from None
    verb = "valid" if dry_run else "published"
    if as_json:
        report = {"published": 0 if dry_run else published, "valid": published, "rejected": rejected}
        typer.echo(json.dumps({**report, "dry_run": dry_run}, sort_keys=True))
    else:
        typer.echo(f"{published} {verb}, {rejected} rejected")
    if rejected:
        raise typer.Exit(1)


#: Lines between progress updates (a bar redrawn per line would cost more than the line).
PROGRESS_EVERY = 2000


def _size_of(source: Any) -> int | None:
    """The input's size in bytes when it is a regular file (for the share done and time left)."""
    try:
        info = os.fstat(source.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size else None


def _produce_lines(lines: Any, checker: Any, producer: Any, size: int | None = None) -> tuple[int, int]:
    """Check each line (and publish it when given a producer); report refusals by line number.

    Each event is encoded once: the bytes whose size is checked are the bytes published.
    """

    published = rejected = 0
    read = 0
    encode = producer.encoded if producer is not None else checker.encoded
    verb = "published" if producer is not None else "valid"

    def describe(done: int, total: int | None, elapsed: float) -> str:
        words = rate_words(published + rejected, None, elapsed, "lines")
        words += f": {published:,} {verb}, {rejected:,} rejected"
        if total and elapsed > 0 and done:
            left = (total - done) / (done / elapsed)
            words += f"; {min(done / total, 1.0):.0%} of the input, about {left:,.0f}s left"
        return words

    with WorkProgress("produce", describe) as progress:
        for number, raw in enumerate(lines, start=1):
            if number > 1 and not (number - 1) % PROGRESS_EVERY:  # after every PROGRESS_EVERY lines
                progress.update(read, size)
            read += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                rejected += 1
                typer.echo(
                    f"line {number}: not UTF-8 (byte {raw[error.start]:#04x} at {error.start + 1})", err=True
                )
                continue
            if not text.strip():
                continue
            try:
                event = parse_json_event(text.rstrip("\r\n"))
                checker.check(event)
                topic, key, value = encode(event)
                checker.check_size(len(value))
                if producer is not None:
                    producer.send_raw(topic, key, value)
            except Exception as error:  # every refusal of one line is reported, and the others go on
                rejected += 1
                typer.echo(f"line {number}: {error}", err=True)
                continue
            published += 1
        progress.update(read, size)
    return published, rejected


class _EventChecker:
    """What a worker would refuse, found before publishing: `to` feeds of the app, and the
    encoded size against the topics' message limit."""

    def __init__(self, manager: Any, settings: Any) -> None:

        self.manager = manager
        self.limit = settings.message_max_bytes
        self.codec = AvroCodec()
        self.topics = TopicNames.from_settings(settings)

    def check(self, event: Any) -> None:
        if isinstance(event, ActivityEvent):
            parse_targets(self.manager, [event.activity])

    def check_size(self, size: int) -> None:
        if size > self.limit:
            raise ValueError(f"encodes to {size:,} bytes, over the topics' limit of {self.limit:,}")

    def encoded(self, event: Any) -> tuple[str, bytes, bytes]:
        """The record a dry run checks, as the producer would encode it (no registry)."""
        if isinstance(event, ActivityEvent):
            value = self.codec.encode(ACTIVITY_EVENT, event.to_record())
            return self.topics.activities, event.activity.actor_id.encode(), value
        return (
            self.topics.follows,
            event.follower.encode(),
            self.codec.encode(FOLLOW_EVENT, event.to_record()),
        )
