"""Running named scenarios from the command line, figures printed per scenario (chaos and cluster)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tests.chaos.harness import Figures


def run_scenarios(full: dict[str, Callable[[], Figures]], prog: str, description: str | None) -> int:
    """Parse SCENARIO names (default: all), run each, print its figures; 1 if any lost or duplicated."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("scenario", nargs="*", help=f"any of {', '.join(full)} (default: all)")
    names = parser.parse_args().scenario or list(full)
    unknown = [name for name in names if name not in full]
    if unknown:
        parser.error(f"unknown scenarios {', '.join(unknown)}; choose from {', '.join(full)}")
    failed = 0
    started = time.monotonic()
    for name in names:
        figures = full[name]()
        print(figures.line(), flush=True)
        try:
            figures.assert_clean()
        except AssertionError as error:
            failed += 1
            print(f"  FAILED: {error}", flush=True)
    print(f"{len(names)} scenarios in {time.monotonic() - started:.0f}s, {failed} failed")
    return 1 if failed else 0
