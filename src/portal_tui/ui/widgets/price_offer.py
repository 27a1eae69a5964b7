"""The banner offering a price from the catalog or the builder ("Link to plan…") to the plan the admin chooses."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from portal_tui.forms.plan_form import Offer


class PriceOffer(Vertical):
    """Says which price is offered and for which slot; its buttons (`offer-test`, `offer-live`, `offer-dismiss`)
    are handled by the plan editor, which also binds t / v to them."""

    def __init__(self) -> None:
        super().__init__(id="offer", classes="notice")

    def compose(self) -> ComposeResult:
        yield Static("", id="offer-text", markup=False)
        with Horizontal():
            yield Button("Use as test price", id="offer-test", variant="primary")
            yield Button("Use as live price", id="offer-live")
            yield Button("Dismiss", id="offer-dismiss")

    def show(self, offer: Offer) -> None:
        slot = offer.slot
        self.query_one("#offer-text", Static).update(
            f"Link {offer.price_id} (a {slot}-mode price) to a plan: choose the plan on the left (↑ ↓), then press "
            f"{slot[0]} to make it the plan's {slot} price (or the button below)."
        )
        self.query_one("#offer-test").display = slot == "test"
        self.query_one("#offer-live").display = slot == "live"
        self.add_class("visible")

    def hide(self) -> None:
        self.remove_class("visible")
