"""Generated worlds with reactions (what the chaos suite publishes): the rest of the world is
unchanged by them, and inline mode's reactions are what the events say."""

from __future__ import annotations

from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import reaction_snapshot, snapshot
from streamfeed.demo.world import generate_world
from streamfeed.domain.reactions import ReactionEvent, ReactionOp


def test_reactions_leave_the_rest_of_the_world_as_it_was():
    plain = generate_world(users=40, events=400, seed=3)
    reacting = generate_world(users=40, events=400, seed=3, reactions=200)
    others = [[e for e in phase if not isinstance(e, ReactionEvent)] for phase in reacting.phases]
    assert others == plain.phases
    reactions = [e for e in reacting.events if isinstance(e, ReactionEvent)]
    assert len(reactions) == 200
    assert {e.op for e in reactions} == set(ReactionOp)
    assert any(e.identity is not None and e.identity.parent_id for e in reactions)  # likes of comments
    assert snapshot(run_inline(reacting), reacting.users) == snapshot(run_inline(plain), plain.users)


def test_the_reaction_snapshot_counts_what_is_live():
    world = generate_world(users=30, events=300, seed=5, reactions=150)
    reactions = [e for e in world.events if isinstance(e, ReactionEvent)]
    removed = {e.reaction_id for e in reactions if e.op is ReactionOp.REMOVE}
    live_on_activities = {
        e.reaction_id
        for e in reactions
        if e.op is ReactionOp.ADD and e.reaction_id not in removed and e.identity.parent_id is None
    }
    found = reaction_snapshot(run_inline(world), {e.activity_id for e in reactions})
    assert sum(sum(counts.values()) for counts, _ in found.values()) == len(live_on_activities)
    listed = {rid for _, lists in found.values() for shown in lists.values() for rid, _ in shown}
    assert listed == live_on_activities
