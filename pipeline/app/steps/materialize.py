"""The feed-ops step: write batches into recipients' feeds; the only writer of those feeds.

Every write sets an entry to the activity's current state, read from
activity storage for the whole run, so deliveries, updates and removals
commute whatever lane or topic brought them: replays and redeliveries
change nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import cast

from streamfeed.app.application import FeedApplication
from streamfeed.domain.activity_state import ActivityState
from streamfeed.domain.aggregation import Delivery
from streamfeed.domain.author_modes import (
    ModeChanges,
    pulled_at,
)
from streamfeed.domain.events import (
    ActivityOp,
    FanoutBatch,
)
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.follow_state import FollowState, Unfollowed
from streamfeed.feeds.aggregated import AggregatedFeed
from streamfeed.feeds.flat import BaseFeed, Feed
from streamfeed.storage.base import NewEntries


def materialize(manager: FeedApplication, batch: FanoutBatch) -> None:
    """Write one batch into every recipient's feeds."""
    materialize_many(manager, [batch])


def materialize_many(manager: FeedApplication, batches: Sequence[FanoutBatch]) -> None:
    """Materialize a run of batches from one feed-ops partition: the only writer of its users' feeds.

    Every write sets an entry to the activity's *current* state, read once
    for the whole run from activity storage, so deliveries, updates and
    removals commute, whatever lane or topic they came by. Deliveries to a
    user's follower feeds count only while the user follows the actor in the
    pipeline's own graph (an unfollow wins over late deliveries); they are
    stamped max(activity added, follow made), the moment the activity
    reached the feed whichever path brought it. Flat-feed adds of the run
    go to storage together; aggregated feeds are read-merge-write per user.
    """
    backend = manager.backend
    ids = sorted({a.id for b in batches for a in b.activities})
    states = backend.activities.get_states(ids, manager.activity_class) if ids else {}
    relations = _follow_states(manager, batches)
    pulling = set(manager.pulling_feed_names())
    modes = backend.follows.author_modes() if pulling and relations else {}
    flat: dict[tuple[type[Feed], bool], list[tuple[list[str], list[ActivityState]]]] = defaultdict(list)
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Delivery]]]] = defaultdict(list)

    # New entries to tell realtime listeners of: (feed class, users, activity ids), turned into
    # events only for the users listening (usually few of a fanout's recipients).
    fresh: list[tuple[type[BaseFeed], list[str], tuple[str, ...]]] = []

    def flush() -> None:
        for (feed_class, hidden), items in flat.items():
            keys = [(feed_class.keys_for(users), sts) for users, sts in _coalesced(items)]
            backend.timelines.add_batches(keys, feed_class.max_length, hidden, feed_class.trim_slack)
        flat.clear()
        if per_user:
            for aggregated_class, work in _aggregated_rounds(per_user):
                aggregated_class.deliver_to_many(backend, work)
            per_user.clear()
        if fresh:  # after the writes: a listener told of an entry finds it when it reads
            listening = backend.publisher.listening(list(set().union(*(users for _, users, _ in fresh))))
            if listening:
                backend.publisher.publish_entries(
                    [
                        NewEntries(u, feed_class.key_for(u), feed_class.name, shown)
                        for feed_class, users, shown in fresh
                        for u in sorted(listening.intersection(users))
                    ]
                )
            fresh.clear()

    def pulls_into(feed_class: type[Feed], batch: FanoutBatch) -> bool:
        """Whether the batch's pulled activities skip this feed (merged in at read instead): a
        follower delivery, not a follow's copy of history, to a feed class that pulls."""
        return bool(modes) and not batch.feeds and not batch.history and feed_class.name in pulling

    def queue_flat(feed_class: type[Feed], users: list[str], adds: list[ActivityState], hidden: bool) -> None:
        flat[feed_class, hidden].append((users, adds))
        if feed_class.realtime and not hidden:
            fresh.append((feed_class, users, tuple(state.id for state in adds)))

    for batch in batches:
        # Checked before anything can skip the batch (no recipients, no stored activity): a
        # record naming a feed the app lacks is bad input, a dead letter, never a silent no-op.
        manager.feeds_named([batch.mark.feed] if batch.mark is not None else batch.feeds)
        if batch.mark is not None or batch.remove_actor is not None or batch.op is not ActivityOp.ADD:
            flush()
            _write_other(manager, batch, states)
            continue
        batch_states = [states[a.id] for a in batch.activities if a.id in states]
        if not batch_states:
            continue
        if len(batch_states) == 1 and not batch.feeds:  # a fanout's batch: one activity, followers
            state = batch_states[0]
            followers = relations.get(state.activity.actor_id, {})
            shown, hidden = _followers_entitled(batch.recipients, state, followers)
            entitled = None
            for feed_class in manager.feeds_named(batch.feeds):
                if issubclass(feed_class, AggregatedFeed):
                    entitled = entitled or _stamped(shown, hidden, state, followers)
                    _deliver_aggregated(feed_class, entitled, per_user, fresh)
                elif issubclass(feed_class, Feed):
                    if pulls_into(feed_class, batch) and _pulled(modes, state):
                        if shown and feed_class.realtime:  # merged in at read: not written, but new
                            fresh.append((feed_class, shown, (state.id,)))
                        continue
                    for users, is_hidden in ((shown, False), (hidden, True)):
                        if users:
                            queue_flat(feed_class, users, [state], is_hidden)
                else:
                    raise TypeError(f"{feed_class.__name__} is neither a flat nor an aggregated feed")
            continue
        entitled = list(_recipients(batch, batch_states, relations))
        for feed_class in manager.feeds_named(batch.feeds):
            if issubclass(feed_class, AggregatedFeed):
                _deliver_aggregated(feed_class, entitled, per_user, fresh)
            elif issubclass(feed_class, Feed):
                same: dict[tuple[tuple[str, ...], bool], list[str]] = defaultdict(list)
                receiving = entitled
                if pulls_into(feed_class, batch):
                    # Pulled authors' activities are merged in at read: not written here.
                    receiving = [
                        (user_id, kept)
                        for user_id, deliveries in entitled
                        if (kept := [d for d in deliveries if not _pulled(modes, d.state)])
                    ]
                for user_id, deliveries in receiving:
                    for is_hidden in (False, True):
                        ids_key = tuple(d.state.id for d in deliveries if d.hidden is is_hidden)
                        if ids_key:
                            same[ids_key, is_hidden].append(user_id)
                for (ids_key, is_hidden), users in same.items():
                    queue_flat(feed_class, users, [states[i] for i in ids_key], is_hidden)
            else:
                raise TypeError(f"{feed_class.__name__} is neither a flat nor an aggregated feed")
    flush()


