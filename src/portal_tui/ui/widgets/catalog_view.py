"""The catalog as the admin searches it: a filter field, the price table and a status line (catalog and picker)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from portal_tui.ui.context import portal
from portal_tui.ui.widgets.price_table import PriceTable


class FilterInput(Input):
    """The filter field: a "/" typed or pasted at its start is dropped, since "/" is the key that opens a filter
    (here, in less, in vim) and a query starting with it ("/team") would match nothing."""

    def replace(self, text: str, start: int, end: int) -> None:
        if min(start, end) <= 0 and text.startswith("/"):
            text = text[1:]
        super().replace(text, start, end)


class CatalogView(Vertical):
    """Filter + table + status, shared by the catalog screen and the price picker."""

    DEFAULT_CSS = """
    CatalogView { width: 1fr; }
    CatalogView #filter { margin: 0 0; }
    CatalogView #catalog-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # While typing in the filter, ↑ ↓ still move the table's cursor.
        Binding("down", "move(1)", "Next price", show=False),
        Binding("up", "move(-1)", "Previous price", show=False),
    ]

    def __init__(self, *, picker: bool = False) -> None:
        super().__init__()
        self.picker = picker

    def compose(self) -> ComposeResult:
        # In the picker the filter has focus from the start: its hint names no key to press first.
        what = "name, nickname, lookup key, ID or amount"
        yield FilterInput(placeholder=f"Type to filter: {what}" if self.picker else f"/ filter: {what}", id="filter")
        yield PriceTable(id="prices")
        yield Static("", id="catalog-status", markup=False)

    @property
    def table(self) -> PriceTable:
        return self.query_one(PriceTable)

    def status(self, text: str) -> None:
        self.query_one("#catalog-status", Static).update(text)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self.status(str(self.table.status_text()))

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        row = self.table.current
        if row is None:
            # Nothing to move to or pick: focus stays in the filter, where the admin can change the query.
            query = self.table.filter_text
            way_out = "esc cancels" if self.picker else "esc goes back to the table"
            nothing = f"Nothing matches “{query}”: change the filter" if query else "No prices to show"
            self.status(f"{nothing} · {way_out}")
            return
        if self.picker:
            # One Enter picks the highlighted price. Posted from this view: a message sent to a child by its
            # parent stops at that parent, so the table's own Selected would never reach the modal from here.
            self.post_message(PriceTable.Selected(row))
        else:
            self.table.focus()

    def action_move(self, delta: int) -> None:
        self.table.action_cursor(delta)

    def load(self, include_archived: bool) -> None:
        self.table.clear()
        self.status("Loading prices…")
        self.stream(include_archived)

    @work(thread=True, exclusive=True, group="catalog")
    def stream(self, include_archived: bool) -> None:
        from portal_tui.services.errors import PortalError

        worker = get_current_worker()
        context = portal(self).context
        try:
            for page in context.gateway().iter_catalog_pages(include_archived=include_archived):
                if worker.is_cancelled:
                    return
                self.app.call_from_thread(self.add_page, page)
        except PortalError as error:
            self.app.call_from_thread(self.status, f"{error.title}: {error.message}")
            return
        self.app.call_from_thread(self.loaded)

    def add_page(self, page: list[dict[str, Any]]) -> None:
        self.table.add_prices(page)
        self.status(f"Loading… {len(self.table.rows):,} prices so far")

    def loaded(self) -> None:
        keys = " · ↑↓ move · enter picks · esc cancels" if self.picker else " · c copy · l link to plan · a archived"
        self.status(str(self.table.status_text()) + keys)
        self.post_message(self.Loaded())

    class Loaded(Message):
        """The whole catalog has arrived."""
