"""Rebuilding one user's feeds from the topics, through the user's own materializer.

The batches are ordinary feed-ops messages, so the single writer of the
user's feeds applies them: a rebuild never races the live pipeline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from streamfeed.app.application import FeedApplication
from streamfeed.app.steps.follows import COPY_CHUNK, copy_batches
from streamfeed.app.steps.partitioning import chunks
from streamfeed.domain.activity import Activity
from streamfeed.domain.events import (
    ActivityOp,
    FanoutBatch,
)
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.targets import parse_targets


def plan_user_rebuild(
    manager: FeedApplication, user_id: str, activities: Iterable[Activity], copies: bool = True
) -> list[FanoutBatch]:
    """Batches that rebuild one user's feeds through the user's own materializer (single writer).

    activities: every activity by the user or naming the user in `to`, as
    found in the activities topic; their current states are what the
    materializer writes. With copies, follower feeds are copied from the
    followed users' user feeds at each follow's version in the stored graph,
    exactly as the follow did (without: the follow events are sent again and
    copy as they go).
    """
    own: list[Activity] = []
    targeted: dict[str, list[Activity]] = defaultdict(list)
    seen: set[str] = set()
    for activity in activities:
        if activity.id in seen:
            continue
        seen.add(activity.id)
        if activity.actor_id == user_id:
            own.append(activity)
        try:
            named = parse_targets(manager, [activity])
        except ValidationError:  # the fanout refused it (a dead letter): no feed holds it
            continue
        for name, target in named.items():
            if user_id in target:
                targeted[name].append(activity)
    batches = [
        FanoutBatch(ActivityOp.ADD, [user_id], list(chunk), (manager.user_feed_class.name,))
        for chunk in chunks(own, COPY_CHUNK)
    ]
    for name, items in sorted(targeted.items()):
        batches += [
            FanoutBatch(ActivityOp.ADD, [user_id], list(chunk), (name,))
            for chunk in chunks(items, COPY_CHUNK)
        ]
    follows = manager.backend.follows
    for followed in follows.following(user_id) if copies else ():
        version = follows.follow_versions([user_id], followed).get(user_id)
        if version is not None:
            batches += copy_batches(manager, user_id, followed, version, manager.follow_activity_limit)
    return batches
