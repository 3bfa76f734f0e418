"""An activity's current state: the newest version of it, live or removed.

Every ADD, UPDATE and REMOVE of an activity carries a version (by default the
time it was published, in microseconds). Storage keeps, per activity, only
the state with the highest version, whatever order the states arrive in: a
late ADD cannot bring back an old body after an UPDATE, nor a removed
activity after its REMOVE. Feeds refer to activities by id and show an
activity only while its state is live, which is why a removal reaches every
feed at once, in any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from streamfeed.domain.activity import Activity
from streamfeed.domain.ids import sort_key_for


def version_of(when: datetime) -> int:
    """A version from a time: microseconds since the epoch, the unit of every version."""
    return sort_key_for(when)


@dataclass(frozen=True, slots=True)
class ActivityState:
    """The newest known state of one activity.

    added is the version of the ADD that made the activity live (updates keep
    it): it stamps when the activity reached a feed, which is what seen and
    read are judged against, deterministically under replay.
    """

    activity: Activity
    version: int
    added: int
    removed: bool = False

    @property
    def id(self) -> str:
        return self.activity.id

    def newer_than(self, other: ActivityState | None) -> bool:
        """Whether this state replaces other; equal versions keep what is stored (idempotent)."""
        return other is None or self.version > other.version


def newest(states: dict[str, ActivityState], state: ActivityState) -> None:
    """Fold state into states by id, keeping the newest version."""
    if state.newer_than(states.get(state.id)):
        states[state.id] = state