def _coalesced(
    items: list[tuple[list[str], list[ActivityState]]],
) -> list[tuple[tuple[str, ...], list[ActivityState]]]:
    """Adds to the same users merged into one: (users, states) per distinct user list.

    An author's activities in one run reach the same followers in the same
    pages, so a burst (or a backlog caught up after a stop) becomes one
    write per feed with every activity instead of one per activity. Adding
    current states commutes, and trimming to max_length once after adding
    them all keeps what trimming after each add would keep.
    """
    merged: dict[tuple[str, ...], dict[str, ActivityState]] = {}
    for users, states in items:
        into = merged.setdefault(tuple(users), {})
        for state in states:
            into[state.id] = state
    return [(users, list(states.values())) for users, states in merged.items()]


def _deliver_aggregated(
    feed_class: type[AggregatedFeed],
    entitled: list[tuple[str, list[Delivery]]],
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Delivery]]]],
    fresh: list[tuple[type[BaseFeed], list[str], tuple[str, ...]]],
) -> None:
    """Queue each user's deliveries to an aggregated feed (read-merge-written per user at flush)."""
    for user_id, deliveries in entitled:
        per_user[user_id].append((feed_class, deliveries))
        if feed_class.realtime:
            shown = tuple(d.state.id for d in deliveries if not d.hidden)
            if shown:
                fresh.append((feed_class, [user_id], shown))


def _followers_entitled(
    recipients: Sequence[str], state: ActivityState, relations: dict[str, FollowState]
) -> tuple[list[str], list[str]]:
    """_recipients for one activity, without a Delivery per user: (shown, hidden) recipients.

    The fanout's batches carry one activity to up to a thousand followers,
    and flat feeds need only who is shown and who holds it hidden.
    """
    if not relations:
        return [], []
    shown = [user_id for user_id in recipients if type(relations.get(user_id)) is int]
    if len(shown) == len(recipients):
        return shown, []
    added = state.added
    hidden = [
        user_id
        for user_id in recipients
        if type(relation := relations.get(user_id)) is Unfollowed and added < relation.version
    ]
    return shown, hidden


def _stamped(
    shown: list[str], hidden: list[str], state: ActivityState, relations: dict[str, FollowState]
) -> list[tuple[str, list[Delivery]]]:
    """The Delivery of each entitled recipient, stamped as _recipients stamps them."""
    added = state.added
    stamped = [(user_id, [Delivery(state, max(added, cast(int, relations[user_id])))]) for user_id in shown]
    for user_id in hidden:
        relation = cast(Unfollowed, relations[user_id])
        stamped.append((user_id, [Delivery(state, max(added, relation.since), hidden=True)]))
    return stamped


def _pulled(modes: dict[str, ModeChanges], state: ActivityState) -> bool:
    changes = modes.get(state.activity.actor_id)
    return changes is not None and pulled_at(changes, state.activity.sort_key)


