"""The reactions step: fold reaction events into their activities' reaction states, and tell the
feeds a reaction names (`target_feeds`) with a notification activity.

Owned by the activity's partition (reactions are keyed by activity id), so one writer applies
an activity's reactions; the fold is order-free (streamfeed.domain.reactions), and storage writes
an activity's counted entries and states together (streamfeed.storage.reactions).

A reaction naming target feeds (at most 20, 'notification:ann') sends them an activity of its
own: the reacting user as actor, the app's verb for the kind (FeedApplication.reaction_verbs),
`reaction:<id>` as object and `activity:<id>` as target, dated at the reaction, with the ids in
extra_context. Its id derives from the reaction's identity, and this step (the one writer of the
reaction) is the one writer of its state: it is stored live while the reaction is, removed once
the reaction is (and replaced if a later add of the same reaction id changed who or when), and
delivered to the targets through feed-ops like any `to` target. Every batch sends the current
notification of each reaction it touched, changed or not, so a worker that died between
storing and sending sends it again on redelivery (the materializers are idempotent).

Realtime clients learn of count changes on activities of the authors they follow (and on their
own): a `reactions` event with the activity's counts now.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamfeed.app.application import FeedApplication
from streamfeed.app.steps.fanout import plan_batches
from streamfeed.domain.activity import Activity
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.events import ActivityOp, FanoutBatch, FanoutPriority
from streamfeed.domain.reactions import ReactionEvent, ReactionState
from streamfeed.domain.targets import parse_targets
from streamfeed.storage.base import ReactionCountsChanged
from streamfeed.storage.reactions import ReactionChange


def apply_reactions(manager: FeedApplication, events: Sequence[ReactionEvent]) -> list[ReactionChange]:
    """Apply the events; the changes they made (none for a redelivery)."""
    return manager.backend.reactions.apply(events)


def notification_of(manager: FeedApplication, state: ReactionState) -> Activity | None:
    """The activity a reaction sends its target feeds, if it names any (live or not)."""
    identity = state.identity
    if identity is None or not identity.target_feeds:
        return None
    context = {
        "reaction_id": state.reaction_id,
        "reaction_kind": identity.kind,
        "activity_id": identity.activity_id,
    }
    if identity.parent_id is not None:
        context["parent_id"] = identity.parent_id
    return manager.activity_class(
        identity.user_id,
        manager.reaction_verbs.get(identity.kind, manager.reaction_verb),
        f"reaction:{state.reaction_id}",
        f"activity:{identity.activity_id}",
        identity.time,
        context,
        to=list(identity.target_feeds),
    )


def react_and_notify(
    manager: FeedApplication, events: Sequence[ReactionEvent], partitions: int
) -> list[FanoutBatch]:
    """apply_reactions, then the notification states stored and their deliveries planned."""
    changes, current = manager.backend.reactions.apply_with_states(events)
    _announce_counts(manager, changes)
    states: dict[str, ActivityState] = {}
    for reaction in current.values():
        notification = notification_of(manager, reaction)
        if notification is not None:
            states[notification.id] = _notification_state(reaction, notification)
    for _, old, new in changes:  # an add again under another identity: its old notification goes
        before = notification_of(manager, old) if old is not None and old.live else None
        after = notification_of(manager, new) if new.live else None
        if before is not None and (after is None or after.id != before.id) and before.id not in states:
            version = old.identity_version if old is not None else 0
            states[before.id] = ActivityState(before, version + 1, version, True)
    if not states:
        return []
    manager.backend.activities.apply(list(states.values()))
    stored = manager.backend.activities.get_states(sorted(states), manager.activity_class)
    batches: list[FanoutBatch] = []
    for notification_id in sorted(stored):
        sent = stored[notification_id]
        # Always an ADD, removed or not: a removed notification keeps its place in the target
        # feeds (as a removed activity does), whether the removal came before the add or after.
        for feed_name, user_ids in sorted(parse_targets(manager, [sent.activity]).items()):
            lane, at = FanoutPriority.HIGH, sent.activity.time
            batches += plan_batches(
                manager, ActivityOp.ADD, sent, user_ids, (feed_name,), lane, partitions, at
            )
    return batches


def _notification_state(reaction: ReactionState, notification: Activity) -> ActivityState:
    """Live from the reaction's add; removed (a version above it) once the reaction is."""
    version = reaction.identity_version
    if reaction.live:
        return ActivityState(notification, version, version)
    return ActivityState(notification, version + 1, version, True)


def _announce_counts(manager: FeedApplication, changes: Sequence[ReactionChange]) -> None:
    """Realtime `reactions` events: an activity's counts, when a reaction on it came or went, to
    the users with a realtime client (few, whatever the audience) who follow its actor, and to
    the actor. Nothing is read unless someone listens."""
    counted = sorted({aid for aid, old, new in changes if _counts_on(old) != _counts_on(new)})
    backend = manager.backend
    listening = backend.publisher.listeners() if counted else []
    if not listening:
        return
    states = backend.activities.get_states(counted, manager.activity_class)
    counts = dict(zip(counted, backend.reactions.counts([(i, i) for i in counted]), strict=True))
    listeners = set(listening)
    events = []
    for activity_id in counted:
        state = states.get(activity_id)
        if state is None or state.removed:
            continue
        actor = state.activity.actor_id
        told = set(backend.follows.follow_versions(listening, actor)) | ({actor} & listeners)
        events += [ReactionCountsChanged(user, activity_id, counts[activity_id]) for user in sorted(told)]
    backend.publisher.publish_entries(events)


def _counts_on(state: ReactionState | None) -> str | None:
    """The kind a reaction adds to its activity's own counts, None if it adds nothing there."""
    if state is None or not state.live or state.identity is None or state.identity.parent_id is not None:
        return None
    return state.identity.kind
