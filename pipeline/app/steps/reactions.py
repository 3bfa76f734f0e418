"""The reactions step: fold reaction events into their activities' reaction states.

Owned by the activity's partition (reactions are keyed by activity id), so one writer applies
an activity's reactions; the fold is order-free (streamfeed.domain.reactions), and storage writes
an activity's counted entries and states together (streamfeed.storage.reactions).
"""

from __future__ import annotations

from collections.abc import Sequence

from streamfeed.app.application import FeedApplication
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.storage.reactions import ReactionChange


def apply_reactions(manager: FeedApplication, events: Sequence[ReactionEvent]) -> list[ReactionChange]:
    """Apply the events; the changes they made (none for a redelivery)."""
    return manager.backend.reactions.apply(events)
