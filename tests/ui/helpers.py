"""Small helpers for driving the real app with Textual's Pilot."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

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


async def wait_until(pilot: Pilot[None], predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` is true; fail after `timeout` seconds instead of guessing a sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"still false after {timeout} s: {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(0.01)


def press_now(pilot: Pilot[None], *keys: str) -> None:
    """Queue keys for the app without letting it go idle first (`pilot.press` does), as keys typed during a slow
    moment arrive: the app handles them when it gets to them."""
    from textual import events

    for key in keys:
        pilot.app.post_message(events.Key(key, key if len(key) == 1 else None))


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text (renders Rich tables too)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()
