"""The builder's tier editor: a header and one row per tier, with add / remove / move / fill.

Rows are plain Inputs, so typing in them bubbles Input.Changed as usual; changes of structure (a row added, removed,
moved or the whole set refilled) post `TierEditor.Changed` so the screen re-reads the rows (`values()`). What the rows
mean (their amounts, their problems) is the form model's business (`portal_tui.forms.price_form`).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from portal_tui.forms.price_form import TierInput, tier_starts


class TierRow(Horizontal):
    """One tier: derived "from", editable "up to" (∞ on the last row), per-unit price and flat fee."""

    DEFAULT_CSS = """
    TierRow { height: auto; }
    TierRow .tier-from { width: 12; padding: 0 1 0 0; color: $text-muted; }
    TierRow Input { width: 1fr; margin-right: 1; }
    """

    class Ready(Message):
        """The row's fields exist: the editor numbers the rows again (a new row's From, and every row after it)."""

        def __init__(self, row: TierRow) -> None:
            super().__init__()
            self.row = row

    def compose(self) -> ComposeResult:
        yield Static("", classes="tier-from")
        yield Input(placeholder="up to", classes="tier-up-to", restrict=r"[0-9,_∞]*")
        yield Input(placeholder="per unit", classes="tier-unit")
        yield Input(placeholder="flat fee", classes="tier-flat")

    def on_mount(self) -> None:
        self.post_message(self.Ready(self))


class TierHeader(Horizontal):
    """Column titles laid out exactly like a TierRow, so each title sits over its own column at any width."""

    DEFAULT_CSS = """
    TierHeader { height: 1; color: $text-muted; text-style: bold; }
    TierHeader .tier-from { width: 12; padding: 0; margin-right: 0; }
    TierHeader Static { width: 1fr; margin-right: 1; padding-left: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Label("From", classes="tier-from")
        yield Static("Up to")
        yield Static("Per unit")
        yield Static("Flat fee")


class TierEditor(Vertical):
    """Header plus tier rows; `tiers()` reads them into domain Tiers with a problem per bad field."""

    DEFAULT_CSS = """
    TierEditor { height: auto; }
    TierEditor #tiers { height: auto; }
    """

    class Changed(Message):
        """Rows were added, removed, moved or refilled (typing in a row posts Input.Changed instead)."""

    _focus_when_ready: TierRow | None = None  # the row add_row made: its "up to" gets the cursor once it exists

    def compose(self) -> ComposeResult:
        yield TierHeader()
        yield Vertical(id="tiers")

    @property
    def box(self) -> Vertical:
        return self.query_one("#tiers", Vertical)

    def rows(self) -> list[TierRow]:
        """The tier rows on screen, in order (rows being removed or not yet composed are left out)."""
        return [row for row in self.box.query(TierRow) if not (row._closing or row._pruning) and len(row.children) == 4]

    def reset(self) -> None:
        self.box.remove_children()
        self.box.mount(TierRow(), TierRow())  # numbered as each is ready

    @on(TierRow.Ready)
    def row_ready(self, event: TierRow.Ready) -> None:
        """A row mounted has its fields only now: number the rows then, not after a guessed refresh (a new row
        composed after that refresh kept an empty From, and the rows after it kept the old numbers)."""
        event.stop()
        self.relabel()
        if event.row is self._focus_when_ready:
            self._focus_when_ready = None
            event.row.query_one(".tier-up-to", Input).focus()

    def relabel(self) -> None:
        """Number the rows ("from" of each) and keep ∞ on the last one."""
        rows = self.rows()
        for index, row in enumerate(rows):
            up_to = row.query_one(".tier-up-to", Input)
            if index == len(rows) - 1:
                up_to.value, up_to.disabled = "∞", True
            elif up_to.disabled:
                up_to.value, up_to.disabled = "", False
        starts = tier_starts([row.query_one(".tier-up-to", Input).value for row in rows])
        for row, low in zip(rows, starts, strict=True):
            row.query_one(".tier-from", Static).update(f"{low:,} –")
        self.post_message(self.Changed())

    def row_of(self, widget: Widget | None) -> int | None:
        """The index of the row holding `widget` (the focused one, usually), if any."""
        for index, row in enumerate(self.rows()):
            if widget is not None and widget in list(row.query(Input)):
                return index
        return None

    def add_row(self) -> None:
        """A new row before the unbounded last one, with the cursor in its "up to"."""
        rows = self.rows()
        new = TierRow()
        self._focus_when_ready = new
        self.box.mount(new, before=rows[-1] if rows else None)  # numbered, and focused, once ready

    def remove_row(self, index: int | None) -> bool:
        """Remove row `index` (None: the last bounded one); False when only one row is left."""
        rows = self.rows()
        if len(rows) <= 1:
            return False
        target = rows[index] if index is not None else rows[-2]
        neighbour = rows[index + 1] if index is not None and index + 1 < len(rows) else rows[-2]
        target.remove()  # left out of rows() at once: the numbers follow now
        if index is not None:
            # Keep the cursor in the tier editor, on the row that took the removed one's place.
            self.call_after_refresh(lambda: neighbour.query_one(".tier-unit", Input).focus())
        self.relabel()
        return True

    def move_row(self, index: int, direction: int) -> None:
        """Swap the prices of row `index` with its neighbour (the bounds stay where they are)."""
        rows = self.rows()
        if not 0 <= index + direction < len(rows):
            return
        a, b = rows[index], rows[index + direction]
        for cls in (".tier-unit", ".tier-flat"):
            first, second = a.query_one(cls, Input), b.query_one(cls, Input)
            first.value, second.value = second.value, first.value
        b.query_one(".tier-unit", Input).focus()
        self.post_message(self.Changed())

    async def fill(self, tiers: list[TierInput]) -> None:
        """One row per tier, filled once the rows are mounted (their inputs exist only then); the caller places the
        cursor."""
        await self.box.remove_children()
        rows = [TierRow() for _ in tiers] or [TierRow()]
        await self.box.mount_all(rows)
        for row, tier in zip(rows, tiers, strict=False):
            for cls, text in (
                (".tier-up-to", tier.up_to),
                (".tier-unit", tier.unit_amount),
                (".tier-flat", tier.flat_amount),
            ):
                if text:
                    row.query_one(cls, Input).value = text
        self.relabel()

    def values(self) -> list[TierInput]:
        """The rows as typed (the unbounded last row's "up to" left empty)."""
        return [
            TierInput(
                "" if up_to.disabled else up_to.value,
                row.query_one(".tier-unit", Input).value,
                row.query_one(".tier-flat", Input).value,
            )
            for row in self.rows()
            for up_to in [row.query_one(".tier-up-to", Input)]
        ]
