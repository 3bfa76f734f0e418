"""`streamfeed produce`: JSON lines in, Avro records out, each bad line reported by number.

Parsing and checking a line costs about ten times what sending its record does, so lines are
encoded in chunks by `--jobs` processes while this one sends the records in the input's order
(every record of a key keeps its order, as if one process had done it all)."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from typing import Annotated, Any

import typer

from streamfeed.cli.common import AppOption, JsonOption, load_app
from streamfeed.cli.errors import EXIT_UNAVAILABLE
from streamfeed.cli.line_encoding import EncodedChunk, LineEncoder
from streamfeed.cli.progress import WorkProgress, rate_words
from streamfeed.kafka.producer import DeliveryError, StreamfeedProducer
from streamfeed.settings import get_settings


def _usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's share), else all of them."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere, the machine's count
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


#: Lines a chunk holds: enough that handing it to a process costs little beside encoding it,
#: few enough that progress moves and a small input is one chunk (encoded here, no processes).
CHUNK_LINES = 2000


def produce(
    source: Annotated[
        typer.FileBinaryRead, typer.Argument(help="JSON lines file, or - for standard input.")
    ] = "-",  # type: ignore[assignment]  # Typer opens the path (or stdin) it is given
    dry_run: Annotated[bool, typer.Option(help="Check every line (and encode it); publish nothing.")] = False,
    atomic: Annotated[
        bool, typer.Option(help="All or nothing: publish only if every line passes the checks.")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(min=1, help="Processes that parse and encode lines (default: one per CPU it may use)."),
    ] = _usable_cpus(),
    app_path: AppOption = "streamfeed.default_app:manager",
    as_json: JsonOption = False,
) -> None:
    """Publish events from JSON lines (format: docs/cli.md, "Publishing events as JSON lines"; JSON Schema:
    schemas/events.schema.json). A bad line is reported with its number and skipped; every
    good line is published (with --atomic, none unless all pass). Exit status 1 if any line was
    refused."""

    load_app(app_path)  # a bad app is a usage error before any line is read
    settings = get_settings()
    size = _size_of(source)
    publishing = not dry_run
    tally = Tally("published" if publishing else "valid")
    producer = None
    with ChunkEncoding(app_path, publishing, jobs) as encoding:
        chunks = _reported(encoding.encode(source), size, tally)
        if atomic and publishing:  # check everything before connecting; publish only a clean file
            checked = list(chunks)
            if tally.rejected:
                nothing = Tally("published", 0, tally.rejected)
                _report(nothing, dry_run=False, as_json=as_json, note=": nothing published (--atomic)")
                raise typer.Exit(1)
            chunks = iter(checked)
        if publishing:
            producer = StreamfeedProducer(settings)
        for chunk in chunks:
            if producer is not None:
                for topic, key, value in chunk.records:
                    producer.send_raw(topic, key, value)
    if producer is not None:
        try:
            producer.flush()
        except DeliveryError as error:
            where = f"Kafka at {settings.kafka_bootstrap} (STREAMFEED_KAFKA_BOOTSTRAP)"
            published = tally.accepted
            typer.echo(
                f"error: {published - error.count} of {published} published; {error}; {where}", err=True
            )
            raise typer.Exit(EXIT_UNAVAILABLE) from None
    _report(tally, dry_run=dry_run, as_json=as_json)
    if tally.rejected:
        raise typer.Exit(1)


@dataclass
class Tally:
    """Lines accepted (published, or valid in a dry run) and rejected so far."""

    verb: str
    accepted: int = 0
    rejected: int = 0


def _report(tally: Tally, dry_run: bool, as_json: bool, note: str = "") -> None:
    if as_json:
        report = {"published": 0 if dry_run else tally.accepted, "valid": tally.accepted}
        typer.echo(json.dumps({**report, "rejected": tally.rejected, "dry_run": dry_run}, sort_keys=True))
    else:
        typer.echo(f"{tally.accepted} {tally.verb}, {tally.rejected} rejected{note}")


def _size_of(source: Any) -> int | None:
    """The input's size in bytes when it is a regular file (for the share done and time left)."""
    try:
        info = os.fstat(source.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size else None


def _reported(chunks: Iterable[EncodedChunk], size: int | None, tally: Tally) -> Iterator[EncodedChunk]:
    """The chunks, counted into tally as they pass, each refused line reported by number on
    standard error, and progress shown (a bar on a terminal, a line every few seconds elsewhere)."""

    read = lines = 0

    def describe(done: int, total: int | None, elapsed: float) -> str:
        words = rate_words(lines, None, elapsed, "lines")
        words += f": {tally.accepted:,} {tally.verb}, {tally.rejected:,} rejected"
        if total and elapsed > 0 and done:
            left = (total - done) / (done / elapsed)
            words += f"; {min(done / total, 1.0):.0%} of the input, about {left:,.0f}s left"
        return words

    with WorkProgress("produce", describe) as progress:
        for chunk in chunks:
            for number, reason in chunk.refusals:
                typer.echo(f"line {number}: {reason}", err=True)
            tally.accepted += len(chunk.records)
            tally.rejected += len(chunk.refusals)
            read += chunk.bytes_read
            lines += chunk.lines
            progress.update(read, size)
            yield chunk


def _numbered_chunks(lines: Iterable[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, up to CHUNK_LINES lines), in the input's order."""
    stream = iter(lines)
    first = 1
    while chunk := list(islice(stream, CHUNK_LINES)):
        yield first, chunk
        first += len(chunk)


class ChunkEncoding:
    """Chunks of lines encoded in order, here for an input of one chunk or with one job, else by
    a pool of processes, at most two chunks per process in flight (an input from a pipe is never
    read far ahead of what is sent).

    The processes are forked when the pool starts, before this process makes its Kafka producer:
    a fork copies no librdkafka thread."""

    def __init__(self, app_path: str, publishing: bool, jobs: int) -> None:
        self.app_path = app_path
        self.publishing = publishing
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ChunkEncoding:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def encode(self, lines: Iterable[bytes]) -> Iterator[EncodedChunk]:
        chunks = _numbered_chunks(lines)
        first = next(chunks, None)
        if first is None:
            return iter(())
        second = next(chunks, None)
        if second is None or self.jobs == 1:
            encoder = LineEncoder(load_app(self.app_path), get_settings(), self.publishing)
            rest = [first] if second is None else [first, second]
            return (encoder.encode(*numbered) for numbered in chain(rest, chunks))
        self.pool = ProcessPoolExecutor(
            self.jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_encoder,
            initargs=(self.app_path, self.publishing),
        )
        started = [self.pool.submit(_encode_chunk, first), self.pool.submit(_encode_chunk, second)]
        return self._in_order(deque(started), chunks)

    def _in_order(
        self, pending: deque[Future[EncodedChunk]], chunks: Iterator[Any]
    ) -> Iterator[EncodedChunk]:
        assert self.pool is not None
        for numbered in chunks:
            pending.append(self.pool.submit(_encode_chunk, numbered))
            if len(pending) >= 2 * self.jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


#: The encoder of an encoding process, made once by its initializer.
_encoder: LineEncoder | None = None


def _start_encoder(app_path: str, publishing: bool) -> None:
    global _encoder  # one per process: what the pool initializer is for
    _encoder = LineEncoder(load_app(app_path), get_settings(), publishing)


def _encode_chunk(numbered: tuple[int, list[bytes]]) -> EncodedChunk:
    assert _encoder is not None, "the pool's initializer makes it"
    return _encoder.encode(*numbered)
