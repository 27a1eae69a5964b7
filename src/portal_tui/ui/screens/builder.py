"""Products & pricing (step 2): build a product and its price in any pricing model, see what customers pay, create.

Every field is checked as you type by the pricing model's rules; Create stays disabled, and says why, while anything
is invalid. Creation runs in a worker with one idempotency key for the whole action, and a half-finished action
(product made, price failed) resumes instead of repeating: what was made is reused as long as its own fields did not
change. Below 100 columns the preview sits under the form; ctrl+o gives it the whole screen.
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from portal_tui.domain.money import (
    CURRENCIES,
    AmountError,
    format_money,
    parse_amount,
    parse_quantity,
    parse_unit_amount,
)
from portal_tui.domain.pricing import PriceDraft, PricingModel, breakdown, interval_label, sample_quantities
from portal_tui.services.product_setup import NewMeter, SetupProgress, SetupRequest
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.meter_picker import NEW, MeterPicker
from portal_tui.ui.widgets.review_modal import ReviewModal
from portal_tui.ui.widgets.tier_editor import TierEditor, TierRow
from portal_tui.ui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from portal_tui.services.errors import PortalError

PERIODS: list[tuple[str, str]] = [
    ("Daily", "day:1"),
    ("Weekly", "week:1"),
    ("Monthly", "month:1"),
    ("Every 3 months", "month:3"),
    ("Every 6 months", "month:6"),
    ("Yearly", "year:1"),
    ("Custom", "custom"),
]
TIERED_MODELS = {m.value for m in PricingModel if m.is_tiered}
# What a fresh form holds (the currency comes from the connected account; the meter picker resets itself).
SELECT_DEFAULTS: dict[str, str] = {
    "product-choice": NEW,
    "price-type": "recurring",
    "model": PricingModel.FLAT.value,
    "package-round": "up",
    "tiers-mode": "graduated",
    "period": "month:1",
    "interval": "month",
    "tax": "unspecified",
}
INPUT_DEFAULTS: dict[str, str] = {
    "interval-count": "1",
}
# Fields whose text is the admin's own work: when any holds something not yet created, leaving asks first.
CONTENT_INPUTS = (
    "product-name",
    "product-description",
    "amount",
    "package-size",
    "lookup-key",
    "nickname",
)
# Where each problem is shown, and which field must have been touched before an "it is empty" message shows.
ERROR_TARGETS: dict[str, str] = {
    "product-name": "#error-product-name",
    "model": "#error-model",
    "currency": "#error-currency",
    "unit_amount": "#error-unit_amount",
    "package_size": "#error-package_size",
    "package_round": "#error-package_size",
    "interval_count": "#error-interval_count",
    "interval": "#error-interval_count",
    "meter": "#error-meter",
    "new-meter": "#error-new-meter",
    "lookup_key": "#error-lookup_key",
    "nickname": "#error-nickname",
    "tax_behavior": "#error-tax",
    "tiers_mode": "#error-tiers",
}
TOUCH_KEYS: dict[str, tuple[str, ...]] = {
    "product-name": ("product-name",),
    "unit_amount": ("amount",),
    "package_size": ("package-size",),
    "new-meter": ("meter-name", "meter-event"),
}


def close_currencies(code: str) -> list[str]:
    """Currency codes a mistyped one probably meant: same start first, then similar spelling."""
    starts = [known for known in sorted(CURRENCIES) if code and known.startswith(code[:2])]
    similar = difflib.get_close_matches(code, sorted(CURRENCIES), n=4, cutoff=0.6)
    return list(dict.fromkeys([*similar, *starts]))[:5]


def replaced_is_default(price: dict[str, Any] | None) -> bool | None:
    """Whether `price` is its product's default price, when its product came expanded (None: not known here)."""
    if price is None:
        return None
    product = price.get("product")
    if not isinstance(product, dict) or "default_price" not in product:
        return None
    default = product["default_price"]
    return (default.get("id") if isinstance(default, dict) else default) == price.get("id")


