"""The builder's price form: what the admin typed, which fields apply, what is wrong where, and what a create sends.

`PriceForm.values` holds the fields as typed (text and choices, the tier rows as text). Everything the screen shows
is read from here: `visibility()`, `shown_problems()` (an empty required field complains only once touched, or after
ctrl+n), `status()`, `preview()`, and `build()` turns the values into the `PriceDraft` and the `SetupRequest` a create
would send. `prefill()` loads an existing Stripe price to replace it; `reset()` starts again.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from portal_tui.domain.money import (
    CURRENCIES,
    AmountError,
    format_amount_input,
    format_money,
    parse_amount,
    parse_quantity,
    parse_unit_amount,
)
from portal_tui.domain.pricing import (
    Breakdown,
    CurrencyAmounts,
    PriceDraft,
    PricingModel,
    Tier,
    breakdown,
    interval_label,
    sample_quantities,
)
from portal_tui.services.product_setup import NewMeter, SetupProgress, SetupRequest

# The "New product" / "Create a new meter…" choice in the product and meter lists.
NEW = "__new__"
PERIODS: list[tuple[str, str]] = [
    ("Daily", "day:1"),
    ("Weekly", "week:1"),
    ("Monthly", "month:1"),
    ("Every 3 months", "month:3"),
    ("Every 6 months", "month:6"),
    ("Yearly", "year:1"),
    ("Custom", "custom"),
]
# A new meter's settings until changed: Stripe's usual payload keys and a sum of values.
AGGREGATION_DEFAULT = "sum"
CUSTOMER_KEY_DEFAULT = "stripe_customer_id"
VALUE_KEY_DEFAULT = "value"
# Fields holding the admin's own work: when any holds something not yet created, leaving asks first.
CONTENT_FIELDS = ("product_name", "product_description", "amount", "package_size", "lookup_key", "nickname")
# Problems keyed here show only once one of these fields was touched (typed in, even if deleted since).
TOUCH_KEYS: dict[str, tuple[str, ...]] = {
    "product-name": ("product_name",),
    "unit_amount": ("amount",),
    "package_size": ("package_size",),
    "new-meter": ("meter_name", "meter_event"),
}
# Problems that leave the price itself complete: the preview still shows what a customer pays.
NOT_ABOUT_THE_PRICE = ("product-name", "new-meter", "meter", "lookup_key")


def close_currencies(code: str) -> list[str]:
    """Currency codes a mistyped one probably meant: same start first, then similar spelling."""
    starts = [known for known in sorted(CURRENCIES) if code and known.startswith(code[:2])]
    similar = difflib.get_close_matches(code, sorted(CURRENCIES), n=4, cutoff=0.6)
    return list(dict.fromkeys([*similar, *starts]))[:5]


def currency_problem(code: str) -> str | None:
    """Why `code` (as typed) is not a currency Stripe knows, with the likely meant ones; None when it is."""
    if code in CURRENCIES:
        return None
    if not code:
        return "Type a currency code, e.g. usd, eur, gbp"
    close = close_currencies(code)
    return f"Unknown currency '{code}'" + (
        f". Did you mean: {', '.join(close)}?" if close else ". Use a 3-letter ISO code such as usd or eur"
    )


def replaced_is_default(price: dict[str, Any] | None) -> bool | None:
    """Whether `price` is its product's default price, when its product came expanded (None: not known here)."""
    if price is None:
        return None
    product = price.get("product")
    if not isinstance(product, dict) or "default_price" not in product:
        return None
    default = product["default_price"]
    return (default.get("id") if isinstance(default, dict) else default) == price.get("id")


