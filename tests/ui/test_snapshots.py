"""Snapshot tests: every screen at 80×24 and 120×40, pinned as SVGs (pytest --snapshot-update to accept changes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from tests.ui.helpers import settle
from tests.ui.tour import STOPS, Stop, freeze, make_tour_app
from tests.ui.tour import plans as open_plans

# The tour's folder (its path shows on screen) is one per machine: under pytest-xdist these run on one worker.
pytestmark = pytest.mark.xdist_group("tour")


@pytest.fixture
def tour_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=True) as server:
        yield server


def pin_notice(app: PortalApp) -> None:
    """Keep the last notice on the status line however long the run took (a notice leaves after a few seconds)."""
    app.notice = app.notices.recent[-1] if app.notices.recent else None
    app.notices.current = None  # so its timer no longer clears it


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("stop", STOPS, ids=[stop.name for stop in STOPS])
def test_screen_snapshot(snap_compare: Any, tour_sandbox: Sandbox, stop: Stop, size: tuple[int, int]) -> None:
    app = make_tour_app(tour_sandbox, plans=stop.plans)

    async def drive(pilot: Pilot[None]) -> None:
        await stop.drive(pilot)
        pin_notice(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=drive)


def test_plans_saved_at_80x24(snap_compare: Any, tour_sandbox: Sandbox) -> None:
    """The demo after ctrl+s in the plan editor: "Plans saved" on the status line, the quotas all still in view, and
    the demo's note about where plans go not repeated (it was the start-up notice)."""
    tour = make_tour_app(tour_sandbox, plans=True)
    app = PortalApp(tour.context, start_notice=tour.context.plans_note)

    async def drive(pilot: Pilot[None]) -> None:
        await open_plans(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await freeze(pilot)
        pin_notice(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=drive)
