"""An author's switch between push and pull (hybrid feeds), as a step.

Recorded in the follow graph's storage; a switch back to push delivers the
activities it uncovers like a fanout, read after the modes are written so
no activity falls between the two (see domain.author_modes).
"""

from __future__ import annotations

from datetime import datetime

from streamfeed.app.application import FeedApplication
from streamfeed.app.steps.fanout import FanoutRest, first_follower_pages, plan_batches
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.author_modes import (
    AuthorModeEvent,
    pulled_at,
    with_change,
)
from streamfeed.domain.events import (
    ActivityOp,
    FanoutBatch,
    FanoutPriority,
)
from streamfeed.feeds.hybrid import forget_author_modes


def apply_author_mode(
    manager: FeedApplication, event: AuthorModeEvent, partitions: int
) -> list[FanoutBatch | FanoutRest]:
    """Record an author's switch; a switch back to push also delivers what it uncovers.

    Activities the fanout already took as pulled but that the switch makes
    pushed (their time is at or after the switch) are in the author's user
    feed: they are sent to the followers now, like a fanout (read after the
    modes are written; see streamfeed.domain.author_modes). Planned again from
    storage on a redelivery, so a run that died after storing still sends.
    """
    backend = manager.backend
    stored = backend.follows.author_modes().get(event.author, ())
    changes = with_change(stored, event.time, event.pulled)
    if changes != stored:
        backend.follows.store_author_modes(event.author, changes)
        forget_author_modes(backend.follows)
    if event.pulled:
        return []
    before = tuple(change for change in changes if change != (event.time, False))
    entries = backend.timelines.entries(manager.user_feed_class.key_for(event.author), manager.activity_class)
    uncovered = [
        s
        for s in entries
        if s.activity.sort_key >= event.time
        and pulled_at(before, s.activity.sort_key)
        and not pulled_at(changes, s.activity.sort_key)
    ]
    if not uncovered:
        return []
    # Former followers (few) at once; followers a page at a time, as a fanout reads them.
    batches: list[FanoutBatch | FanoutRest] = []
    for state in uncovered:
        ended = backend.follows.former_followers(event.author, state.added)
        batches += plan_batches(
            manager, ActivityOp.ADD, state, ended, (), FanoutPriority.LOW, partitions, None
        )
    deliveries: list[tuple[ActivityOp, ActivityState, FanoutPriority | None, datetime | None]] = [
        (ActivityOp.ADD, state, FanoutPriority.LOW, None) for state in uncovered
    ]
    [(page, cursor)] = first_follower_pages(manager, [event.author])
    for state in uncovered:
        batches += plan_batches(
            manager, ActivityOp.ADD, state, page, (), FanoutPriority.LOW, partitions, None
        )
    if cursor is not None:
        batches.append(FanoutRest(event.author, cursor, deliveries))
    return batches
