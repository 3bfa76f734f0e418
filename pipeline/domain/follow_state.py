"""The state of one (follower, followed) pair, and how follow events change it in any order.

Domain only: storage keeps these states, the steps read them to decide
whether a delivery is shown, hidden or not made.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unfollowed:
    """An ended follow: since the follow's version, until the unfollow's."""

    since: int
    version: int


#: A (follower, followed) pair's state: following since a version, unfollowed, or never followed.
FollowState = int | Unfollowed | None


def next_follow_state(state: FollowState, follow: bool, version: int) -> FollowState:
    """The pair's state after a follow or unfollow event: the newest event wins, whatever order.

    An unfollow wins a tie; an unfollow of a pair not followed changes
    nothing (it ends no follow, so it hides nothing); following again moves
    the follow's version forward.
    """
    if follow:
        if isinstance(state, Unfollowed) and version <= state.version:
            return state
        if isinstance(state, int):
            return max(state, version)
        return version
    if isinstance(state, int) and version >= state:
        return Unfollowed(state, version)
    return state
