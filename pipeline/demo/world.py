"""A small Pinterest-like world, generated deterministically from a seed.

Users follow each other with a skewed distribution (a few have many
followers), pin to boards, love and comment on others' pins (notifying the
pin's owner through `to`), and near the end some unfollow and some pins are
removed. The same seed gives the same events, so the demo and the tests can
run one world through inline mode and through Kafka and compare.

Events come in phases. Within a phase the pipeline may interleave users'
events differently than inline mode (that is what partitions do); across
phases the runner waits for the pipeline to drain, so both see the same
order where it matters: a follow before the activities it should deliver.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from streamfeed.domain.activity import Activity
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent, ActivityOp, FollowEvent, FollowOp
from streamfeed.domain.ids import sort_key_for
from streamfeed.domain.reactions import (
    ReactionEvent,
    add_event,
    reaction_identity,
    remove_event,
    update_event,
)

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
Event = ActivityEvent | FollowEvent | AuthorModeEvent | ReactionEvent


@dataclass
class World:
    users: list[str]
    phases: list[list[Event]] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [e for phase in self.phases for e in phase]

    def count(self, kind: type) -> int:
        return sum(isinstance(e, kind) for e in self.events)


def _follow(op: FollowOp, follower: str, followed: str, time: datetime) -> FollowEvent:
    return FollowEvent(op, follower, followed, time)


def generate_world(users: int = 30, events: int = 300, seed: int = 7, reactions: int = 0) -> World:
    """A world of about `events` events among `users` users; with `reactions`, that many
    reaction events besides (likes and comments on pins, likes of comments, edits, and removals
    near the end), drawn from a random stream of their own: the rest of the world is the same
    with or without them."""
    rng = random.Random(seed)
    names = [f"user{n:03d}" for n in range(users)]
    # Zipf-like popularity: user000 is followed by many, the tail by few.
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(users)]
    clock = [START]

    def tick(max_minutes: int = 90) -> datetime:
        clock[0] += timedelta(minutes=rng.randint(1, max_minutes), seconds=rng.randint(0, 59))
        return clock[0]

    follow_budget = max(users, events // 4)
    pairs: set[tuple[str, str]] = set()
    follows: list[Event] = []
    while len(follows) < follow_budget and len(pairs) < users * (users - 1):
        follower = rng.choice(names)
        followed = rng.choices(names, weights)[0]
        if follower != followed and (follower, followed) not in pairs:
            pairs.add((follower, followed))
            follows.append(_follow(FollowOp.FOLLOW, follower, followed, tick(5)))

    activities: list[ActivityEvent] = []
    pins: list[Activity] = []
    remaining = max(events - len(follows), 10)
    adds = int(remaining * 0.85)
    while len(activities) < adds:
        actor = rng.choices(names, weights)[0] if rng.random() < 0.5 else rng.choice(names)
        time = tick(60)
        if pins and rng.random() < 0.55:
            pin = rng.choice(pins)
            verb = "love" if rng.random() < 0.7 else "comment"
            if pin.actor_id == actor:
                continue
            activity = Activity(
                actor,
                verb,
                pin.object_id,
                pin.target_id,
                time,
                {"pin_title": pin.extra_context["title"]},
                to=[f"notification:{pin.actor_id}"],
            )
        else:
            pin_id = f"pin{len(pins):04d}"
            board = f"board{rng.randint(0, max(1, users // 3)):02d}"
            title = rng.choice(["Blue lagoon", "Sourdough", "Cabin", "Tiny house", "Fjord", "Ramen"])
            activity = Activity(actor, "add", pin_id, board, time, {"title": f"{title} {pin_id}"})
            pins.append(activity)
        # Published when it happened: the versions inline mode and the pipeline order events by
        # (and unfollows are ordered against) come from the world's one clock.
        activities.append(ActivityEvent(ActivityOp.ADD, activity, None, time))

    endings: list[Event] = []
    followed_pairs = sorted(pairs)
    for follower, followed in rng.sample(followed_pairs, k=max(1, len(followed_pairs) // 20)):
        endings.append(_follow(FollowOp.UNFOLLOW, follower, followed, tick(5)))
    removable = [e for e in activities if e.activity.verb.infinitive == "add"]
    for event in rng.sample(removable, k=max(1, len(removable) // 25)):
        endings.append(ActivityEvent(ActivityOp.REMOVE, event.activity, None, tick(5)))
    phases: list[list[Event]] = [follows, [*activities], endings]
    if reactions and pins:
        _add_reactions(random.Random(seed * 1_000_003 + 30), phases, names, pins, reactions)
    return World(names, phases)


def _add_reactions(
    rng: random.Random, phases: list[list[Event]], names: list[str], pins: list[Activity], count: int
) -> None:
    """Reactions on the pins: nine in ten among the activities (adds and edits), the rest, removals
    and late edits, among the endings."""
    made: list[tuple[str, str, str]] = []  # (reaction id, activity id, kind)
    late = count // 10
    for n in range(count):
        ending = n >= count - late
        published = START + timedelta(days=30 if ending else 1, seconds=n)
        if made and (ending or rng.random() < 0.1):
            rid, activity_id, _ = rng.choice(made)
            if ending and rng.random() < 0.6:
                event: ReactionEvent = remove_event(rid, activity_id, published)
            else:
                event = update_event(rid, activity_id, {"text": f"edited {n}"}, published)
        else:
            pin = rng.choice(pins)
            comments = [r for r, a, kind in made if a == pin.id and kind == "comment"]
            parent = rng.choice(comments) if comments and rng.random() < 0.2 else None
            kind = "like" if parent or rng.random() < 0.7 else "comment"
            identity = reaction_identity(kind, rng.choice(names), pin.id, parent, published)
            data = {"text": f"comment {n}"} if kind == "comment" else {}
            event = add_event(f"rx{n:05d}", identity, data, published)
            made.append((event.reaction_id, pin.id, kind))
        phase = phases[2] if ending else phases[1]
        phase.insert(rng.randint(0, len(phase)), event)


def with_pulled_authors(world: World, authors: int = 3, crossing: bool = True) -> World:
    """The same world with its most followed authors pulled from the start, and (crossing) one
    more author pulled half-way through its activities and pushed again at three quarters:
    every kind of switch, in the phases where a worker meets them mid-stream.

    Reads of the result equal the plain world's (streamfeed.feeds.hybrid): what the
    hybrid tests and the simulation check.
    """
    follows = [e for e in world.phases[0] if isinstance(e, FollowEvent) and e.op is FollowOp.FOLLOW]
    counts: dict[str, int] = {}
    for event in follows:
        counts[event.followed] = counts.get(event.followed, 0) + 1
    ranked = sorted(counts, key=lambda user: (-counts[user], user))
    start = sort_key_for(START)
    switches: list[Event] = [AuthorModeEvent(user, True, start) for user in ranked[:authors]]
    phases = [list(phase) for phase in world.phases]
    phases[0][:0] = switches
    if crossing and len(ranked) > authors:
        times = sorted(e.activity.sort_key for e in world.phases[1] if isinstance(e, ActivityEvent))
        author = ranked[authors]
        half, late = times[len(times) // 2], times[3 * len(times) // 4]
        phases[1].insert(len(phases[1]) // 3, AuthorModeEvent(author, True, half))
        phases[2].append(AuthorModeEvent(author, False, late))  # after its activities: a backfill
    return World(world.users, phases)