def meter_problems(chosen: str | NewMeter | None, meters: list[dict[str, Any]]) -> dict[str, str]:
    """What stops a meter choice being used, keyed "meter" (nothing chosen) or "new-meter" (the new one's fields)."""
    if chosen is None:
        return {"meter": "Choose the meter this price bills, or “Create a new meter…”"}
    if isinstance(chosen, NewMeter):
        if not chosen.display_name or not chosen.event_name:
            return {"new-meter": "Give the new meter a display name and an event name"}
        if any(m["event_name"] == chosen.event_name for m in meters):
            return {"new-meter": f"A meter for event '{chosen.event_name}' exists: choose it above"}
    return {}


def tier_starts(up_tos: list[str]) -> list[int]:
    """Each tier row's "from": one more than the row above's "up to" (as typed; unreadable ones count as +1)."""
    starts: list[int] = []
    low = 1
    for index, text in enumerate(up_tos):
        starts.append(low)
        try:
            high = parse_quantity(text) if index < len(up_tos) - 1 else None
        except AmountError:
            high = None
        low = (high + 1) if high is not None and high >= low else low + 1
    return starts


def fractional_units(model: PricingModel) -> bool:
    """Whether the model's unit amounts may be fractions of a minor unit ($0.0004 per API call): per-unit usage
    prices and usage tiers; a package, a flat rate or a licensed tier costs whole minor units."""
    return model in (PricingModel.USAGE_PER_UNIT, PricingModel.USAGE_PER_TIER)


def parse_price_amount(text: str, currency: str, *, decimal_units: bool) -> Decimal:
    """A per-unit price in minor units; fractions of a minor unit only for usage ("$0.0004 per call")."""
    return parse_unit_amount(text, currency) if decimal_units else Decimal(parse_amount(text, currency))


def _read_tier_amounts(
    row: TierInput, tier: Tier, currency: str, where: str, label: str, decimal_units: bool
) -> dict[str, str]:
    """Fill `tier`'s per-unit price and flat fee from `row`; a problem per field that cannot be read ("where.field")."""
    problems: dict[str, str] = {}
    try:
        if row.unit_amount.strip():
            tier.unit_amount = parse_price_amount(row.unit_amount, currency, decimal_units=decimal_units)
    except AmountError as error:
        problems[f"{where}.unit_amount"] = f"{label}: {error.message}"
    try:
        if row.flat_amount.strip():
            tier.flat_amount = parse_amount(row.flat_amount, currency)
    except AmountError as error:
        problems[f"{where}.flat_amount"] = f"{label}: {error.message}"
    return problems


@dataclass
class TierInput:
    """One tier row as typed; the last row's `up_to` is unbounded and not read."""

    up_to: str = ""
    unit_amount: str = ""
    flat_amount: str = ""

    def has_input(self, last: bool) -> bool:
        return bool((self.up_to.strip() and not last) or self.unit_amount.strip() or self.flat_amount.strip())


def _fresh_tiers() -> list[TierInput]:
    return [TierInput(), TierInput()]


@dataclass
class CurrencyInput:
    """An extra currency of the price as typed: its amount (per-unit models) or one row per tier of the price's own
    (tiered models: the bounds follow the price's tiers, so only the amounts are typed; `up_to` stays empty)."""

    code: str  # lower-case ISO code
    amount: str = ""
    tiers: list[TierInput] = field(default_factory=list)

    def has_input(self) -> bool:
        return bool(self.amount.strip()) or any(tier.has_input(True) for tier in self.tiers)


def _fit_rows(rows: list[TierInput], count: int) -> list[TierInput]:
    """`rows` made `count` long the way the tier editor changes: rows come and go before the unbounded last one."""
    rows = list(rows)
    while len(rows) < count:
        rows.insert(max(len(rows) - 1, 0), TierInput())
    while len(rows) > max(count, 1):
        del rows[-2]
    return rows


def _tier_input(tier: Tier, currency: str, *, bounded: bool) -> TierInput:
    """A tier as the form shows it (`bounded`: with its "up to"; an extra currency's rows follow the price's own)."""
    return TierInput(
        "" if tier.up_to is None or not bounded else str(tier.up_to),
        "" if tier.unit_amount is None else format_amount_input(tier.unit_amount, currency),
        "" if tier.flat_amount is None else format_amount_input(tier.flat_amount, currency),
    )