def _recipients(
    batch: FanoutBatch, states: list[ActivityState], relations: dict[str, dict[str, FollowState]]
) -> Iterator[tuple[str, list[Delivery]]]:
    """Each recipient still entitled to the batch, with its deliveries stamped.

    Following the actor: shown, stamped max(added, follow). Unfollowed after
    the activity was published: hidden, stamped as the ended follow would
    have. Otherwise (never followed, or unfollowed before): not delivered.
    """
    for user_id in batch.recipients:
        deliveries = []
        for state in states:
            if batch.feeds:  # a `to` target: no follow needed
                deliveries.append(Delivery(state, state.added))
                continue
            relation = relations.get(state.activity.actor_id, {}).get(user_id)
            if isinstance(relation, int):
                deliveries.append(Delivery(state, max(state.added, relation)))
            elif isinstance(relation, Unfollowed) and state.added < relation.version:
                deliveries.append(Delivery(state, max(state.added, relation.since), hidden=True))
        if deliveries:
            yield user_id, deliveries


def _follow_states(
    manager: FeedApplication, batches: Sequence[FanoutBatch]
) -> dict[str, dict[str, FollowState]]:
    """actor -> follower -> the pair's state, for every follower delivery of the run: two storage
    calls for the whole run (follows, then unfollows of the rest), whatever the actors."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for batch in batches:
        if batch.op is ActivityOp.ADD and not batch.feeds and batch.mark is None:
            for activity in batch.activities:
                wanted[activity.actor_id].update(batch.recipients)
    follows = manager.backend.follows
    actors = list(wanted)
    versions = follows.follow_versions_many([(list(wanted[a]), a) for a in actors])
    found = cast(dict[str, dict[str, FollowState]], dict(zip(actors, versions, strict=True)))  # fresh dicts
    rests = [(list(wanted[a].difference(found[a])), a) for a in actors]
    for actor, ended in zip(actors, follows.unfollows_many(rests), strict=True):
        found[actor].update(ended)
    return found


def _write_other(manager: FeedApplication, batch: FanoutBatch, states: dict[str, ActivityState]) -> None:
    """Marks, unfollows, updates and removals: in order, after the adds before them."""
    backend = manager.backend
    if batch.mark is not None:
        for user_id in batch.recipients:
            feed = manager.feeds_named([batch.mark.feed])[0](user_id, backend)
            if not isinstance(feed, AggregatedFeed) or not hasattr(feed, "apply_mark"):
                raise ValidationError("mark", batch.mark.feed, "names a feed without seen/read marks")
            feed.apply_mark(batch.mark)
        return
    feed_classes = manager.feeds_named(batch.feeds)
    if batch.remove_actor is not None:
        # Followed again since: that follow's copy (behind this batch on the same
        # partition) brings the actor's activities back, so taking them out now
        # would only lose those delivered in between.
        # Unfollowed again since (a redelivery, or a lagging feed-ops lane): hide by the newest
        # unfollow, or entries delivered under the follow in between would be taken out.
        again = backend.follows.follow_versions(batch.recipients, batch.remove_actor)
        ended = backend.follows.unfollows(batch.recipients, batch.remove_actor)
        for feed_class in feed_classes:
            for user_id in batch.recipients:
                if again.get(user_id, -1) <= batch.version:
                    latest = ended.get(user_id)
                    before = max(batch.version, latest.version) if latest else batch.version
                    feed_class(user_id, backend).hide_actor(batch.remove_actor, before)
        return
    current = [states[a.id] for a in batch.activities if a.id in states]
    if not current:
        return
    for feed_class in feed_classes:
        if issubclass(feed_class, AggregatedFeed):
            for user_id in batch.recipients:
                feed_class(user_id, backend).refresh(current)
        elif issubclass(feed_class, Feed):
            feed_class.refresh_in_many_users(batch.recipients, current, backend)


def _aggregated_rounds(
    per_user: dict[str, list[tuple[type[AggregatedFeed], list[Delivery]]]],
) -> list[tuple[type[AggregatedFeed], list[tuple[str, list[Delivery]]]]]:
    """Aggregated deliveries regrouped for batched writes: one call per feed class and round,
    where round k holds every user's k-th delivery to that class, so each user's deliveries
    still apply in the order they came."""
    rounds: dict[tuple[int, type[AggregatedFeed]], list[tuple[str, list[Delivery]]]] = defaultdict(list)
    for user_id, work in per_user.items():
        seen: dict[type[AggregatedFeed], int] = defaultdict(int)
        for feed_class, deliveries in work:
            rounds[seen[feed_class], feed_class].append((user_id, deliveries))
            seen[feed_class] += 1
    return [(feed_class, items) for (_, feed_class), items in sorted(rounds.items(), key=lambda r: r[0][0])]
