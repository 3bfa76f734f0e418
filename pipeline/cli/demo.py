"""`streamfeed demo`: a small generated world, run inline or through the real pipeline."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from streamfeed.demo.run import run_demo


def demo(
    kafka: Annotated[
        bool, typer.Option(help="Run through the real pipeline on the local stack, not inline.")
    ] = False,
    users: Annotated[int, typer.Option(help="Users in the generated world.")] = 30,
    events: Annotated[int, typer.Option(help="Events in the generated world.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the generated world.")] = 7,
) -> None:
    """Generate a small Pinterest-like world, run it, and print a few users' feeds."""
    raise typer.Exit(run_demo(sys.stdout, kafka, users, events, seed))
