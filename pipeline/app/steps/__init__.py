"""The pipeline's steps as plain functions over a feed application and its storage.

Faust agents call these (streamfeed.consumers) and so does inline mode
(streamfeed.app.inline.InlineDriver): one logic, two drivers. Each step is
idempotent: running it twice on the same input leaves storage as running it
once, which is what lets the pipeline retry and replay freely.

- fanout (fanout_many): the activities-topic step, owned by the actor's partition.
- follows (apply_follow): the follows-topic step, owned by the follower's partition.
- modes (apply_author_mode): an author's switch between push and pull.
- materialize (materialize_many): the feed-ops step, owned by the recipients'
  partition: the only writer of followers' feeds.
- reactions (apply_reactions): likes, comments and replies, owned by the activity's partition.
"""

from streamfeed.app.steps.fanout import (
    FanoutRest,
    expand_rests,
    fanout_activity,
    fanout_many,
    fanout_rest,
    next_state,
)
from streamfeed.app.steps.follows import COPY_CHUNK, apply_follow, copy_batches
from streamfeed.app.steps.materialize import materialize, materialize_many
from streamfeed.app.steps.modes import apply_author_mode
from streamfeed.app.steps.partitioning import by_partition, chunks, partition_for
from streamfeed.app.steps.reactions import apply_reactions, react_and_notify
from streamfeed.app.steps.rebuild import plan_user_rebuild

__all__ = [
    "COPY_CHUNK",
    "FanoutRest",
    "apply_author_mode",
    "apply_follow",
    "apply_reactions",
    "by_partition",
    "chunks",
    "copy_batches",
    "expand_rests",
    "fanout_activity",
    "fanout_many",
    "fanout_rest",
    "materialize",
    "materialize_many",
    "next_state",
    "partition_for",
    "plan_user_rebuild",
    "react_and_notify",
]
