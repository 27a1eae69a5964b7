"""The catalog as a fast, keyboard-driven table: only visible rows are drawn, so 10,000 prices filter instantly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from portal_tui.domain.pricing import describe_price, interval_label, price_currencies


@dataclass(frozen=True)
class PriceRow:
    """One price as the table shows it, with its text precomputed for filtering."""

    price: dict[str, Any]
    product: str
    nickname: str
    summary: str
    interval: str
    usage: str
    lookup_key: str
    price_id: str
    active: bool
    haystack: str
    # a multi-currency price's other currencies, upper-case ("EUR JPY"): the filter finds the price by any of them
    other_currencies: str = ""

    @classmethod
    def from_price(cls, price: dict[str, Any]) -> PriceRow:
        product = price.get("product")
        name = product.get("name", "") if isinstance(product, dict) else str(product or "")
        recurring = price.get("recurring") or None
        interval = (
            interval_label(str(recurring.get("interval")), int(recurring.get("interval_count") or 1))
            if recurring
            else "one-time"
        )
        usage = "metered" if recurring and recurring.get("usage_type") == "metered" else "licensed"
        summary = describe_price(price)
        nickname = str(price.get("nickname") or "")
        lookup_key = str(price.get("lookup_key") or "")
        currencies = price_currencies(price)
        haystack = " ".join([name, nickname, lookup_key, str(price["id"]), summary, *currencies]).lower()
        return cls(
            price,
            name,
            nickname,
            summary,
            interval,
            usage,
            lookup_key,
            str(price["id"]),
            bool(price.get("active", True)),
            haystack,
            " ".join(code.upper() for code in currencies[1:]),
        )


# (title, attribute, width); 0 = takes the remaining space. Product, summary and price ID always show (a Stripe price
# ID is 30 characters: it is never cut); the others join, in this order, as soon as the width leaves room for them.
REQUIRED: list[tuple[str, str, int]] = [
    ("Product", "product", 16),
    ("What a customer pays", "summary", 0),
    ("Price ID", "price_id", 30),
]
OPTIONAL: list[tuple[str, str, int]] = [
    ("Interval", "interval", 9),
    ("Lookup key", "lookup_key", 16),  # what the portal's code refers to: before usage and nickname
    ("Usage", "usage", 8),
    ("Nickname", "nickname", 16),
    ("Active", "active", 6),
]
# A filter can match text in a column too narrow a terminal leaves out: the row then says what matched.
MATCH_LABELS = {"lookup_key": "key", "nickname": "nickname"}
ORDER = ["product", "nickname", "summary", "interval", "usage", "lookup_key", "price_id", "active"]
SUMMARY_MIN = 26  # enough for "$20.00 / month" and most tiered summaries' start


def visible_columns(width: int) -> list[tuple[str, str, int]]:
    shown = list(REQUIRED)
    used = sum(size + 1 for _t, _a, size in shown) + 1  # +1 per column for its separator
    for column in OPTIONAL:
        if width - used - column[2] - 1 < SUMMARY_MIN:
            break  # in order only: a column never disappears when the terminal grows
        shown.append(column)
        used += column[2] + 1
    shown.sort(key=lambda column: ORDER.index(column[1]))
    flex = max(12, width - used)
    return [(title, attr, size or flex) for title, attr, size in shown]


def cell(value: str, width: int) -> str:
    if len(value) > width:
        return value[: max(0, width - 1)] + "…"
    return value.ljust(width)


class PriceTable(ScrollView, can_focus=True):
    """Rows of prices with a cursor; `set_filter(text)` narrows them as you type."""

    DEFAULT_CSS = """
    PriceTable { height: 1fr; background: $surface; }
    PriceTable:focus { background-tint: $foreground 3%; }
    PriceTable > .price-table--header { text-style: bold; background: $panel; }
    PriceTable > .price-table--cursor { background: $accent; color: $text; text-style: bold; }
    PriceTable > .price-table--archived { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"price-table--header", "price-table--cursor", "price-table--archived"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "edge(0)", "First", show=False),
        Binding("end,G", "edge(1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    cursor = reactive(0, always_update=True)

    class Highlighted(Message):
        def __init__(self, row: PriceRow | None) -> None:
            super().__init__()
            self.row = row

    class Selected(Message):
        def __init__(self, row: PriceRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[PriceRow] = []
        self.shown: list[PriceRow] = []
        self.filter_text = ""
        self._last_highlight: str | None = None

    # ---- data -----------------------------------------------------------------------------------------------

    def clear(self) -> None:
        self.rows, self.shown = [], []
        self.cursor = 0
        self._resize()

    def add_prices(self, prices: list[dict[str, Any]]) -> None:
        new = [PriceRow.from_price(price) for price in prices]
        self.rows.extend(new)
        needle = self.filter_text
        was_empty = not self.shown
        self.shown.extend(row for row in new if not needle or needle in row.haystack)
        self._resize()
        if was_empty and self.shown:
            self.cursor = 0  # the first matching row is highlighted (and the details pane shows it)

    def set_filter(self, text: str) -> None:
        needle = text.strip().lower()
        self.filter_text = needle
        current = self.current
        self.shown = [row for row in self.rows if needle in row.haystack] if needle else list(self.rows)
        index = next((i for i, row in enumerate(self.shown) if current and row.price_id == current.price_id), 0)
        self._resize()
        self.cursor = index

    @property
    def current(self) -> PriceRow | None:
        return self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None

    def select_price(self, price_id: str) -> bool:
        for index, row in enumerate(self.shown):
            if row.price_id == price_id:
                self.cursor = index
                return True
        return False

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.shown) + 1)
        self.refresh()

    # ---- cursor ---------------------------------------------------------------------------------------------

    def watch_cursor(self, cursor: int) -> None:
        if self.shown:
            clamped = max(0, min(cursor, len(self.shown) - 1))
            if clamped != cursor:
                self.cursor = clamped
                return
            body = max(1, self.size.height - 1)
            top = int(self.scroll_offset.y)
            if cursor < top:
                self.scroll_to(y=cursor, animate=False)
            elif cursor >= top + body:
                self.scroll_to(y=cursor - body + 1, animate=False)
        row = self.current
        key = row.price_id if row else None
        if key != self._last_highlight:
            self._last_highlight = key
            self.post_message(self.Highlighted(row))
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, len(self.shown) - 1))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        self.cursor = len(self.shown) - 1 if end else 0

    def action_select(self) -> None:
        if self.current is not None:
            self.post_message(self.Selected(self.current))

    def on_click(self, event: Any) -> None:
        y = int(getattr(event, "y", 0))
        if y >= 1:
            self.cursor = int(self.scroll_offset.y) + y - 1

    # ---- drawing --------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        columns = visible_columns(width)
        if y == 0:
            header = " ".join(cell(title, size) for title, _attr, size in columns)
            style = self.get_component_rich_style("price-table--header")
            return Strip([Segment(cell(header, width), style)], width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.shown):
            return Strip.blank(width, self.rich_style)
        row = self.shown[index]
        shown = {attr for _title, attr, _size in columns}
        hidden_match = [
            f"{label} {getattr(row, attr)}"
            for attr, label in MATCH_LABELS.items()
            if self.filter_text and attr not in shown and self.filter_text in getattr(row, attr).lower()
        ]
        needle = self.filter_text
        if needle and needle in row.other_currencies.lower() and needle not in row.summary.lower():
            hidden_match.append(f"in {row.other_currencies}")  # "+2 currencies" alone would not say why it matched
        values = []
        for _title, attr, size in columns:
            value = getattr(row, attr)
            if attr == "active":
                value = "yes" if value else "no"
            elif attr == "summary" and hidden_match:
                value = f"{' · '.join(hidden_match)} · {value}"
            values.append(cell(str(value), size))
        line = cell(" ".join(values), width)
        if index == self.cursor:
            style = self.get_component_rich_style("price-table--cursor")
        elif not row.active:
            style = self.get_component_rich_style("price-table--archived")
        else:
            style = self.rich_style
        if not self.filter_text:
            return Strip([Segment(line, style)], width)
        # Underline what the filter matched, so each row shows why it is here.
        text = Text(line, style=style, no_wrap=True, end="")
        text.highlight_regex(re.compile(re.escape(self.filter_text), re.IGNORECASE), "underline")
        return Strip(text.render(self.app.console), width)

    def on_resize(self) -> None:
        self._resize()

    def status_text(self) -> Text:
        total, shown = len(self.rows), len(self.shown)
        if self.filter_text:
            return Text(f"{shown:,} of {total:,} prices match “{self.filter_text}”")
        return Text(f"{total:,} prices")
