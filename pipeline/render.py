"""Human-readable feeds for the CLI and the demo: one line an entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.feeds.flat import BaseFeed


def describe_activity(activity: Activity) -> str:
    preposition = "to" if activity.verb.infinitive == "add" else "on"
    target = f" {preposition} {activity.target_id}" if activity.target_id else ""
    what = f"{activity.actor_id} {activity.verb.past_tense} {activity.object_id}{target}"
    return f"{activity.time:%Y-%m-%d %H:%M}  {what}"


def describe_group(group: AggregatedActivity) -> str:
    actors = group.actor_ids
    who = actors[0] if len(actors) == 1 else f"{actors[0]} and {actors[1]}"
    if group.other_actor_count:
        others = group.other_actor_count
        who = f"{actors[0]}, {actors[1]} and {others} other{'s' if others > 1 else ''}"
    objects = group.object_ids
    what = objects[0] if len(objects) == 1 else f"{len(objects)} items"
    seen = "" if group.is_seen() else "  [new]"
    verbs = "/".join(v.past_tense for v in group.verbs)
    return f"{group.updated_at:%Y-%m-%d %H:%M}  {who} {verbs} {what}{seen}"


def render_feed(feed: BaseFeed, entries: Sequence[Any]) -> str:
    lines = [f"{feed.key} ({feed.count()} entries)"]
    for entry in entries:
        if isinstance(entry, AggregatedActivity):
            lines.append("  " + describe_group(entry))
        else:
            lines.append("  " + describe_activity(entry))
    if not entries:
        lines.append("  (empty)")
    return "\n".join(lines)
