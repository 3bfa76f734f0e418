"""The follows-topic step: record a follow or unfollow, plan copying or hiding history.

Owned by the follower's partition; the batches go to the follower's own
feed-ops partition, so the follower's materializer applies them in order
with every other write to the follower's feeds.
"""

from __future__ import annotations

from streamfeed.app.application import FeedApplication
from streamfeed.app.steps.partitioning import chunks
from streamfeed.domain.events import (
    ActivityOp,
    FanoutBatch,
    FanoutPriority,
    FollowEvent,
    FollowOp,
)

#: Activities per batch when a follow copies history: keeps messages well under 1 MB.
COPY_CHUNK = 500


def apply_follow(manager: FeedApplication, event: FollowEvent) -> list[FanoutBatch]:
    """Record the follow or unfollow; plan copying history in, or hiding the actor's activities.

    A copy carries removed activities too: they hold their place in the
    follower's feeds exactly as if the fanout had delivered them, so the
    feeds do not depend on whether the follow or the activity came first.
    The batches are planned even when a newer event of the pair is stored
    (a redelivery): the materializer shows or hides what they carry by the
    pair's current state, so sending them again is harmless and never lost.
    """
    follows = manager.backend.follows
    if event.op is FollowOp.UNFOLLOW:
        follows.unfollow(event.follower, event.followed, event.version)
        return [
            FanoutBatch(
                ActivityOp.REMOVE,
                [event.follower],
                [],
                (),
                FanoutPriority.HIGH,
                None,
                event.followed,
                version=event.version,
            )
        ]
    follows.follow(event.follower, event.followed, event.version)
    limit = manager.follow_activity_limit if event.activity_copy_limit is None else event.activity_copy_limit
    return copy_batches(manager, event.follower, event.followed, event.version, limit)


def copy_batches(
    manager: FeedApplication, follower: str, followed: str, version: int, limit: int
) -> list[FanoutBatch]:
    """The followed user's latest `limit` user-feed entries published before the follow (removed
    ones too), and every one published at or after it, for the follower.

    The limit counts the history the follow found, as in event order: activities published
    after the follow but applied before it (the activities topic ahead of the follows topic)
    would have reached the follower through the fanout, so they never take a copied entry's
    place.
    """
    if limit == 0:
        return []
    entries = manager.backend.timelines.entries(
        manager.user_feed_class.key_for(followed), manager.activity_class
    )
    before = [s for s in entries if s.added < version]
    after = [s for s in entries if s.added >= version]
    history = [s.activity for s in reversed([*before[-limit:], *after])]
    return [
        FanoutBatch(
            ActivityOp.ADD, [follower], list(chunk), (), FanoutPriority.HIGH, version=version, history=True
        )
        for chunk in chunks(history, COPY_CHUNK)
    ]
