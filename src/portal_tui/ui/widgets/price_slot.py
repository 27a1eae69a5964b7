"""One of a plan's two price slots (test or live): the price ID field, its Pick button, its error and its state."""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from portal_tui.ui.widgets.field_error import FieldError


class PriceSlot(Vertical):
    """The admin pastes or picks the plan's `slot` price; the line under it says what a lookup found.

    Child IDs carry the slot (`price-test`, `pick-test`, `error-price-test`, `state-price-test`): the screen's
    handlers, the help and the tests find them by those.
    """

    def __init__(self, slot: Literal["test", "live"]) -> None:
        super().__init__(id=f"slot-{slot}")
        self.slot = slot

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label(f"{self.slot.capitalize()} price ID")
            yield Input(placeholder="price_…", id=f"price-{self.slot}")
            yield Button("Pick…", id=f"pick-{self.slot}")
        yield FieldError(id=f"error-price-{self.slot}")
        yield Static("", id=f"state-price-{self.slot}", classes="price-state", markup=False)

    def show_state(self, text: str | None = None, ok: bool | None = None) -> None:
        """✓ text in green, ✗ text in red, anything else (checking, not linked, could not check) muted."""
        state = self.query_one(f"#state-price-{self.slot}", Static)
        state.set_class(ok is True, "ok")
        state.set_class(ok is False, "bad")
        state.update(text or "")