class BuilderScreen(Screen[None]):
    """The "Add a product" form, keyboard first, with a live what-a-customer-pays preview."""

    DEFAULT_CLASSES = "dense"  # one-row fields (app CSS): at 80×24 the flat-rate form fits without scrolling
    DEFAULT_CSS = """
    BuilderScreen Vertical { height: auto; }
    BuilderScreen #builder-body { height: 1fr; }
    BuilderScreen #form { width: 1fr; padding: 0 1; }
    BuilderScreen #preview-pane { width: 44; border-left: vkey $panel; padding: 0 1; }
    BuilderScreen.narrow #builder-body { layout: vertical; }
    BuilderScreen.narrow #form { height: 1fr; }
    BuilderScreen.narrow #preview-pane { width: 1fr; height: 3; border-left: none; border-top: hkey $panel; }
    BuilderScreen.narrow.preview-full #form { display: none; }
    BuilderScreen.narrow.preview-full #preview-pane { height: 1fr; }
    /* Narrow: the form gets the height; under it two lines (price, total at the sample quantity), ctrl+o the rest */
    BuilderScreen #preview-compact, BuilderScreen #preview-help { display: none; }
    BuilderScreen.narrow #preview-pane > * { display: none; }
    BuilderScreen.narrow #preview-pane > #preview-compact { display: block; }
    BuilderScreen.narrow.preview-full #preview-pane > * { display: block; }
    BuilderScreen.narrow.preview-full #preview-pane > #preview-compact { display: none; }
    BuilderScreen.preview-hidden #preview-pane { display: none; }
    BuilderScreen .row { height: auto; }
    BuilderScreen .row > Label { width: 18; padding: 0 1 0 0; }
    BuilderScreen .row > Input, BuilderScreen .row > Select { width: 1fr; }
    BuilderScreen .section { text-style: bold; margin-top: 1; color: $accent; }
    BuilderScreen #form > .section:first-of-type { margin-top: 0; }
    BuilderScreen.short #form > .section, BuilderScreen.short #tier-keys { display: none; }
    BuilderScreen #transfer { margin-left: 17; }
    BuilderScreen #interval-count { width: 8; margin-right: 1; }
    BuilderScreen .hidden { display: none; }
    BuilderScreen #tier-keys { color: $text-muted; }
    BuilderScreen #create-row { height: auto; }
    BuilderScreen #why-not { color: $warning; padding: 0 1; width: 1fr; }
    BuilderScreen #why-not.done { color: $success; }
    BuilderScreen #result { height: auto; display: none; margin-top: 1; }
    BuilderScreen #result.visible { display: block; }
    BuilderScreen #result Horizontal { height: auto; }
    BuilderScreen #result Button { width: auto; min-width: 0; margin-right: 1; }
    BuilderScreen #progress { height: auto; color: $text-muted; }
    BuilderScreen FieldError { padding-left: 19; }
    BuilderScreen #preview-help { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "create", "Create…"),
        Binding("ctrl+o", "toggle_preview", "Preview"),
        Binding("ctrl+t", "add_tier", "Add tier"),
        # Priority: a focused Input would take ctrl+x as "cut"; outside the tier rows the action steps aside.
        Binding("ctrl+x", "remove_tier", "Remove tier", priority=True),
        Binding("ctrl+up", "move_tier(-1)", "Tier up", show=False),
        Binding("ctrl+down", "move_tier(1)", "Tier down", show=False),
        Binding("ctrl+r", "reset", "Reset form", show=False),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Pricing: review and create", "Show what will be sent, then create", "create"),
        ("Pricing: add a tier", "Insert a tier before the unbounded one", "add_tier"),
        ("Pricing: show or hide the preview", "Full screen on narrow terminals", "toggle_preview"),
        ("Pricing: reset the form", "Start a new product", "reset"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.products: list[dict[str, Any]] = []
        self.choices_loaded = False
        self.draft: PriceDraft | None = None
        self.request: SetupRequest | None = None
        self.problems: dict[str, str] = {}
        self.progress: SetupProgress | None = None
        self.replaces: dict[str, Any] | None = None
        self.result: SetupProgress | None = None
        self.created_snapshot: tuple[tuple[str, str], ...] | None = None
        # Fields the admin has put something in (even if deleted since): their "it is empty" errors show.
        self.touched: set[str] = set()
        self.attempted = False  # ctrl+n was pressed: every error shows at its field
        self.lookup_taken: tuple[str, str] | None = None  # (lookup key, message) found taken when creating
        self.currency_default = "usd"
        self._form_focus: Widget | None = None

    # ---- layout ----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar("2 Products & pricing")
        with Horizontal(id="builder-body"):
            with VerticalScroll(id="form"):
                yield Static("", id="replace-note", classes="notice hidden", markup=False)
                yield Label("Product", classes="section")
                with Horizontal(classes="row"):
                    yield Label("Add to")
                    yield Select([("New product", NEW)], value=NEW, allow_blank=False, id="product-choice")
                with Vertical(id="new-product"):
                    with Horizontal(classes="row"):
                        yield Label("Name *")
                        yield Input(placeholder="e.g. Pro VPS", id="product-name")
                    yield FieldError(id="error-product-name")
                    with Horizontal(classes="row"):
                        yield Label("Description")
                        yield Input(placeholder="shown on invoices and checkout", id="product-description")
                yield Label("Price", classes="section")
                with Horizontal(classes="row"):
                    yield Label("Type")
                    yield Select(
                        [("Recurring", "recurring"), ("One-off (e.g. setup fee)", "one_time")],
                        value="recurring",
                        allow_blank=False,
                        id="price-type",
                    )
                with Horizontal(classes="row"):
                    yield Label("Pricing model")
                    yield Select(
                        [(m.label, m.value) for m in PricingModel],
                        value=PricingModel.FLAT.value,
                        allow_blank=False,
                        id="model",
                    )
                yield FieldError(id="error-model")
                with Horizontal(classes="row"):
                    yield Label("Currency (code)")
                    yield Input(
                        value="usd",
                        placeholder="ISO code: usd, eur, gbp… (→ completes)",
                        id="currency",
                        suggester=SuggestFromList(sorted(CURRENCIES)),
                        restrict=r"[A-Za-z]{0,3}",
                    )
                yield FieldError(id="error-currency")
                with Horizontal(classes="row", id="amount-row"):
                    yield Label("Amount", id="amount-label")
                    yield Input(placeholder="e.g. 20.00 (or 0.0004 per unit)", id="amount")
                yield FieldError(id="error-unit_amount")
                with Vertical(id="package-fields"):
                    with Horizontal(classes="row"):
                        yield Label("Units per package")
                        yield Input(placeholder="e.g. 60", id="package-size", restrict=r"[0-9]*")
                    yield FieldError(id="error-package_size")
                    with Horizontal(classes="row"):
                        yield Label("Rounding")
                        yield Select(
                            [("Round up (bill any started package)", "up"), ("Round down", "down")],
                            value="up",
                            allow_blank=False,
                            id="package-round",
                        )
                with Vertical(id="tier-fields"):
                    with Horizontal(classes="row", id="tiers-mode-row"):
                        yield Label("Tiers")
                        yield Select(
                            [("Graduated", "graduated"), ("Volume", "volume")],
                            value="graduated",
                            allow_blank=False,
                            id="tiers-mode",
                        )
                    yield Static("ctrl+t add · ctrl+x remove · ctrl+↑↓ move prices", id="tier-keys")
                    yield TierEditor(id="tier-editor")
                    yield FieldError(id="error-tiers")
                with Vertical(id="period-fields"):
                    with Horizontal(classes="row"):
                        yield Label("Billing period")
                        yield Select(PERIODS, value="month:1", allow_blank=False, id="period")
                    with Horizontal(classes="row hidden", id="custom-period"):
                        yield Label("Every")
                        yield Input(value="1", id="interval-count", restrict=r"[0-9]*")
                        yield Select(
                            [("days", "day"), ("weeks", "week"), ("months", "month"), ("years", "year")],
                            value="month",
                            allow_blank=False,
                            id="interval",
                        )
                    yield FieldError(id="error-interval_count")
                yield MeterPicker(id="meter-fields")
                yield Label("Advanced", classes="section")
                with Horizontal(classes="row"):
                    yield Label("Lookup key")
                    yield Input(placeholder="e.g. pro_monthly (stable name for your code)", id="lookup-key")
                yield FieldError(id="error-lookup_key")
                yield Checkbox("Transfer the lookup key from the price holding it", id="transfer")
                with Horizontal(classes="row"):
                    yield Label("Nickname")
                    yield Input(placeholder="internal name, e.g. Pro monthly 2026", id="nickname")
                yield FieldError(id="error-nickname")
                with Horizontal(classes="row"):
                    yield Label("Tax behaviour")
                    yield Select(
                        [
                            ("Unspecified", "unspecified"),
                            ("Exclusive (tax added)", "exclusive"),
                            ("Inclusive (tax included)", "inclusive"),
                        ],
                        value="unspecified",
                        allow_blank=False,
                        id="tax",
                    )
                yield FieldError(id="error-tax")
                with Horizontal(id="create-row"):
                    yield Button("Review & create", id="create", variant="primary")
                    yield Static("", id="why-not", markup=False)
                yield Static("", id="progress", markup=False)
                with Vertical(id="result", classes="panel"):
                    yield Static("", id="result-text", markup=False)
                    with Horizontal():
                        yield Button("Copy price ID", id="copy-price")
                        yield Button("Copy product ID", id="copy-product")
                        yield Button("Link to a plan", id="link-plan", variant="primary")
                        yield Button("New product", id="new-form")
            with VerticalScroll(id="preview-pane"):
                yield Static("", id="preview-compact", markup=False)
                yield Label("What a customer pays", classes="section")
                yield Static("", id="summary", markup=False)
                yield Static("", id="samples")
                with Horizontal(classes="row"):
                    yield Label("At quantity")
                    yield Input(placeholder="e.g. 12000", id="preview-quantity", restrict=r"[0-9,_]*")
                yield Static("", id="preview-breakdown")
                yield Static("ctrl+o: back to the form", id="preview-help")
        yield KeyBar()

    def on_mount(self) -> None:
        self.reset_tiers()
        self.sync_default_currency()
        self.load_choices()
        self.refresh_form()
        self.query_one("#product-name", Input).focus()

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        self.sync_default_currency()
        if not self.choices_loaded:
            self.load_choices()

    def connection_changed(self) -> None:
        self.sync_default_currency()
        self.load_choices()

    def on_resize(self) -> None:
        # Too narrow for side by side: the preview goes under the form (ctrl+o shows it full screen).
        self.set_class(self.size.width < 100, "narrow")
        # A 24-row terminal: the section headings and the tier keys' hint (also in the key bar) give their rows to
        # the form, so a three-tier price fits from Name to "Review & create".
        self.set_class(self.size.height < 30, "short")

    def action_toggle_preview(self) -> None:
        if not self.has_class("narrow"):
            self.toggle_class("preview-hidden")
            return
        if self.has_class("preview-full"):
            self.remove_class("preview-full")
            if self._form_focus is not None and self._form_focus.is_attached:
                self._form_focus.focus()
            return
        self._form_focus = self.focused
        self.add_class("preview-full")
        self.query_one("#preview-quantity", Input).focus()

    def default_currency(self) -> str:
        """The connected account's default currency (usd until it is known)."""
        account = portal(self).context.account
        code = (account.default_currency or "").lower() if account is not None else ""
        return code if code in CURRENCIES else "usd"

    def sync_default_currency(self) -> None:
        """Follow the account's default currency while the admin has not chosen one."""
        field = self.query_one("#currency", Input)
        default = self.default_currency()
        if field.value.strip().lower() == self.currency_default and default != self.currency_default:
            field.value = default
        self.currency_default = default

    # ---- choices from Stripe ------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="builder-choices")
    def load_choices(self) -> None:
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        if not context.connected:
            return
        try:
            gateway = context.gateway()
            products, meters = gateway.list_products(), gateway.list_meters()
        except PortalError as error:
            self.app.call_from_thread(self.notify, error.message, title=error.title, severity="warning")
            return
        self.app.call_from_thread(self.set_choices, products, meters)

    def set_choices(self, products: list[dict[str, Any]], meters: list[dict[str, Any]]) -> None:
        self.choices_loaded = True
        # Selecting what was just created is part of the result, not a change by the admin.
        just_created = self.result is not None and self.snapshot() == self.created_snapshot
        known = {p["id"] for p in products}
        # Keep a product we were handed (e.g. the one of a replaced price) even if the list has not caught up.
        products = [*products, *(p for p in self.products if p["id"] not in known)]
        self.products = products
        product_select = self.query_one("#product-choice", Select)
        current = product_select.value
        product_select.set_options([("New product", NEW), *[(p["name"], p["id"]) for p in products]])
        product_select.value = current if current in {p["id"] for p in products} else NEW
        self.meter_picker.set_meters(meters)
        if just_created:
            self.created_snapshot = self.snapshot()
        self.refresh_form()

    # ---- meter ---------------------------------------------------------------------------------------------------

    @property
    def meter_picker(self) -> MeterPicker:
        return self.query_one(MeterPicker)

    @on(MeterPicker.Changed)
    def meter_changed(self) -> None:
        self.refresh_form()

    # ---- tiers ---------------------------------------------------------------------------------------------------

    @property
    def tier_editor(self) -> TierEditor:
        return self.query_one(TierEditor)

    def tier_rows(self) -> list[TierRow]:
        """The tier rows on screen, in order (rows being removed or not yet composed are left out)."""
        return self.tier_editor.rows()

    def reset_tiers(self) -> None:
        self.tier_editor.reset()

    def label_tiers(self) -> None:
        self.tier_editor.relabel()

    @on(TierEditor.Changed)
    def tiers_changed(self) -> None:
        self.refresh_form()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add_tier", "remove_tier", "move_tier") and self.is_mounted:
            # Hidden while the model has no tiers (and ctrl+x then cuts text in a field, as everywhere).
            return self.select("#model") in TIERED_MODELS
        return True

    def action_add_tier(self) -> None:
        self.tier_editor.add_row()

    def action_remove_tier(self) -> None:
        index = self.tier_editor.row_of(self.app.focused)
        if index is None and isinstance(self.app.focused, Input):
            raise SkipAction()  # ctrl+x in another field keeps its meaning there: cut
        if not self.tier_editor.remove_row(index):
            self.notify("A tiered price needs at least one tier.", severity="warning")

    def action_move_tier(self, direction: int) -> None:
        index = self.tier_editor.row_of(self.app.focused)
        if index is not None:
            self.tier_editor.move_row(index, direction)

    # ---- reading the form ------------------------------------------------------------------------------------------

    def value(self, selector: str) -> str:
        return self.query_one(selector, Input).value

    def select(self, selector: str) -> str:
        select: Select[str] = self.query_one(selector, Select)
        return "" if select.is_blank() else str(select.value)

    def snapshot(self) -> tuple[tuple[str, str], ...]:
        """Every value of the form (not the preview quantity): equal snapshots mean an unchanged form."""
        values: list[tuple[str, str]] = []
        for index, widget in enumerate(self.query_one("#form").query("Input, Select, Checkbox")):
            if isinstance(widget, Input | Select | Checkbox):
                values.append((widget.id or str(index), str(widget.value)))
        return tuple(values)

    @property
    def unsaved(self) -> bool:
        """The form holds the admin's input that has not been created (read by the app before quitting)."""
        if not self.is_mounted:
            return False
        has_input = (
            any(self.value(f"#{name}").strip() for name in CONTENT_INPUTS)
            or self.tier_editor.has_input()
            or self.meter_picker.has_input()
        )
        return has_input and self.snapshot() != self.created_snapshot

    def build(self) -> tuple[PriceDraft, SetupRequest, dict[str, str]]:
        """The draft and request from the form, and every problem keyed by field."""
        problems: dict[str, str] = {}
        product_choice = self.select("#product-choice")
        existing = None if product_choice in (NEW, "") else product_choice
        if existing is None and not self.value("#product-name").strip():
            problems["product-name"] = "Give the product a name"
        currency = self.value("#currency").strip().lower()
        model = PricingModel(self.select("#model"))
        recurring = self.select("#price-type") == "recurring"
        draft = PriceDraft(currency=currency or "usd", model=model, recurring=recurring)
        if currency not in CURRENCIES:
            if not currency:
                problems["currency"] = "Type a currency code, e.g. usd, eur, gbp"
            else:
                close = close_currencies(currency)
                problems["currency"] = f"Unknown currency '{currency}'" + (
                    f". Did you mean: {', '.join(close)}?" if close else ". Use a 3-letter ISO code such as usd or eur"
                )
            currency = draft.currency = "usd"  # keep validating the amounts; the price cannot be created anyway
        if not model.is_tiered:
            raw = self.value("#amount")
            if raw.strip():
                try:
                    # Fractions of a cent only make sense per unit of usage ("$0.0004 per call").
                    draft.unit_amount = (
                        parse_unit_amount(raw, currency)
                        if model is PricingModel.USAGE_PER_UNIT
                        else Decimal(parse_amount(raw, currency))
                    )
                except AmountError as error:
                    problems["unit_amount"] = error.message
        if model is PricingModel.USAGE_PACKAGE:
            size = self.value("#package-size")
            draft.package_size = int(size) if size.isdigit() else None
            draft.package_round = "down" if self.select("#package-round") == "down" else "up"
        if model.is_tiered:
            draft.tiers_mode = "volume" if self.select("#tiers-mode") == "volume" else "graduated"
            tiers, tier_problems = self.tier_editor.tiers(currency, decimal_units=model.is_usage_based)
            draft.tiers.extend(tiers)
            problems.update(tier_problems)
        if recurring:
            period = self.select("#period")
            if period == "custom":
                count = self.value("#interval-count")
                draft.interval = self.select("#interval")  # type: ignore[assignment]
                draft.interval_count = int(count) if count.isdigit() else 0
            else:
                interval, count = period.split(":")
                draft.interval, draft.interval_count = interval, int(count)  # type: ignore[assignment]
        new_meter: NewMeter | None = None
        if model.is_usage_based:
            chosen = self.meter_picker.meter_id
            problems.update(self.meter_picker.problems)
            if isinstance(chosen, NewMeter):
                new_meter = chosen
                draft.meter_id = "mtr_new"  # placeholder until the meter exists
            elif chosen:
                draft.meter_id = chosen
        draft.lookup_key = self.value("#lookup-key").strip() or None
        draft.transfer_lookup_key = self.query_one("#transfer", Checkbox).value and bool(draft.lookup_key)
        if self.lookup_taken and self.lookup_taken[0] == draft.lookup_key and not draft.transfer_lookup_key:
            problems["lookup_key"] = self.lookup_taken[1]
        draft.nickname = self.value("#nickname").strip() or None
        tax = self.select("#tax")
        draft.tax_behavior = None if tax == "unspecified" else tax  # type: ignore[assignment]
        for rule in draft.validate():
            problems.setdefault(rule.field, rule.message)
        request = SetupRequest(
            draft=draft,
            product_name=self.value("#product-name"),
            product_description=self.value("#product-description"),
            existing_product_id=existing,
            new_meter=new_meter,
            replaces_price_id=self.replaces["id"] if self.replaces else None,
            replaced_is_default=replaced_is_default(self.replaces),
        )
        return draft, request, problems

    # ---- reacting to input ------------------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def form_changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        if isinstance(event, Input.Changed):
            if event.input.id == "preview-quantity":
                self.update_preview()
                return
            if event.value.strip() and not event.input.disabled:  # not the "∞" the tier editor writes itself
                self.touched.add(event.input.id or "tiers")
            if event.input.has_class("tier-up-to"):
                self.label_tiers()
                return
        if isinstance(event, Select.Changed) and event.select.id == "model":
            self.refresh_bindings()
        self.refresh_form()

    def refresh_form(self) -> None:
        if not self.is_mounted:
            return
        model = PricingModel(self.select("#model"))
        recurring = self.select("#price-type") == "recurring"
        self.query_one("#new-product").display = self.select("#product-choice") == NEW
        self.query_one("#amount-row").display = not model.is_tiered
        self.query_one("#amount-label", Label).update(
            "Package price" if model is PricingModel.USAGE_PACKAGE else "Per unit" if model.is_usage_based else "Amount"
        )
        self.query_one("#package-fields").display = model is PricingModel.USAGE_PACKAGE
        self.query_one("#tier-fields").display = model.is_tiered
        self.query_one("#tiers-mode-row").display = model is PricingModel.USAGE_PER_TIER
        self.query_one("#period-fields").display = recurring
        self.query_one("#custom-period").set_class(self.select("#period") != "custom", "hidden")
        self.query_one("#meter-fields").display = model.is_usage_based
        self.meter_picker.show_fields()
        draft, request, problems = self.build()
        self.draft, self.request, self.problems = draft, request, problems
        self.show_problems(problems)
        self.update_preview()

    def _visible(self, field: str) -> bool:
        """Whether a problem shows at its field now: an empty required field only complains once touched."""
        if self.attempted:
            return True
        keys = TOUCH_KEYS.get(field)
        if keys is None:
            return True
        return any(key in self.touched or self.value(f"#{key}").strip() for key in keys)

    def show_problems(self, problems: dict[str, str]) -> None:
        shown: dict[str, list[str]] = {}
        tier_messages: list[str] = []
        tiers_touched = self.attempted or "tiers" in self.touched
        for field, message in problems.items():
            if field.startswith("tiers") and field != "tiers_mode":
                if "[" in field and not tiers_touched:
                    continue
                tier_messages.append(message)
                continue
            if self._visible(field):
                shown.setdefault(ERROR_TARGETS.get(field, "#error-model"), []).append(message)
        for target in set(ERROR_TARGETS.values()):
            self.query_one(target, FieldError).show("; ".join(shown.get(target, [])))
        self.query_one("#error-tiers", FieldError).show("\n".join(dict.fromkeys(tier_messages)))
        connected = portal(self).context.connected
        button = self.query_one("#create", Button)
        button.disabled = bool(problems) or not connected
        why = self.query_one("#why-not", Static)
        done = self.result is not None and self.snapshot() == self.created_snapshot
        why.set_class(done and not problems, "done")
        if not connected:
            why.update("Connect Stripe first (F1).")
        elif problems:
            first = next(iter(problems.values()))
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            why.update(f"Cannot create yet: {first}{more}")
        elif done and self.result is not None:
            why.update(
                f"✓ Created {self.result.price_id}. Change the price to add another to this product "
                "(ctrl+n asks before repeating it), or ctrl+r for a new product."
            )
        else:
            why.update("Ready: ctrl+n reviews exactly what will be sent.")

    def update_preview(self) -> None:
        draft = self.draft
        summary = self.query_one("#summary", Static)
        samples = self.query_one("#samples", Static)
        detail = self.query_one("#preview-breakdown", Static)
        blocking = {
            k: v for k, v in self.problems.items() if k not in ("product-name", "new-meter", "meter", "lookup_key")
        }
        compact = self.query_one("#preview-compact", Static)
        if draft is None or blocking:
            summary.update("Complete the price to see what a customer pays.")
            compact.update(Text("Complete the price to see what a customer pays.\nctrl+o: full preview", no_wrap=True))
            samples.update("")
            detail.update("")
            return
        price = draft.to_stripe_price()
        summary.update(draft.summary())
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("Quantity", justify="right")
        table.add_column("Customer pays", justify="right")
        for quantity in sample_quantities(price):
            table.add_row(f"{quantity:,}", format_money(breakdown(price, quantity).total, draft.currency))
        samples.update(table)
        try:
            quantity = parse_quantity(self.value("#preview-quantity"))
        except AmountError:
            quantity = sample_quantities(price)[-1]
        result = breakdown(price, quantity)
        text = Text()
        for row in result.rows:
            text.append(f"{row.text}\n")
        text.append(f"Total at {quantity:,}: ", style="bold")
        text.append(format_money(result.total, result.currency), style="bold green")
        period = f" / {interval_label(draft.interval, draft.interval_count)}" if draft.recurring else ""
        text.append(period)
        detail.update(text)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(draft.summary() + "\n")
        line.append(f"At {quantity:,}: ")
        line.append(format_money(result.total, result.currency), style="bold green")
        line.append(period + " · ctrl+o: full preview", style="")
        compact.update(line)

    # ---- create -----------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        self.attempted = True
        self.refresh_form()
        if not portal(self).context.connected:
            self.notify("Connect Stripe first (F1).", severity="warning")
            return
        if self.problems or self.request is None:
            self.notify(next(iter(self.problems.values()), "Complete the form first."), severity="warning")
            return
        request = self.request
        if self.result is not None and self.snapshot() == self.created_snapshot:
            from portal_tui.ui.widgets.confirm import ConfirmModal

            self.app.push_screen(
                ConfirmModal(
                    "Create another price for this product?",
                    f"{self.result.price_id} was just created from exactly this form. Confirm to add one more "
                    f"price with the same settings to {self.result.product_id}, or go back and change the form.",
                    confirm_label="Create another price",
                    destructive=False,
                ),
                lambda again: self.review(request) if again else None,
            )
            return
        self.review(request)

    def review(self, request: SetupRequest) -> None:
        progress = self.progress
        notes: list[str] = []
        if progress is not None:
            reused = [made for made in (progress.meter_for(request), progress.product_for(request)) if made]
            if reused:
                notes.append(
                    f"Resuming the unfinished action: {', '.join(reused)} already exist and are reused, "
                    "not created again."
                )
            orphans = progress.orphans(request)
            if orphans:
                notes.append(
                    f"You changed the product or meter since {', '.join(orphans)} was created, so a new one is "
                    "created below. The earlier one stays on Stripe unused: change the fields back to reuse it, or "
                    "archive it in the Dashboard."
                )
        if request.replaces_price_id:
            notes.append(
                f"{request.replaces_price_id} will be archived after the new price exists. Existing "
                "subscribers keep paying the old price until you move them; new checkouts use the new one."
            )
        live = portal(self).context.livemode
        self.app.push_screen(
            ReviewModal(request.review(progress), live, "\n".join(notes)),
            lambda ok: self.confirmed(request) if ok else None,
        )

    def confirmed(self, request: SetupRequest) -> None:
        self.run_worker(self._confirm_live_then_run(request), exclusive=True, group="create-confirm")

    async def _confirm_live_then_run(self, request: SetupRequest) -> None:
        if not await portal(self).confirm_write("Create this product and price", "A second, explicit confirmation."):
            return
        if self.progress is None:
            self.progress = SetupProgress()
        self.query_one("#create", Button).disabled = True
        self.run_setup(request, self.progress)

    @work(thread=True, exclusive=True, group="create")
    def run_setup(self, request: SetupRequest, progress: SetupProgress) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.services.product_setup import ProductSetup

        try:
            gateway = portal(self).context.gateway()
            setup = ProductSetup(gateway, request, progress)
            setup.run(lambda text: self.app.call_from_thread(self.set_progress, text))
        except PortalError as error:
            self.app.call_from_thread(self.create_failed, error)
            return
        self.app.call_from_thread(self.created, progress)

    def set_progress(self, text: str) -> None:
        self.query_one("#progress", Static).update(text)

    def create_failed(self, error: PortalError) -> None:
        from portal_tui.services.errors import InvalidRequestError

        done = self.progress.describe() if self.progress else "Nothing was created yet"
        if isinstance(error, InvalidRequestError) and error.param == "lookup_key":
            # Shown at the lookup key field until the key changes or the transfer is ticked.
            self.lookup_taken = (self.value("#lookup-key").strip(), error.message)
        self.set_progress(
            f"✗ {error.title}: {error.message}\n{error.hint or ''}\n{done}. Fix the form and press ctrl+n: "
            "what exists already is reused, not created again."
        )
        self.refresh_form()
        if self.lookup_taken is not None:
            self.query_one("#lookup-key", Input).focus()

    def created(self, progress: SetupProgress) -> None:
        replaced_key = (self.replaces or {}).get("lookup_key")
        self.result = progress
        self.progress = None
        self.replaces = None
        self.lookup_taken = None
        self.query_one("#replace-note").add_class("hidden")
        price = progress.price or {}
        # Further prices from this form go to the product just made, not to a second product of the same name.
        product_id = progress.product_id or ""
        if product_id and product_id not in {p["id"] for p in self.products}:
            self.products.append({"id": product_id, "name": self.value("#product-name").strip() or product_id})
            self.query_one("#product-choice", Select).set_options(
                [("New product", NEW), *[(p["name"], p["id"]) for p in self.products]]
            )
        if product_id:
            self.query_one("#product-choice", Select).value = product_id
        if progress.meter_id:
            self.meter_picker.remember(progress.meter_id)  # a new meter is chosen in the list once it is reloaded
        self.set_progress("✓ Created.")
        lines = [f"Product ID: {progress.product_id}", f"Price ID:   {price.get('id')}"]
        if progress.meter_id:
            lines.append(f"Meter ID:   {progress.meter_id}")
        if progress.archived:
            moved = f"; its lookup key {replaced_key} moved to the new price" if replaced_key else ""
            lines.append(f"The replaced price was archived{moved}. Plans linking it are offered the new one.")
        lines.append("Next: link the price to a plan, change the price to add another, or start a new product.")
        self.query_one("#result-text", Static).update("\n".join(lines))
        result = self.query_one("#result")
        result.add_class("visible")
        self.created_snapshot = self.snapshot()
        self.refresh_form()
        self.query_one("#copy-price", Button).focus()
        self.call_after_refresh(lambda: result.scroll_visible(animate=False))
        self.notify(f"Created {price.get('id')}", title="Price created")
        self.load_choices()
        portal(self).catalog_changed()  # the catalog re-reads, the plan editor re-checks (a replaced price)

    @on(Button.Pressed, "#copy-price")
    def copy_price(self) -> None:
        if self.result and self.result.price_id:
            self.app.copy_to_clipboard(self.result.price_id)
            self.notify(f"Copied {self.result.price_id}")

    @on(Button.Pressed, "#copy-product")
    def copy_product(self) -> None:
        if self.result and self.result.product_id:
            self.app.copy_to_clipboard(self.result.product_id)
            self.notify(f"Copied {self.result.product_id}")

    @on(Button.Pressed, "#link-plan")
    def link_plan(self) -> None:
        if self.result and self.result.price_id:
            portal(self).link_price_to_plan(self.result.price_id)

    # ---- reset ----------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#new-form")
    def action_reset(self) -> None:
        self._ask_before_discarding("Clear the form?", self.reset_form)

    def _ask_before_discarding(self, question: str, then: Any) -> None:
        if not self.unsaved:
            then()
            return
        from portal_tui.ui.widgets.confirm import ConfirmModal

        self.app.push_screen(
            ConfirmModal(question, "What you typed has not been created and will be lost.", confirm_label="Clear"),
            lambda ok: then() if ok else None,
        )

    def reset_form(self) -> None:
        """Every field back to what a fresh screen shows, and no memory of earlier attempts."""
        self.sync_default_currency()
        picker = self.meter_picker
        for field in self.query_one("#form").query(Input):
            if picker in field.ancestors:
                continue  # the picker resets its own fields
            if field.id == "currency":
                field.value = self.currency_default
            elif field.id in INPUT_DEFAULTS:
                field.value = INPUT_DEFAULTS[field.id]
            elif not field.has_class("tier-up-to") or not field.disabled:
                field.value = ""
        self.query_one("#preview-quantity", Input).value = ""
        for name, value in SELECT_DEFAULTS.items():
            self.query_one(f"#{name}", Select).value = value
        picker.reset()
        self.query_one("#transfer", Checkbox).value = False
        self.query_one("#replace-note").add_class("hidden")
        self.query_one("#result").remove_class("visible")
        self.set_progress("")
        self.replaces, self.progress, self.result, self.created_snapshot = None, None, None, None
        self.lookup_taken, self.attempted = None, False
        self.reset_tiers()
        self.touched.clear()
        self.refresh_bindings()
        self.refresh_form()
        self.query_one("#product-name", Input).focus()

    # ---- replacing a price -------------------------------------------------------------------------------------------

    def replace_price(self, price: dict[str, Any]) -> None:
        """Prefill the form from an existing price; creating then moves its lookup key and archives it."""
        self._ask_before_discarding("Replace the form with this price?", lambda: self._prefill(price))

    def _prefill(self, price: dict[str, Any]) -> None:
        from portal_tui.domain.money import format_amount_input

        self.reset_form()
        draft = PriceDraft.from_stripe(price)
        self.replaces = price
        product = price.get("product")
        product_id = product.get("id") if isinstance(product, dict) else product
        if product_id and product_id not in {p["id"] for p in self.products} and isinstance(product, dict):
            self.products.append(product)
            self.query_one("#product-choice", Select).set_options(
                [("New product", NEW), *[(p["name"], p["id"]) for p in self.products]]
            )
        if product_id in {p["id"] for p in self.products}:
            self.query_one("#product-choice", Select).value = product_id
        self.query_one("#price-type", Select).value = "recurring" if draft.recurring else "one_time"
        self.query_one("#model", Select).value = draft.model.value
        self.query_one("#currency", Input).value = draft.currency
        if draft.unit_amount is not None:
            self.query_one("#amount", Input).value = format_amount_input(draft.unit_amount, draft.currency)
        if draft.package_size:
            self.query_one("#package-size", Input).value = str(draft.package_size)
            self.query_one("#package-round", Select).value = draft.package_round
        self.query_one("#lookup-key", Input).value = draft.lookup_key or ""
        self.query_one("#transfer", Checkbox).value = bool(draft.lookup_key)
        self.query_one("#nickname", Input).value = draft.nickname or ""
        self.query_one("#tax", Select).value = draft.tax_behavior or "unspecified"
        period = f"{draft.interval}:{draft.interval_count}"
        self.query_one("#period", Select).value = period if period in dict(PERIODS).values() else "custom"
        self.query_one("#interval", Select).value = draft.interval
        self.query_one("#interval-count", Input).value = str(draft.interval_count)
        if draft.meter_id and not self.meter_picker.choose(draft.meter_id):
            self.load_choices()  # the picker selects it when the meter list arrives
        if draft.model.is_tiered:
            self.query_one("#tiers-mode", Select).value = draft.effective_tiers_mode
            self.run_worker(self._fill_tiers(draft), exclusive=True, group="fill-tiers")
        note = self.query_one("#replace-note", Static)
        moves = f", the lookup key '{draft.lookup_key}' moves to it" if draft.lookup_key else ""
        note.update(
            f"Replacing {price['id']}: prices cannot change, so a new price is created{moves} and the old one is "
            "archived. Existing subscribers keep the old price."
        )
        note.remove_class("hidden")
        self.refresh_bindings()
        self.refresh_form()
        if not draft.model.is_tiered:
            self.query_one("#amount", Input).focus()  # the name field is hidden: the product exists

    async def _fill_tiers(self, draft: PriceDraft) -> None:
        await self.tier_editor.fill(draft.tiers, draft.currency)
