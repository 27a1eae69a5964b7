"""Pick a price from the catalog in a modal (used by the plan editor): Enter returns its ID, Escape nothing."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from portal_tui.ui.widgets.catalog_view import CatalogView
from portal_tui.ui.widgets.price_table import PriceTable


class PricePickerModal(ModalScreen[str | None]):
    """The catalog table with its filter; only recurring, active prices make sense for a plan, so it shows those."""

    DEFAULT_CSS = """
    PricePickerModal { align: center middle; }
    PricePickerModal > Vertical { width: 95%; height: 90%; border: round $accent; background: $surface; }
    PricePickerModal #picker-title { width: 1fr; padding: 0 1; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str = "Pick a price") -> None:
        super().__init__()
        self.heading = title

    def compose(self) -> ComposeResult:
        with Vertical():
            # The keys are in the status line under the table: the title alone fits 80 columns (and wraps if not).
            yield Label(self.heading, id="picker-title", markup=False)
            yield CatalogView(picker=True)

    def on_mount(self) -> None:
        view = self.query_one(CatalogView)
        view.load(include_archived=False)
        view.query_one("#filter").focus()

    @on(PriceTable.Selected)
    def picked(self, event: PriceTable.Selected) -> None:
        self.dismiss(event.row.price_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
