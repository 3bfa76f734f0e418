"""Aggregators: which group an activity joins, and how groups are ranked.

As in Stream Framework, an aggregator is small: get_group() and rank().
FormatAggregator lets a feed be configured with a format string instead of
a subclass, the way hosted feed services let users write
"{verb}-{time:%Y-%m-%d}".
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Iterable, Sequence
from typing import Any

from streamfeed.domain.activity import Activity
from streamfeed.domain.aggregated_activity import AggregatedActivity
from streamfeed.domain.exceptions import DuplicateActivityException


def newest_first(groups: Iterable[AggregatedActivity]) -> list[AggregatedActivity]:
    """Groups by their newest activity, newest first; ties cannot happen (ids are unique)."""
    return sorted(groups, key=lambda g: g.last_activity.id, reverse=True)


class BaseAggregator:
    """Subclass and implement get_group; rank defaults to most recently updated first."""

    aggregated_activity_class: type[AggregatedActivity] = AggregatedActivity

    def __init__(self, aggregated_activity_class: type[AggregatedActivity] | None = None) -> None:
        if aggregated_activity_class is not None:
            self.aggregated_activity_class = aggregated_activity_class

    def get_group(self, activity: Activity) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement get_group")

    def rank(self, groups: Iterable[AggregatedActivity]) -> list[AggregatedActivity]:
        return newest_first(groups)

    def group_activities(self, activities: Iterable[Activity]) -> dict[str, AggregatedActivity]:
        groups: dict[str, AggregatedActivity] = {}
        for activity in sorted(activities, key=lambda a: a.id):
            key = self.get_group(activity)
            group = groups.get(key)
            if group is None:
                group = groups[key] = self.aggregated_activity_class(key)
            with contextlib.suppress(DuplicateActivityException):  # the same activity twice
                group.append(activity)
        return groups

    def aggregate(self, activities: Iterable[Activity]) -> list[AggregatedActivity]:
        """Group and rank activities from scratch."""
        return self.rank(self.group_activities(activities).values())

    def merge(
        self, existing: Sequence[AggregatedActivity], activities: Iterable[Activity]
    ) -> tuple[list[AggregatedActivity], list[tuple[AggregatedActivity, AggregatedActivity]], list[Any]]:
        """Stream Framework's merge: (new groups, [(old, changed)], deleted groups).

        New groups come ranked like aggregate() (newest first); changed
        groups keep the order of existing.
        """
        current = {g.group: g for g in existing}
        new: dict[str, AggregatedActivity] = {}
        changed: dict[str, AggregatedActivity] = {}
        for activity in sorted(activities, key=lambda a: a.id):
            key = self.get_group(activity)
            if key in current:
                group = changed.get(key)
                if group is None:
                    group = changed[key] = current[key].copy()
            else:
                group = new.get(key)
                if group is None:
                    group = new[key] = self.aggregated_activity_class(key)
            with contextlib.suppress(DuplicateActivityException):
                group.append(activity)
        pairs = [(g, changed[g.group]) for g in existing if g.group in changed and changed[g.group] != g]
        return self.rank(new.values()), pairs, []


class RecentVerbAggregator(BaseAggregator):
    """Same verb, same day: "Julie and 14 others loved pins today"."""

    def get_group(self, activity: Activity) -> str:
        return f"{activity.verb.id}-{activity.time.date()}"


class NotificationAggregator(BaseAggregator):
    """Same verb, same object, same day: "Julie and 14 others loved your pin"."""

    def get_group(self, activity: Activity) -> str:
        return f"{activity.verb.id}-{activity.object_id}-{activity.time.date()}"


class FormatAggregator(BaseAggregator):
    """Groups by a format string over the activity's fields.

    Fields: verb (infinitive), verb_id, actor, object, target, foreign_id,
    time (a datetime, so "{time:%Y-%m-%d}" works), and extra_context values
    as extra.NAME.
    """

    FIELDS = frozenset({"verb", "verb_id", "actor", "object", "target", "foreign_id", "time", "extra"})

    def __init__(
        self, group_format: str, aggregated_activity_class: type[AggregatedActivity] | None = None
    ) -> None:
        super().__init__(aggregated_activity_class)
        try:
            names = [f for _, f, _, _ in string.Formatter().parse(group_format) if f is not None]
        except ValueError as exc:
            raise ValueError(f"group format {group_format!r}: {exc}") from None
        if not names:
            raise ValueError(
                f"group format {group_format!r} uses no field; every activity would share one group"
            )
        for name in names:
            root = name.split(".")[0].split("[")[0]
            if root not in self.FIELDS:
                known = ", ".join(sorted(self.FIELDS))
                raise ValueError(f"group format {group_format!r}: unknown field {root!r} (known: {known})")
        self.group_format = group_format

    def get_group(self, activity: Activity) -> str:
        fields: dict[str, Any] = {
            "verb": activity.verb.infinitive,
            "verb_id": activity.verb.id,
            "actor": activity.actor_id,
            "object": activity.object_id,
            "target": activity.target_id,
            "foreign_id": activity.foreign_id,
            "time": activity.time,
            "extra": _Extra(activity.extra_context),
        }
        return self.group_format.format_map(fields)


class _Extra:
    """extra_context as attributes for format strings; a missing name formats as empty."""

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        value = self._context.get(name)
        return "" if value is None else value
