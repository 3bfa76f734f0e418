"""Pushed and pulled authors: which of an author's activities followers receive, and which their
flat feeds read from the author's user feed instead (hybrid push/pull).

An author's mode is a set of changes, each ``(time, pulled)``: an activity is
pulled when the latest change at or before its time (its sort key) says so,
pushed when no change precedes it. The fanout and the read apply this one
rule to the activity itself, never to the moment a switch was processed, so
every activity is either delivered or merged in at read, whatever order the
switch and the activity meet in a worker:

- An activity pushed although a switch to pull already covers it (the switch
  was processed after its fanout) sits in the followers' feeds *and* is
  merged from the author: a read takes each id once.
- An activity the fanout took as pulled, then uncovered by a later switch
  back to push, is pushed by that switch's step: it writes the change first,
  then reads the author's user feed, while the fanout writes the user feed
  first, then reads the changes. Whichever runs second sees the other.

Changes are kept as a set, so applying a switch twice, or two switches in
either order, gives the same modes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from streamfeed.domain.activity import check_user_id
from streamfeed.domain.ids import sort_key_for

#: An author's mode changes, sorted by time: ((time, pulled), ...). Empty: always pushed.
ModeChanges = tuple[tuple[int, bool], ...]


def with_change(changes: ModeChanges, time: int, pulled: bool) -> ModeChanges:
    """The changes with one more; two changes at the same time resolve to pulled (deterministic,
    and the merge at read makes an extra pulled range harmless)."""
    merged = dict(changes)
    merged[time] = merged.get(time, False) or pulled
    return tuple(sorted(merged.items()))


def pulled_at(changes: ModeChanges, sort_key: int) -> bool:
    """Whether an activity of that time is pulled."""
    if not changes:
        return False
    index = bisect.bisect_right(changes, (sort_key, True))
    return index > 0 and changes[index - 1][1]


def pulled_ranges(changes: ModeChanges) -> list[tuple[int, int | None]]:
    """The [start, end) time ranges whose activities are pulled; end None: still pulled."""
    ranges: list[tuple[int, int | None]] = []
    start: int | None = None
    for time, pulled in changes:
        if pulled and start is None:
            start = time
        elif not pulled and start is not None:
            ranges.append((start, time))
            start = None
    if start is not None:
        ranges.append((start, None))
    return ranges


def currently_pulled(changes: ModeChanges) -> bool:
    """Whether the author's newest change is to pull: what a threshold check compares against."""
    return bool(changes) and changes[-1][1]


def encode_changes(changes: ModeChanges) -> str:
    """``time:1,time:0``: how Redis and Cassandra hold an author's changes."""
    return ",".join(f"{time}:{int(pulled)}" for time, pulled in changes)


def decode_changes(text: str) -> ModeChanges:
    changes: ModeChanges = ()
    for part in filter(None, text.split(",")):
        time, _, pulled = part.partition(":")
        changes = with_change(changes, int(time), pulled == "1")
    return changes


@dataclass(frozen=True)
class AuthorModeEvent:
    """Switch an author to pull (or back to push) for activities from `time` on.

    Travels on the follows topic keyed by the author, so the author's
    partition applies it; published by `Manager.pull_author` /
    `push_author`, the CLI, or a worker's fanout when the author's follower
    count crosses the manager's threshold.
    """

    author: str
    pulled: bool
    time: int

    def to_record(self) -> dict[Any, Any]:
        return {"author": self.author, "pulled": self.pulled, "time": self.time}

    @classmethod
    def from_record(cls, record: dict[Any, Any]) -> AuthorModeEvent:

        time = record["time"]
        if not isinstance(time, int):  # the Avro timestamp-micros logical type decodes to datetime
            time = sort_key_for(time)
        return cls(check_user_id("author", record["author"]), bool(record["pulled"]), time)
