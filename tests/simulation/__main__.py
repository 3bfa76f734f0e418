"""Run many simulated schedules and print how many were checked per second.

python -m tests.simulation [--schedules 10000] [--seed 2026] [--reactions 20] [--world W --schedule S]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from tests.simulation.sim import first_difference, generate, run_inline, run_pipeline, stored, visible


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=40, help="events per world (at most)")
    parser.add_argument("--per-world", type=int, default=5, help="schedules tried on each world")
    parser.add_argument(
        "--seed", type=int, default=2026, help="picks the worlds and schedules: another seed explores others"
    )
    parser.add_argument("--reactions", type=int, default=0, help="reaction events per world (at most)")
    parser.add_argument("--world", type=int, help="replay one world seed")
    parser.add_argument("--schedule", type=int, help="with --world: replay one schedule seed")
    args = parser.parse_args()
    if args.world is not None:
        world = generate(args.world, events=args.events, reactions=args.reactions)
        pipeline, stats = run_pipeline(world, args.schedule or 0)
        diff = first_difference(visible(run_inline(world), world.users), visible(pipeline, world.users))
        print(diff or f"equal ({stats})")
        return 1 if diff else 0
    rng = random.Random(args.seed)
    start = time.perf_counter()
    schedules = events = steps = crashes = redelivered = failures = 0
    while schedules < args.schedules:
        world_seed = rng.getrandbits(32)
        world = generate(
            world_seed,
            events=rng.randint(5, args.events),
            reactions=rng.randint(0, args.reactions) if args.reactions else 0,
        )
        expected = stored(run_inline(world))
        for _ in range(args.per_world):
            schedule_seed = rng.getrandbits(32)
            pipeline, stats = run_pipeline(world, schedule_seed)
            schedules += 1
            events += len(world.events)
            steps += stats.steps
            crashes += stats.crashes
            redelivered += stats.redelivered
            if stored(pipeline) != expected:
                failures += 1
                print(f"DIVERGED: --world {world_seed} --schedule {schedule_seed}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    print(
        f"{schedules} schedules, {events} events, {steps} consumer steps, {crashes} crashes, "
        f"{redelivered} redelivered messages in {elapsed:.1f} s: "
        f"{schedules / elapsed:,.0f} schedules/s, {events / elapsed:,.0f} events/s; diverged: {failures}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