def _currency_input(code: str, amounts: CurrencyAmounts) -> CurrencyInput:
    amount = "" if amounts.unit_amount is None else format_amount_input(amounts.unit_amount, code)
    return CurrencyInput(code, amount, [_tier_input(tier, code, bounded=False) for tier in amounts.tiers])


@dataclass
class PriceFormValues:
    """Every field of the form as typed; equal values mean an unchanged form."""

    product: str = NEW  # NEW, or the ID of an existing product
    product_name: str = ""
    product_description: str = ""
    price_type: str = "recurring"  # or "one_time"
    model: str = PricingModel.FLAT.value
    currency: str = "usd"
    amount: str = ""
    package_size: str = ""
    package_round: str = "up"
    tiers_mode: str = "graduated"
    tiers: list[TierInput] = field(default_factory=_fresh_tiers)
    period: str = "month:1"  # a PERIODS value
    interval: str = "month"  # with interval_count: the "custom" period
    interval_count: str = "1"
    meter: str = ""  # "" (none chosen), NEW, or an existing meter's ID
    meter_name: str = ""
    meter_event: str = ""
    meter_aggregation: str = AGGREGATION_DEFAULT
    meter_customer_key: str = CUSTOMER_KEY_DEFAULT
    meter_value_key: str = VALUE_KEY_DEFAULT
    lookup_key: str = ""
    transfer: bool = False
    nickname: str = ""
    tax: str = "unspecified"
    currencies: list[CurrencyInput] = field(default_factory=list)  # extra currencies, in the order added


FIELD_NAMES = frozenset(f.name for f in fields(PriceFormValues)) - {"tiers", "currencies"}
OPTION = "currency_options."  # the start of an extra currency's problem keys: "currency_options.eur.unit_amount"


@dataclass(frozen=True)
class Visibility:
    """Which parts of the form apply to the chosen model and price type."""

    new_product: bool
    amount: bool
    amount_label: str
    package: bool
    tiers: bool
    tiers_mode: bool
    period: bool
    custom_period: bool
    meter: bool


@dataclass(frozen=True)
class Built:
    """The form read: the draft, the request a create would send, and every problem keyed by field (in form order)."""

    draft: PriceDraft
    request: SetupRequest
    problems: dict[str, str]


@dataclass(frozen=True)
class Preview:
    """What a customer pays: the price, totals at sample quantities, and the breakdown at one quantity."""

    summary: str
    currency: str  # the price's own, lower-case
    samples: list[tuple[int, str]]  # (quantity, total)
    quantity: int
    rows: list[str]  # "11–25: 15 × $1.00 + $5.00 flat = $20.00"
    total: str
    period: str  # " / month", or "" for a one-off price
    others: list[CurrencyTotals] = field(default_factory=list)  # the same in each extra currency complete so far


@dataclass(frozen=True)
class CurrencyTotals:
    """What a customer billed in an extra currency pays: at each sample quantity, and at the preview's quantity."""

    code: str  # upper-case: "EUR"
    samples: list[str]
    total: str


