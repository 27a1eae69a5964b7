"""The builder's form fields, top to bottom: product, price, usage meter, advanced, and "Review & create".

Layout only: every field is bound by its ID to the form model (`portal_tui.forms.price_form.PriceForm`) by the
builder screen, which also decides what shows. At 80×24 the flat-rate form fits without scrolling (dense rows).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from portal_tui.domain.money import CURRENCIES
from portal_tui.domain.pricing import PricingModel
from portal_tui.forms.price_form import (
    FIELD_NAMES,
    NEW,
    OPTION,
    PERIODS,
    CurrencyInput,
    PriceForm,
    PriceFormValues,
    Visibility,
)
from portal_tui.ui.widgets.extra_currency import ExtraCurrency
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.meter_picker import MeterPicker
from portal_tui.ui.widgets.setup_result import SetupResult
from portal_tui.ui.widgets.tier_editor import TierEditor

# Each widget bound to a field of the form model, by widget ID: the field's name spelt with "-", two named otherwise.
# (The tier rows are bound as a whole.)
BOUND: dict[str, str] = {
    {"product": "product-choice", "meter_aggregation": "meter-agg"}.get(name, name.replace("_", "-")): name
    for name in sorted(FIELD_NAMES)
}
# A problem shows under the field of its key ("#error-<key>"), these under another one, any other under the model.
ERROR_AT = {"package_round": "package_size", "interval": "interval_count", "tax_behavior": "tax", "tiers_mode": "tiers"}
Bindable = Input | Select[str] | Checkbox


def row(label: str | Label, *widgets: Widget, id: str | None = None, classes: str = "row") -> Horizontal:
    """A labelled one-row field."""
    return Horizontal(label if isinstance(label, Label) else Label(label), *widgets, id=id, classes=classes)


class PriceFields(VerticalScroll):
    """Every field of the builder's form, with a FieldError under each that can be wrong, and the create button."""

    def __init__(self, values: PriceFormValues, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values = values  # what the fields start with

    def compose(self) -> ComposeResult:
        v = self.values
        yield Static("", id="replace-note", classes="notice hidden", markup=False)
        yield Label("Product", classes="section")
        yield row("Add to", Select([("New product", NEW)], value=NEW, allow_blank=False, id="product-choice"))
        with Vertical(id="new-product"):
            yield row("Name *", Input(placeholder="e.g. Pro VPS", id="product-name"))
            yield FieldError(id="error-product-name")
            yield row("Description", Input(placeholder="shown on invoices and checkout", id="product-description"))
        yield Label("Price", classes="section")
        types = [("Recurring", "recurring"), ("One-off (e.g. setup fee)", "one_time")]
        yield row("Type", Select(types, value=v.price_type, allow_blank=False, id="price-type"))
        models = [(m.label, m.value) for m in PricingModel]
        yield row("Pricing model", Select(models, value=v.model, allow_blank=False, id="model"))
        yield FieldError(id="error-model")
        yield row(
            "Currency (code)",
            Input(
                value=v.currency,
                placeholder="ISO code: usd, eur, gbp… (→ completes)",
                id="currency",
                suggester=SuggestFromList(sorted(CURRENCIES)),
                restrict=r"[A-Za-z]{0,3}",
            ),
        )
        yield FieldError(id="error-currency")
        amount = Input(placeholder="e.g. 20.00 (or 0.0004 per unit)", id="amount")
        yield row(Label("Amount", id="amount-label"), amount, id="amount-row")
        yield FieldError(id="error-unit_amount")
        with Vertical(id="package-fields"):
            yield row("Units per package", Input(placeholder="e.g. 60", id="package-size", restrict=r"[0-9]*"))
            yield FieldError(id="error-package_size")
            rounding = [("Round up (bill any started package)", "up"), ("Round down", "down")]
            yield row("Rounding", Select(rounding, value=v.package_round, allow_blank=False, id="package-round"))
        with Vertical(id="tier-fields"):
            modes = [("Graduated", "graduated"), ("Volume", "volume")]
            mode = Select(modes, value=v.tiers_mode, allow_blank=False, id="tiers-mode")
            yield row("Tiers", mode, id="tiers-mode-row")
            yield Static("ctrl+t add · ctrl+x remove · ctrl+↑↓ move prices", id="tier-keys")
            yield TierEditor(id="tier-editor")
            yield FieldError(id="error-tiers")
        yield Vertical(id="currencies")  # one ExtraCurrency per currency added (ctrl+g)
        with Vertical(id="period-fields"):
            yield row("Billing period", Select(PERIODS, value=v.period, allow_blank=False, id="period"))
            units = [("days", "day"), ("weeks", "week"), ("months", "month"), ("years", "year")]
            yield row(
                "Every",
                Input(value=v.interval_count, id="interval-count", restrict=r"[0-9]*"),
                Select(units, value=v.interval, allow_blank=False, id="interval"),
                id="custom-period",
                classes="row hidden",
            )
            yield FieldError(id="error-interval_count")
        yield MeterPicker(id="meter-fields")
        yield Label("Advanced", classes="section")
        key = Input(placeholder="e.g. pro_monthly (stable name for your code)", id="lookup-key")
        yield row("Lookup key", key)
        yield FieldError(id="error-lookup_key")
        yield Checkbox("Transfer the lookup key from the price holding it", id="transfer")
        yield row("Nickname", Input(placeholder="internal name, e.g. Pro monthly 2026", id="nickname"))
        yield FieldError(id="error-nickname")
        taxes = [
            ("Unspecified", "unspecified"),
            ("Exclusive (tax added)", "exclusive"),
            ("Inclusive (tax included)", "inclusive"),
        ]
        yield row("Tax behaviour", Select(taxes, value=v.tax, allow_blank=False, id="tax"))
        yield FieldError(id="error-tax")
        with Horizontal(id="create-row"):
            yield Button("Review & create", id="create", variant="primary")
            yield Static("", id="why-not", markup=False)
        yield Static("", id="progress", markup=False)
        yield SetupResult(id="result", classes="panel")

    # ---- bound to the form model ----------------------------------------------------------------------------------

    def field(self, widget_id: str) -> Bindable:
        widget = self.query_one(f"#{widget_id}")
        assert isinstance(widget, Input | Select | Checkbox)
        return widget

    def value_of(self, widget_id: str) -> str | bool:
        """What a bound widget holds, as the form model keeps it ("" for a Select with nothing chosen)."""
        widget = self.field(widget_id)
        if isinstance(widget, Select):
            return "" if widget.is_blank() else str(widget.value)
        return widget.value

    def show_values(self, values: PriceFormValues, *widget_ids: str) -> None:
        """Put the values in these widgets (every bound one when none are named); unchanged ones are left alone."""
        for widget_id in widget_ids or BOUND:
            value, widget = getattr(values, BOUND[widget_id]), self.field(widget_id)
            if self.value_of(widget_id) == value:
                continue
            if isinstance(widget, Select) and value == "":
                widget.clear()
            else:
                widget.value = value

    def show_products(self, products: list[dict[str, Any]], chosen: str) -> None:
        select = self.query_one("#product-choice", Select)
        select.set_options([("New product", NEW), *[(p["name"], p["id"]) for p in products]])
        select.value = chosen

    def show(self, form: PriceForm, problems: dict[str, str], *, connected: bool, focus: str | None = None) -> None:
        """Everything the form model says about the fields: which apply, the extra currencies, the problems at their
        fields, and whether (or why not) it can create."""
        self.show_visibility(form.visibility())
        tiered = form.model.is_tiered
        self.show_currencies(form.values.currencies, tiered=tiered, bounds=form.tier_bounds(), focus=focus)
        self.show_problems(form.shown_problems(problems))
        self.show_status(
            form.status(problems, connected=connected),
            done=form.just_created and not problems,
            can_create=not problems and connected,
        )

    def show_visibility(self, seen: Visibility) -> None:
        self.query_one("#new-product").display = seen.new_product
        self.query_one("#amount-row").display = seen.amount
        label = self.query_one("#amount-label", Label)
        if str(label.content) != seen.amount_label:
            label.update(seen.amount_label)
        self.query_one("#package-fields").display = seen.package
        self.query_one("#tier-fields").display = seen.tiers
        self.query_one("#tiers-mode-row").display = seen.tiers_mode
        self.query_one("#period-fields").display = seen.period
        self.query_one("#custom-period").set_class(not seen.custom_period, "hidden")
        self.query_one("#meter-fields").display = seen.meter
        self.query_one(MeterPicker).show_fields()

    def show_problems(self, shown: dict[str, str]) -> None:
        """Each problem under its field (several at one field joined by "; "), every other FieldError cleared."""
        at: dict[str, list[str]] = {}
        errors = list(self.query(FieldError))
        known = {error.id for error in errors}
        for key, message in shown.items():
            target = f"error-{ERROR_AT.get(key, key)}".replace(OPTION, "currency-")
            at.setdefault(target if target in known else "error-model", []).append(message)
        for error in errors:
            error.show("; ".join(at.get(error.id or "", [])))

    def show_status(self, text: str, *, done: bool, can_create: bool) -> None:
        """The line beside "Review & create" (green once created from these values), and whether it can be pressed."""
        self.query_one("#create", Button).disabled = not can_create
        why = self.query_one("#why-not", Static)
        why.set_class(done, "done")
        if str(why.content) != text:  # unchanged on most keystrokes: updating it anyway lays the form out again
            why.update(text)

    def show_currencies(
        self, entries: list[CurrencyInput], *, tiered: bool, bounds: list[str], focus: str | None = None
    ) -> None:
        """One section per extra currency, in order; a section whose shape changed (model, tier count) is rebuilt.
        `focus`: the code of a currency just added, whose first amount gets the cursor."""
        box = self.query_one("#currencies", Vertical)
        shown = {s.code: s for s in box.query_children(ExtraCurrency) if not (s._closing or s._pruning)}
        wanted = {entry.code: entry for entry in entries}
        for code, section in shown.items():
            if code not in wanted:
                section.remove()
        for code, entry in wanted.items():
            present = shown.get(code)
            if present is None:
                box.mount(ExtraCurrency(entry, tiered=tiered, bounds=bounds, focus=code == focus))
            elif present.fits(entry, tiered=tiered, bounds=bounds):
                present.show_bounds(bounds)
            else:
                present.reshape(entry, tiered=tiered, bounds=bounds)
