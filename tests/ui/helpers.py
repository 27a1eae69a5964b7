"""Small helpers for driving the real app with Textual's Pilot."""

from __future__ import annotations

import io

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and the screen catch up (no sleeps)."""
    app: App[None] = pilot.app
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text (renders Rich tables too)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()
