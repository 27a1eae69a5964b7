"""Price IDs (step 3): the catalog streamed into a fast table; filter, preview, copy an ID, link it to a plan."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from portal_tui.ui.context import portal
from portal_tui.ui.widgets.catalog_view import CatalogView
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.price_details import PriceDetails
from portal_tui.ui.widgets.price_table import PriceTable
from portal_tui.ui.widgets.top_bar import TopBar

# Side by side, the 40-column details pane leaves the table room for its optional columns only from here on.
STACKED_BELOW = 160


class CatalogScreen(Screen[None]):
    """Browse every price; `c` copies the highlighted price ID to the admin's clipboard (OSC 52, works over SSH)."""

    DEFAULT_CLASSES = "dense"  # one-row fields (app CSS): the filter takes one row, the table the rest
    DEFAULT_CSS = """
    CatalogScreen #catalog-body { height: 1fr; }
    CatalogScreen #not-connected { padding: 1 2; display: none; }
    /* Up to 160 columns the details sit under the table, which keeps the whole width for Interval and Lookup key;
       below 100 columns the table takes the whole screen and d swaps it for the details (tiers, preview, the ID). */
    CatalogScreen.stacked #catalog-body { layout: vertical; }
    CatalogScreen.stacked PriceDetails { width: 1fr; height: 45%; border-left: none; border-top: hkey $panel; }
    CatalogScreen.narrow PriceDetails { display: none; }
    CatalogScreen.narrow.details-view CatalogView { display: none; }
    CatalogScreen.narrow.details-view PriceDetails { display: block; width: 1fr; border-left: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", key_display="/"),
        Binding("c", "copy", "Copy ID"),
        Binding("d", "details", "Details"),
        Binding("l", "link", "Link to plan…"),
        Binding("e", "replace", "Replace price…"),
        Binding("a", "toggle_archived", "Archived"),
        Binding("r", "reload", "Refresh"),
        Binding("escape", "leave_filter", "Back to the table", show=False),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Price IDs: copy the highlighted ID", "Copies with OSC 52", "copy"),
        ("Price IDs: show or hide archived prices", "Toggle archived prices", "toggle_archived"),
        ("Price IDs: refresh the catalog", "Re-read every price from Stripe", "reload"),
        (
            "Price IDs: replace the highlighted price",
            "Create a new price, move the lookup key, archive this one",
            "replace",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.include_archived = False

    def compose(self) -> ComposeResult:
        yield TopBar("3 Price IDs")
        yield Static("Connect Stripe first (press 1).", id="not-connected")
        with Horizontal(id="catalog-body"):
            yield CatalogView()
            yield PriceDetails(id="details")
        yield KeyBar()

    @property
    def view(self) -> CatalogView:
        return self.query_one(CatalogView)

    def on_mount(self) -> None:
        self.reload()
        self.view.table.focus()

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        if self.query_one("#not-connected").display == portal(self).context.connected:
            self.reload()  # connected or disconnected since this screen last showed
        self.focus_visible()

    def focus_visible(self) -> None:
        """Keep focus on a field the admin can see: Textual's auto-focus would pick the filter even while the
        details view hides it, and digits typed there would silently filter the table down to nothing."""
        focused = self.focused
        if focused is not None and self._shown(focused):
            return
        if self.has_class("details-view"):
            self.query_one("#details-quantity", Input).focus()
        else:
            self.view.table.focus()

    def _shown(self, widget: Widget) -> bool:
        node: Any = widget
        while node is not None and node is not self:
            if not node.display:
                return False
            node = node.parent
        return True

    def connection_changed(self) -> None:
        self.reload()

    def catalog_changed(self) -> None:
        """A price was created, replaced or archived elsewhere in the app: show the catalog as it is now."""
        self.reload()

    def reload(self) -> None:
        connected = portal(self).context.connected
        self.query_one("#not-connected").display = not connected
        self.query_one("#catalog-body").display = connected
        if connected:
            self.view.load(self.include_archived)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "narrow")
        self.set_class(100 <= self.size.width < STACKED_BELOW, "stacked")

    @property
    def details_visible(self) -> bool:
        return not self.has_class("narrow") or self.has_class("details-view")

    def action_details(self) -> None:
        """Wide: jump to the quantity preview. Narrow: switch between the table and the details view."""
        if not self.has_class("narrow"):
            self.query_one("#details-quantity", Input).focus()
            return
        if self.has_class("details-view"):
            self.remove_class("details-view")
            self.view.table.focus()
        else:
            self.add_class("details-view")
            # Digits typed here are a preview quantity, never a step switch (escape returns to the table).
            self.query_one("#details-quantity", Input).focus()

    @on(PriceTable.Highlighted)
    def highlighted(self, event: PriceTable.Highlighted) -> None:
        self.query_one(PriceDetails).show(event.row.price if event.row else None)

    @on(PriceTable.Selected)
    def selected(self) -> None:
        self.action_copy()

    def action_focus_filter(self) -> None:
        self.remove_class("details-view")  # the filter lives with the table: show it before typing into it
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.remove_class("details-view")
        self.view.table.focus()

    def action_copy(self) -> None:
        row = self.view.table.current
        if row is None:
            self.notify("No price selected.", severity="warning")
            return
        self.app.copy_to_clipboard(row.price_id)
        where = "select it in the details pane" if self.details_visible else "press d and select it in the details"
        self.notify(
            f"Copied {row.price_id} to the clipboard. If your terminal ignores OSC 52, {where}.",
            title="Price ID copied",
        )

    def action_link(self) -> None:
        row = self.view.table.current
        if row is not None:
            portal(self).link_price_to_plan(row.price_id)

    def action_replace(self) -> None:
        """Prices are immutable: open the builder prefilled from this price, to create its replacement."""
        row = self.view.table.current
        if row is not None:
            portal(self).replace_price(row.price)

    def action_toggle_archived(self) -> None:
        self.include_archived = not self.include_archived
        self.notify("Showing archived prices too." if self.include_archived else "Hiding archived prices.")
        self.reload()

    def action_reload(self) -> None:
        self.reload()
