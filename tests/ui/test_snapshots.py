"""Snapshot tests: every screen at 80×24 and 120×40, pinned as SVGs (pytest --snapshot-update to accept changes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal_tui.sandbox import Sandbox
from tests.ui.tour import STOPS, Stop, make_tour_app


@pytest.fixture
def tour_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=True) as server:
        yield server


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("stop", STOPS, ids=[stop.name for stop in STOPS])
def test_screen_snapshot(snap_compare: Any, tour_sandbox: Sandbox, stop: Stop, size: tuple[int, int]) -> None:
    app = make_tour_app(tour_sandbox, plans=stop.plans)
    assert snap_compare(app, terminal_size=size, run_before=stop.drive)
