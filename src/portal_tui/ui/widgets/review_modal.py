"""The builder's review: exactly what will be sent to Stripe, call by call, before anything is created."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ReviewModal(ModalScreen[bool]):
    """Exactly what will be sent to Stripe, call by call; confirm to create.

    The parameters have the focus first so PageUp/PageDown scroll them at once; tab reaches Back and Create, and
    ctrl+n (the key that opened the review) creates from anywhere in it.
    """

    DEFAULT_CSS = """
    ReviewModal { align: center middle; }
    ReviewModal > Vertical { width: 90%; height: 85%; border: thick $accent; background: $surface; padding: 0 1; }
    ReviewModal.live > Vertical { border: thick $error; }
    ReviewModal #review-body { height: 1fr; }
    ReviewModal #review-body:focus { background-tint: $foreground 4%; }
    ReviewModal Horizontal { height: auto; }
    ReviewModal #review-keys { width: 1fr; color: $text-muted; padding-top: 1; }
    ReviewModal Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back to the form"),
        Binding("ctrl+n", "confirm", "Create", priority=True),
    ]

    def __init__(self, calls: list[tuple[str, dict[str, Any]]], live: bool, note: str = "") -> None:
        super().__init__(classes="live" if live else "")
        self.calls = calls
        self.live = live
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            title = "Review: these requests will be sent to Stripe"
            yield Label(("LIVE MODE · " if self.live else "") + title, classes="step-title")
            with VerticalScroll(id="review-body", can_focus=True):
                if self.note:
                    yield Static(self.note, classes="notice", markup=False)
                for call, params in self.calls:
                    yield Static(Text(call, style="bold"))
                    yield Static(json.dumps(params, indent=2), markup=False)
            with Horizontal():
                yield Static("pgup/pgdn scroll · ctrl+n create · esc back", id="review-keys")
                yield Button("Back", id="review-back")
                yield Button("Create", id="review-create", variant="error" if self.live else "primary")

    def on_mount(self) -> None:
        self.query_one("#review-body", VerticalScroll).focus()

    @on(Button.Pressed, "#review-create")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#review-back")
    def action_cancel(self) -> None:
        self.dismiss(False)
