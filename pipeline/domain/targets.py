"""An activity's `to` field: which extra feeds (notification feeds) of which users it names.

Checked against the feed names an application declares, not against the
application itself, so the producer, the HTTP API, the CLI and the fanout
all refuse the same entries with the same message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from streamfeed.domain.activity import Activity, parse_target
from streamfeed.domain.exceptions import ValidationError


class FeedNames(Protocol):
    """What parse_targets needs of an application: the extra feeds `to` may name, and how
    many targets one activity may name."""

    @property
    def extra_feed_classes(self) -> Mapping[str, Any]: ...

    @property
    def max_targets(self) -> int | None: ...


def targets_by_user(to: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """An activity's `to` entries grouped by the user each names, in their order: what each
    recipient's copy keeps (Activity.addressed_to)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for entry in to:
        grouped[entry.partition(":")[2]].append(entry)
    return {user_id: tuple(entries) for user_id, entries in grouped.items()}


def parse_targets(manager: FeedNames, activities: Iterable[Activity]) -> dict[str, list[str]]:
    """The activities' `to` fields as feed name -> user ids.

    `to` names only the manager's extra feeds (notification feeds): never a
    user's own feed or the feeds followers get, which only the follow graph
    fills. Anything else is bad input, named in the error.
    """
    targets: dict[str, set[str]] = defaultdict(set)
    allowed = manager.extra_feed_classes
    limit = manager.max_targets
    for activity in activities:
        if limit is not None and len(activity.to) > limit:
            raise ValidationError(
                "to",
                f"{len(activity.to)} targets",
                f"names more than {limit} (STREAMFEED_MAX_TARGETS): reach bigger audiences "
                "through follows and the fanout",
            )
        for entry in activity.to:
            name, user_id = parse_target(entry)
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ValidationError("to", entry, f"names feed {name!r}; `to` may name only: {known}")
            targets[name].add(user_id)
    return {name: sorted(users) for name, users in targets.items()}
