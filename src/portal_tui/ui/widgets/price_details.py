"""Everything about one price: its ID (selectable), tiers, meter, and what a customer pays at a quantity you type."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Label, Static

from portal_tui.domain.money import format_money, parse_quantity
from portal_tui.domain.pricing import (
    breakdown,
    describe_price,
    in_currency,
    price_currencies,
    sample_quantities,
    tier_ranges,
)
from portal_tui.ui.widgets.field_error import FieldError


def tier_table(price: dict[str, Any]) -> Table | None:
    tiers = price.get("tiers")
    if price.get("billing_scheme") != "tiered" or not tiers:
        return None
    currency = str(price["currency"])
    table = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    for column in ("From", "Up to", "Per unit", "Flat fee"):
        table.add_column(column, justify="right")
    for tier, (low, high) in zip(tiers, tier_ranges(tiers), strict=True):
        unit = tier.get("unit_amount_decimal") or tier.get("unit_amount")
        flat = tier.get("flat_amount")
        table.add_row(
            f"{low:,}",
            "∞" if high is None else f"{high:,}",
            "—" if unit is None else format_money(_decimal(unit), currency),
            "—" if not flat else format_money(int(flat), currency),
        )
    return table


def _decimal(value: Any) -> Any:
    from decimal import Decimal

    return Decimal(str(value))


def currency_list(price: dict[str, Any]) -> RenderableType:
    """Each currency of a multi-currency price with its amount, or its tiers (nothing for a one-currency price)."""
    codes = price_currencies(price)
    if len(codes) < 2:
        return ""
    parts: list[RenderableType] = [Text("Currencies", style="bold")]
    for code in codes:
        try:
            own = {key: value for key, value in in_currency(price, code).items() if key != "currency_options"}
        except ValueError as error:  # tiers of that currency not returned
            parts.append(Text(f"{code.upper()}  {error}"))
            continue
        table = tier_table(own)
        if table is None:
            parts.append(Text(f"{code.upper()}  {describe_price(own)}"))
        else:
            parts.append(Text(f"{code.upper()}  {'Graduated' if own.get('tiers_mode') == 'graduated' else 'Volume'}"))
            parts.append(table)
    return Group(*parts)


def preview_text(price: dict[str, Any], quantity: int) -> Text:
    result = breakdown(price, quantity)
    text = Text()
    for row in result.rows:
        text.append(f"  {row.text}\n")
    text.append(f"  Total at {quantity:,}: ", style="bold")
    text.append(format_money(result.total, result.currency), style="bold green")
    return text


class PriceDetails(VerticalScroll, can_focus=False):
    """The side pane of the catalog: details of the highlighted price and a what-a-customer-pays preview.

    Not focusable itself (Tab goes to its quantity field, which shows where focus is); it scrolls to that field.
    """

    DEFAULT_CSS = """
    PriceDetails { width: 40; border-left: vkey $panel; padding: 0 1; height: 1fr; }
    PriceDetails #details-id { text-style: bold; color: $accent; }
    PriceDetails .section { margin-top: 1; text-style: bold; }
    PriceDetails #details-quantity { width: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.price: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Select a price", id="details-id", markup=False)
        yield Static("", id="details-summary", markup=False)
        yield Static("", id="details-facts", markup=False)
        yield Static("", id="details-tiers")
        currencies = Static("", id="details-currencies")
        currencies.display = False  # shown for a multi-currency price only
        yield currencies
        yield Label("What a customer pays", classes="section")
        yield Input(placeholder="quantity or usage, e.g. 12000", id="details-quantity", restrict=r"[0-9,_]*")
        yield FieldError(id="details-quantity-error")
        yield Static("", id="details-preview")

    def show(self, price: dict[str, Any] | None) -> None:
        self.price = price
        if price is None:
            self.query_one("#details-id", Static).update("No price selected")
            for name in ("summary", "facts", "tiers", "currencies", "preview"):
                self.query_one(f"#details-{name}", Static).update("")
            self.query_one("#details-currencies").display = False
            return
        self.query_one("#details-id", Static).update(str(price["id"]))
        self.query_one("#details-summary", Static).update(describe_price(price))
        product = price.get("product")
        recurring = price.get("recurring") or {}
        facts = [
            f"Product: {product.get('name')} ({product.get('id')})"
            if isinstance(product, dict)
            else f"Product: {product}",
            f"Nickname: {price.get('nickname') or '—'}",
            f"Lookup key: {price.get('lookup_key') or '—'}",
            f"Meter: {recurring.get('meter')}" if recurring.get("meter") else "",
            "Archived" if not price.get("active", True) else "",
            "Live mode" if price.get("livemode") else "Test mode",
        ]
        self.query_one("#details-facts", Static).update("\n".join(f for f in facts if f))
        table = tier_table(price)
        self.query_one("#details-tiers", Static).update(table if table is not None else "")
        currencies = self.query_one("#details-currencies", Static)
        currencies.update(currency_list(price))
        currencies.display = len(price_currencies(price)) > 1
        self.update_preview()

    @on(Input.Changed, "#details-quantity")
    def update_preview(self) -> None:
        error = self.query_one("#details-quantity-error", FieldError)
        target = self.query_one("#details-preview", Static)
        if self.price is None:
            return
        typed = self.query_one("#details-quantity", Input).value
        try:
            quantities = [parse_quantity(typed)] if typed.strip() else sample_quantities(self.price)[:3]
            text = Text()
            for quantity in quantities:
                text.append_text(preview_text(self.price, quantity))
                text.append("\n")
            target.update(text)
            error.clear()
        except ValueError as exc:
            error.show(str(exc))
            target.update("")
