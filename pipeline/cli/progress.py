"""Progress of long work: a bar on a terminal, a line every few seconds anywhere else.

A Kubernetes Job's log or `| tee` is not a terminal: a bar there draws once,
at the end, and a long `produce` or `rebuild` says nothing until it is over.
There, the same figures go out as plain lines on standard error at an
interval, so a log shows the work moving (and stopping).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

#: Seconds between progress lines when the output is not a terminal.
LOG_INTERVAL = 5.0


class WorkProgress:
    """`update(done, total)` as often as convenient; drawn or logged at its own pace.

    describe(done, total, elapsed) turns the figures into the words after the
    task's name (rates, counts, what is left): the same on a bar and in a line.
    """

    def __init__(
        self,
        task: str,
        describe: Callable[[int, int | None, float], str],
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.task = task
        self.describe = describe
        self.stream = stream or sys.stderr
        self.interval = LOG_INTERVAL if interval is None else interval
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.total: int | None = None
        self._next_line = self.started + self.interval
        self._bar: Progress | None = None
        self._bar_task = None
        if self.stream.isatty():
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[words]}"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )
            self._bar_task = self._bar.add_task(task, total=None, words="")

    def __enter__(self) -> WorkProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._draw()
            self._bar.stop()

    def update(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, total if total is not None else self.total
        now = self.clock()
        if self._bar is not None:
            self._draw()
        elif now >= self._next_line:
            self._next_line = now + self.interval
            self.stream.write(f"{self.task}: {self.describe(done, self.total, now - self.started)}\n")
            self.stream.flush()

    def _draw(self) -> None:
        assert self._bar is not None and self._bar_task is not None
        words = self.describe(self.done, self.total, self.clock() - self.started)
        self._bar.update(self._bar_task, completed=self.done, total=self.total, words=words)


def rate_words(done: int, total: int | None, elapsed: float, unit: str) -> str:
    """'120,000 lines (29,268/s), 61%, about 3s left' (the share and time left when total is known)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    words = f"{done:,} {unit} ({rate:,.0f}/s)"
    if total:
        share = min(done / total, 1.0)
        words += f", {share:.0%}"
        if rate > 0 and done < total:
            words += f", about {(total - done) / rate:,.0f}s left"
    return words