class PriceForm:
    """The builder form's state and rules; the screen copies widget values in and renders what comes out."""

    def __init__(self, currency: str = "usd") -> None:
        self.currency_default = currency
        self.values = PriceFormValues(currency=currency)
        self.preview_quantity = ""
        self.products: list[dict[str, Any]] = []  # the account's products (plus one handed over by a replace)
        self.meters: list[dict[str, Any]] = []
        self.meters_loaded = False
        self.touched: set[str] = set()  # fields typed in (even if deleted since), "tiers" for any tier field
        self.attempted = False  # ctrl+n was pressed: every problem shows at its field
        self.lookup_taken: tuple[str, str] | None = None  # (lookup key, message) found taken when creating
        self.replaces: dict[str, Any] | None = None  # the Stripe price this form replaces
        self.progress: SetupProgress | None = None  # an unfinished create, resumed by the next one
        self.result: SetupProgress | None = None  # the last create that finished
        self.created_values: PriceFormValues | None = None  # the values the last create was made from

    # ---- editing ------------------------------------------------------------------------------------------------

    def edit(self, name: str, value: str | bool) -> None:
        """The admin changed field `name`; typing something counts as touching it."""
        if name not in FIELD_NAMES:
            raise KeyError(name)
        setattr(self.values, name, value)
        if isinstance(value, str) and value.strip():
            self.touched.add(name)

    def edit_tiers(self, tiers: list[TierInput]) -> None:
        self.values.tiers = tiers
        if any(tier.has_input(index == len(tiers) - 1) for index, tier in enumerate(tiers)):
            self.touched.add("tiers")
        if not tiers:
            return  # the tier editor refilling (a prefill): the currencies' rows wait for the tiers to come back
        for entry in self.values.currencies:  # each extra currency has a row per tier of the price's own
            entry.tiers = _fit_rows(entry.tiers, len(tiers))

    def tier_removed(self, index: int) -> None:
        """Tier row `index` of the price is going: each extra currency's row for it goes too."""
        for entry in self.values.currencies:
            if 0 <= index < len(entry.tiers) and len(entry.tiers) > 1:
                del entry.tiers[index]

    def snapshot(self) -> PriceFormValues:
        return replace(
            self.values,
            tiers=[replace(tier) for tier in self.values.tiers],
            currencies=[
                replace(entry, tiers=[replace(tier) for tier in entry.tiers]) for entry in self.values.currencies
            ],
        )

    # ---- extra currencies ---------------------------------------------------------------------------------------

    def currency_refusal(self, text: str) -> str | None:
        """Why the currency typed cannot be added to the price (None: it can)."""
        code = text.strip().lower()
        problem = currency_problem(code)
        if problem:
            return problem
        if code == self.values.currency.strip().lower():
            return f"{code.upper()} is the price's own currency: its amount is set in the form"
        if code in self.currency_codes():
            return f"{code.upper()} is added already"
        return None

    def add_currency(self, text: str) -> str | None:
        """Offer the price in one more currency (its amounts still empty); the refusal if it cannot be added."""
        refusal = self.currency_refusal(text)
        if refusal is None:
            code = text.strip().lower()
            self.values.currencies.append(CurrencyInput(code, tiers=[TierInput() for _ in self.values.tiers]))
        return refusal

    def remove_currency(self, code: str) -> None:
        self.values.currencies = [entry for entry in self.values.currencies if entry.code != code]
        self.touched.discard(OPTION + code)

    def edit_currency(self, entry: CurrencyInput) -> None:
        """The admin changed an extra currency's amounts (typing something touches it)."""
        self.values.currencies = [entry if e.code == entry.code else e for e in self.values.currencies]
        if entry.has_input():
            self.touched.add(OPTION + entry.code)

    def currency_codes(self) -> list[str]:
        return [entry.code for entry in self.values.currencies]

    def tier_bounds(self) -> list[str]:
        """Each tier of the price as a range ("1 – 10", "11 – ∞"): what an extra currency's tier rows show."""
        up_tos = [tier.up_to.strip() for tier in self.values.tiers]
        return [
            f"{low:,} – {'∞' if index == len(up_tos) - 1 else up_tos[index] or '?'}"
            for index, low in enumerate(tier_starts(up_tos))
        ]

    def reset(self) -> None:
        """Every field back to a fresh form's, and no memory of earlier attempts (products and meters stay known)."""
        meter = NEW if self.meters_loaded and not self.meters else ""  # nothing to choose: a new meter is the choice
        self.values = PriceFormValues(currency=self.currency_default, meter=meter)
        self.preview_quantity = ""
        self.touched.clear()
        self.attempted = False
        self.lookup_taken = self.replaces = self.progress = self.result = self.created_values = None

    def follow_account_currency(self, code: str | None) -> bool:
        """Take the account's default currency while the admin has not chosen one; True if the field changed."""
        default = (code or "").lower()
        default = default if default in CURRENCIES else "usd"
        changed = self.values.currency.strip().lower() == self.currency_default and default != self.currency_default
        if changed:
            self.values.currency = default
        self.currency_default = default
        return changed

    def add_products(self, products: list[dict[str, Any]]) -> None:
        """The account's products as choices, keeping one handed over earlier that the list has not caught up with."""
        known = {p["id"] for p in products}
        self.products = [*products, *(p for p in self.products if p["id"] not in known)]
        if self.values.product not in {p["id"] for p in self.products}:
            self.values.product = NEW

    def set_meters(self, meters: list[dict[str, Any]]) -> None:
        self.meters, self.meters_loaded = meters, True

    # ---- what applies -------------------------------------------------------------------------------------------

    @property
    def model(self) -> PricingModel:
        return PricingModel(self.values.model)

    @property
    def recurring(self) -> bool:
        return self.values.price_type == "recurring"

    def visibility(self) -> Visibility:
        model = self.model
        label = "Package price" if model is PricingModel.USAGE_PACKAGE else "Per unit" if model.is_usage_based else ""
        return Visibility(
            new_product=self.values.product == NEW,
            amount=not model.is_tiered,
            amount_label=label or "Amount",
            package=model is PricingModel.USAGE_PACKAGE,
            tiers=model.is_tiered,
            tiers_mode=model is PricingModel.USAGE_PER_TIER,
            period=self.recurring,
            custom_period=self.values.period == "custom",
            meter=model.is_usage_based,
        )

    # ---- reading the values -------------------------------------------------------------------------------------

    def new_meter(self) -> NewMeter:
        v = self.values
        return NewMeter(
            v.meter_name.strip(),
            v.meter_event.strip(),
            v.meter_aggregation,  # type: ignore[arg-type]
            v.meter_customer_key.strip() or CUSTOMER_KEY_DEFAULT,
            v.meter_value_key.strip() or VALUE_KEY_DEFAULT,
        )

    def meter_choice(self) -> str | NewMeter | None:
        """The chosen meter: an existing one's ID, the new meter to create, or None while nothing is chosen."""
        if self.values.meter == NEW:
            return self.new_meter()
        return self.values.meter or None

    def tiers(self, currency: str, *, decimal_units: bool) -> tuple[list[Tier], dict[str, str]]:
        """The tier rows as Tiers, and a problem per field that cannot be read (keyed `tiers[i].field`)."""
        tiers: list[Tier] = []
        problems: dict[str, str] = {}
        rows = self.values.tiers
        for index, row in enumerate(rows):
            tier = Tier(up_to=None)
            if index < len(rows) - 1:
                try:
                    tier.up_to = parse_quantity(row.up_to)
                except AmountError:
                    problems[f"tiers[{index}].up_to"] = f"Tier {index + 1}: enter where it ends ('up to')"
                    tier.up_to = 0
            problems.update(
                _read_tier_amounts(row, tier, currency, f"tiers[{index}]", f"Tier {index + 1}", decimal_units)
            )
            tiers.append(tier)
        return tiers, problems

    def currency_options(self, draft: PriceDraft) -> tuple[dict[str, CurrencyAmounts], dict[str, str]]:
        """The extra currencies' amounts on the draft's tier bounds, and a problem per field that cannot be read."""
        options: dict[str, CurrencyAmounts] = {}
        problems: dict[str, str] = {}
        decimal_units = fractional_units(draft.model)
        for entry in self.values.currencies:
            key, name = OPTION + entry.code, entry.code.upper()
            # One tax behaviour for the whole price: each currency is taxed the way the form says.
            amounts = CurrencyAmounts(tax_behavior=draft.tax_behavior)
            if draft.model.is_tiered:
                # No tiers of its own yet (all removed, or the tier editor is refilling): nothing to follow.
                rows = _fit_rows(entry.tiers, len(draft.tiers)) if draft.tiers else []
                for index, (row, own) in enumerate(zip(rows, draft.tiers, strict=True)):
                    tier = Tier(up_to=own.up_to)
                    where, label = f"{key}.tiers[{index}]", f"{name} tier {index + 1}"
                    problems.update(_read_tier_amounts(row, tier, entry.code, where, label, decimal_units))
                    amounts.tiers.append(tier)
            elif entry.amount.strip():
                try:
                    amounts.unit_amount = parse_price_amount(entry.amount, entry.code, decimal_units=decimal_units)
                except AmountError as error:
                    problems[f"{key}.unit_amount"] = f"{name} amount: {error.message}"
            options[entry.code] = amounts
        return options, problems

    def build(self) -> Built:
        """The draft and request from the values, and every problem keyed by field."""
        v = self.values
        problems: dict[str, str] = {}
        existing = None if v.product in (NEW, "") else v.product
        if existing is None and not v.product_name.strip():
            problems["product-name"] = "Give the product a name"
        currency = v.currency.strip().lower()
        model = self.model
        draft = PriceDraft(currency=currency or "usd", model=model, recurring=self.recurring)
        wrong_currency = currency_problem(currency)
        if wrong_currency:
            problems["currency"] = wrong_currency
            currency = draft.currency = "usd"  # keep validating the amounts; the price cannot be created anyway
        if not model.is_tiered and v.amount.strip():
            try:
                draft.unit_amount = parse_price_amount(v.amount, currency, decimal_units=fractional_units(model))
            except AmountError as error:
                problems["unit_amount"] = error.message
        if model is PricingModel.USAGE_PACKAGE:
            draft.package_size = int(v.package_size) if v.package_size.isdigit() else None
            draft.package_round = "down" if v.package_round == "down" else "up"
        if model.is_tiered:
            draft.tiers_mode = "volume" if v.tiers_mode == "volume" else "graduated"
            tiers, tier_problems = self.tiers(currency, decimal_units=fractional_units(model))
            draft.tiers.extend(tiers)
            problems.update(tier_problems)
        if draft.recurring:
            if v.period == "custom":
                draft.interval = v.interval  # type: ignore[assignment]
                draft.interval_count = int(v.interval_count) if v.interval_count.isdigit() else 0
            else:
                interval, count = v.period.split(":")
                draft.interval, draft.interval_count = interval, int(count)  # type: ignore[assignment]
        new_meter: NewMeter | None = None
        if model.is_usage_based:
            chosen = self.meter_choice()
            problems.update(meter_problems(chosen, self.meters))
            if isinstance(chosen, NewMeter):
                new_meter = chosen
                draft.meter_id = "mtr_new"  # placeholder until the meter exists
            elif chosen:
                draft.meter_id = chosen
        draft.lookup_key = v.lookup_key.strip() or None
        draft.transfer_lookup_key = v.transfer and bool(draft.lookup_key)
        if self.lookup_taken and self.lookup_taken[0] == draft.lookup_key and not draft.transfer_lookup_key:
            problems["lookup_key"] = self.lookup_taken[1]
        draft.nickname = v.nickname.strip() or None
        draft.tax_behavior = None if v.tax == "unspecified" else v.tax  # type: ignore[assignment]
        draft.currency_options, option_problems = self.currency_options(draft)
        problems.update(option_problems)
        for rule in draft.validate():
            problems.setdefault(rule.field, rule.message)
        request = SetupRequest(
            draft=draft,
            product_name=v.product_name,
            product_description=v.product_description,
            existing_product_id=existing,
            new_meter=new_meter,
            replaces_price_id=self.replaces["id"] if self.replaces else None,
            replaced_is_default=replaced_is_default(self.replaces),
        )
        return Built(draft, request, problems)

    @property
    def problems(self) -> dict[str, str]:
        return self.build().problems

    # ---- what the screen shows ------------------------------------------------------------------------------------

    def _touched(self, problem: str) -> bool:
        """Whether a problem shows now: an empty required field only complains once touched (or after ctrl+n)."""
        keys = TOUCH_KEYS.get(problem)
        if self.attempted or keys is None:
            return True
        return any(key in self.touched or str(getattr(self.values, key)).strip() for key in keys)

    def shown_problems(self, problems: dict[str, str] | None = None) -> dict[str, str]:
        """The problems to show at their fields now, by key; every tier problem together under "tiers", and every
        problem of an extra currency together under "currency_options.<code>" (its section of the form)."""
        problems = self.build().problems if problems is None else problems
        shown: dict[str, str] = {}
        grouped: dict[str, list[str]] = {}
        tiers_touched = self.attempted or "tiers" in self.touched
        for key, message in problems.items():
            if key.startswith("tiers") and key != "tiers_mode":
                if "[" not in key or tiers_touched:  # a row's problem waits until the rows were typed in
                    grouped.setdefault("tiers", []).append(message)
            elif key.startswith(OPTION):
                section = OPTION + key[len(OPTION) :].split(".")[0]
                # A currency just added is not wrong yet: its problems wait until its amounts were typed in.
                if self.attempted or key == section or section in self.touched:
                    grouped.setdefault(section, []).append(message)
            elif self._touched(key):
                shown[key] = message
        shown.update({key: "\n".join(dict.fromkeys(messages)) for key, messages in grouped.items()})
        return shown

    @property
    def just_created(self) -> bool:
        """The last create was made from exactly these values."""
        return self.result is not None and self.snapshot() == self.created_values

    def status(self, problems: dict[str, str], *, connected: bool) -> str:
        """The line beside "Review & create": why it cannot create yet, that it is ready, or what was created."""
        if not connected:
            return "Connect Stripe first (F1)."
        if problems:
            first = next(iter(problems.values()))
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            return f"Cannot create yet: {first}{more}"
        if self.just_created and self.result is not None:
            return (
                f"✓ Created {self.result.price_id}. Change the price to add another to this product "
                "(ctrl+n asks before repeating it), or ctrl+r for a new product."
            )
        return "Ready: ctrl+n reviews exactly what will be sent."

    def has_input(self) -> bool:
        """The admin typed something of their own: a name, an amount, a tier, a new meter's name…"""
        v = self.values
        tiers = any(tier.has_input(index == len(v.tiers) - 1) for index, tier in enumerate(v.tiers))
        return (
            any(getattr(v, name).strip() for name in CONTENT_FIELDS)
            or tiers
            or bool(v.meter_name.strip() or v.meter_event.strip())
            or bool(v.currencies)
        )

    @property
    def unsaved(self) -> bool:
        """The form holds input that has not been created."""
        return self.has_input() and self.snapshot() != self.created_values

    def preview(self, built: Built | None = None) -> Preview | None:
        """What a customer pays, or None while the price itself is incomplete or wrong; the extra currencies complete
        so far are billed too (one still being typed is left out rather than hiding the others)."""
        built = built or self.build()
        if any(key not in NOT_ABOUT_THE_PRICE and not key.startswith(OPTION) for key in built.problems):
            return None
        complete = {
            code: amounts
            for code, amounts in built.draft.currency_options.items()
            if not any(key == OPTION + code or key.startswith(f"{OPTION}{code}.") for key in built.problems)
        }
        draft = replace(built.draft, currency_options=complete)
        price = draft.to_stripe_price()
        quantities = sample_quantities(price)
        try:
            quantity = parse_quantity(self.preview_quantity)
        except AmountError:
            quantity = quantities[-1]

        def totals(code: str) -> tuple[list[str], Breakdown]:
            result = breakdown(price, quantity, currency=code)
            return [format_money(breakdown(price, q, currency=code).total, code) for q in quantities], result

        samples, result = totals(draft.currency)
        others: list[CurrencyTotals] = []
        for code in complete:
            extra, at = totals(code)
            others.append(CurrencyTotals(code.upper(), extra, format_money(at.total, code)))
        return Preview(
            summary=draft.summary(),
            currency=draft.currency,
            samples=list(zip(quantities, samples, strict=True)),
            quantity=quantity,
            rows=[row.text for row in result.rows],
            total=format_money(result.total, result.currency),
            period=f" / {interval_label(draft.interval, draft.interval_count)}" if draft.recurring else "",
            others=others,
        )

    # ---- creating -------------------------------------------------------------------------------------------------

    def review_notes(self, request: SetupRequest) -> str:
        """What the review says besides the calls: a resumed action, objects left unused, the archive to come."""
        notes: list[str] = []
        progress = self.progress
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
        return "\n".join(notes)

    def lookup_key_refused(self, message: str) -> None:
        """Stripe holds the lookup key elsewhere: shown at the field until it changes or the transfer is ticked."""
        self.lookup_taken = (self.values.lookup_key.strip(), message)

    def created(self, progress: SetupProgress) -> None:
        """The create finished: further prices from this form go to the product just made."""
        self.result, self.progress, self.replaces, self.lookup_taken = progress, None, None, None
        product_id = progress.product_id or ""
        if product_id and product_id not in {p["id"] for p in self.products}:
            self.products.append({"id": product_id, "name": self.values.product_name.strip() or product_id})
        if product_id:
            self.values.product = product_id
        self.created_values = self.snapshot()

    # ---- replacing a price ----------------------------------------------------------------------------------------

    def prefill(self, price: dict[str, Any]) -> PriceDraft:
        """A fresh form holding `price`'s terms; creating then replaces it (its lookup key moves, it is archived)."""
        self.reset()
        draft = PriceDraft.from_stripe(price)
        self.replaces = price
        product = price.get("product")
        product_id = product.get("id") if isinstance(product, dict) else product
        if isinstance(product, dict) and product_id not in {p["id"] for p in self.products}:
            self.products.append(product)
        v = self.values
        if product_id in {p["id"] for p in self.products}:
            v.product = str(product_id)
        v.price_type = "recurring" if draft.recurring else "one_time"
        v.model = draft.model.value
        v.currency = draft.currency
        if draft.unit_amount is not None:
            v.amount = format_amount_input(draft.unit_amount, draft.currency)
        if draft.package_size:
            v.package_size, v.package_round = str(draft.package_size), draft.package_round
        v.lookup_key = draft.lookup_key or ""
        v.transfer = bool(draft.lookup_key)
        v.nickname = draft.nickname or ""
        v.tax = draft.tax_behavior or "unspecified"
        period = f"{draft.interval}:{draft.interval_count}"
        v.period = period if period in dict(PERIODS).values() else "custom"
        v.interval, v.interval_count = draft.interval, str(draft.interval_count)
        if draft.meter_id and draft.meter_id in {m["id"] for m in self.meters}:
            v.meter = draft.meter_id
        if draft.model.is_tiered:
            v.tiers_mode = draft.effective_tiers_mode
            v.tiers = [_tier_input(tier, draft.currency, bounded=True) for tier in draft.tiers] or [TierInput()]
        v.currencies = [_currency_input(code, amounts) for code, amounts in sorted(draft.currency_options.items())]
        return draft

    def replace_note(self) -> str:
        if self.replaces is None:
            return ""
        key = self.replaces.get("lookup_key")
        moves = f", the lookup key '{key}' moves to it" if key else ""
        return (
            f"Replacing {self.replaces['id']}: prices cannot change, so a new price is created{moves} and the old one "
            "is archived. Existing subscribers keep the old price."
        )
