"""One of a plan's two price slots (test or live): the price ID field, its Pick button, its error and its state."""

from __future__ import annotations

from functools import partial

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Static

from portal_tui.forms.plan_form import PriceLookup, Slot, SlotState, look_up_price
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.field_error import FieldError


class PriceSlot(Vertical):
    """The admin pastes or picks the plan's `slot` price; the line under it says what a lookup found.

    Child IDs carry the slot (`price-test`, `pick-test`, `error-price-test`, `state-price-test`): the screen's
    handlers, the help and the tests find them by those. A lookup runs in a worker, one at a time per slot (a newer
    ID replaces the pending one), and reports with `PriceSlot.Checked`.
    """

    class Checked(Message):
        """A lookup of `price_id` for this slot finished."""

        def __init__(self, slot: Slot, price_id: str, result: PriceLookup) -> None:
            super().__init__()
            self.slot, self.price_id, self.result = slot, price_id, result

    def __init__(self, slot: Slot) -> None:
        super().__init__(id=f"slot-{slot}")
        self.slot: Slot = slot
        self._pending: tuple[str, Timer] | None = None  # a lookup waiting for the typing pause

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

    def show(self, state: SlotState | None, delay: float = 0.0, *, look_up: bool = True) -> None:
        """Show the slot's state; look its price up (after `delay`) when nothing is known about it yet."""
        if self._pending is not None:
            self._pending[1].stop()
            self._pending = None
        if state is None:
            return
        self.show_state(state.text, state.ok)
        if state.look_up is None or not look_up:
            return
        if delay:
            self._pending = (state.look_up, self.set_timer(delay, partial(self.look_up, state.look_up)))
        else:
            self.look_up(state.look_up)

    @on(Input.Submitted)
    def look_up_now(self) -> None:
        """Enter looks the typed ID up now instead of after the typing pause."""
        if self._pending is not None:
            price_id, timer = self._pending
            timer.stop()
            self.look_up(price_id)

    def look_up(self, price_id: str) -> None:
        self._pending = None  # fired (or overtaken): enter has nothing left to hurry
        self.run_worker(partial(self._fetch, price_id), thread=True, exclusive=True, group="price-check")

    def _fetch(self, price_id: str) -> None:
        context = portal(self).context
        result = look_up_price(context.gateway, price_id, self.slot, "live" if context.livemode else "test")
        self.app.call_from_thread(self.post_message, self.Checked(self.slot, price_id, result))
