"""What the builder's last create made: the product, price (and meter) IDs, and what to do next.

Copy buttons put an ID on the clipboard; "Link to a plan" opens the plan editor with the price; "New product" is the
builder's own reset (its press bubbles up to the screen).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from portal_tui.services.product_setup import SetupProgress
from portal_tui.ui.context import portal


class SetupResult(Vertical):
    """The IDs a create made, with Copy price ID, Copy product ID, Link to a plan and New product."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.progress: SetupProgress | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="result-text", markup=False)
        with Horizontal():
            yield Button("Copy price ID", id="copy-price")
            yield Button("Copy product ID", id="copy-product")
            yield Button("Link to a plan", id="link-plan", variant="primary")
            yield Button("New product", id="new-form")

    def show(self, progress: SetupProgress, replaced_key: str | None) -> None:
        """Show what `progress` made; `replaced_key` is the lookup key a replaced price held, if any."""
        self.progress = progress
        lines = [f"Product ID: {progress.product_id}", f"Price ID:   {progress.price_id}"]
        if progress.meter_id:
            lines.append(f"Meter ID:   {progress.meter_id}")
        if progress.archived:
            moved = f"; its lookup key {replaced_key} moved to the new price" if replaced_key else ""
            lines.append(f"The replaced price was archived{moved}. Plans linking it are offered the new one.")
        lines.append("Next: link the price to a plan, change the price to add another, or start a new product.")
        self.query_one("#result-text", Static).update("\n".join(lines))
        self.add_class("visible")

    def hide(self) -> None:
        self.progress = None
        self.remove_class("visible")

    @on(Button.Pressed, "#copy-price, #copy-product")
    def copy_id(self, event: Button.Pressed) -> None:
        progress = self.progress
        made = (progress.price_id if event.button.id == "copy-price" else progress.product_id) if progress else None
        if made:
            self.app.copy_to_clipboard(made)
            self.notify(f"Copied {made}")

    @on(Button.Pressed, "#link-plan")
    def link_plan(self) -> None:
        if self.progress and self.progress.price_id:
            portal(self).link_price_to_plan(self.progress.price_id)
