"""The chaos suite prints its figures at the end of the run, whatever pytest captured."""

from __future__ import annotations

import pytest

from tests.chaos.harness import Figures

REPORTED: list[Figures] = []


@pytest.fixture
def report():
    """Record a scenario's figures for the summary, and fail unless nothing was lost or duplicated."""

    def record(figures: Figures) -> Figures:
        REPORTED.append(figures)
        figures.assert_clean()
        return figures

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    if REPORTED:
        terminalreporter.section("chaos figures (shortened scenarios)")
        for figures in REPORTED:
            terminalreporter.write_line(figures.line())
