"""WorkProgress: off a terminal (a Job's log, `| tee`), a line every interval while work goes on."""

from __future__ import annotations

import io

from streamfeed.cli.progress import WorkProgress, rate_words


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_line_goes_out_once_per_interval_with_the_figures():
    stream, clock = io.StringIO(), Clock()
    words = lambda done, total, elapsed: rate_words(done, total, elapsed, "lines")  # noqa: E731
    with WorkProgress("produce", words, stream=stream, interval=5.0, clock=clock) as progress:
        for second in range(1, 13):
            clock.now += 1.0
            progress.update(second * 1000, 12_000)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "produce: 5,000 lines (1,000/s), 42%, about 7s left",
        "produce: 10,000 lines (1,000/s), 83%, about 2s left",
    ]


def test_without_a_total_there_is_no_share_and_no_time_left():
    assert rate_words(3000, None, 2.0, "events") == "3,000 events (1,500/s)"
    assert rate_words(0, None, 0.0, "events") == "0 events (0/s)"
    assert rate_words(10, 10, 1.0, "events") == "10 events (10/s), 100%"


def test_produce_reports_lines_counts_and_the_share_of_the_input_as_it_goes(monkeypatch, capsys):
    from streamfeed.cli import produce
    from streamfeed.cli.common import load_app
    from streamfeed.cli.line_encoding import LineEncoder
    from streamfeed.settings import get_settings

    monkeypatch.setattr("streamfeed.cli.progress.LOG_INTERVAL", 0.0)
    lines = [b'{"type": "follow", "follower": "u%d", "followed": "u%d"}\n' % (n, n + 1) for n in range(4000)]
    lines[10] = b'{"type": "follow"}\n'
    encoder = LineEncoder(load_app("streamfeed.default_app:manager"), get_settings(), publishing=False)
    chunks = (encoder.encode(*numbered) for numbered in produce._numbered_chunks(lines))
    tally = produce.Tally("valid")
    assert sum(len(chunk.records) for chunk in produce._reported(chunks, sum(map(len, lines)), tally)) == 3999
    assert (tally.accepted, tally.rejected) == (3999, 1)
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("produce: ")]
    assert progress[0].startswith("produce: 2,000 lines (")
    assert ": 1,999 valid, 1 rejected; 50% of the input, about " in progress[0]
    assert progress[-1].startswith("produce: 4,000 lines (")
    assert ": 3,999 valid, 1 rejected; 100% of the input" in progress[-1]
