"""Pricing models, their validation, their Stripe form, and what Stripe bills for one line in one period.

Everything here is pure: a `PriceDraft` is what the builder form edits, a Stripe Price is a plain JSON dict,
and `amount_for` / `breakdown` compute a customer's bill from such a dict by the rules in STRIPE_NOTES.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, cast

from portal_tui.domain.money import (
    CURRENCIES,
    MAX_DECIMAL_PLACES,
    MAX_MINOR_UNITS,
    format_money,
    round_minor,
)

if TYPE_CHECKING:
    from stripe.params import PriceCreateParams

Interval = Literal["day", "week", "month", "year"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month", "year")
# Stripe's limit on a recurring interval: three years in total.
MAX_INTERVAL_COUNT: dict[str, int] = {"day": 1095, "week": 156, "month": 36, "year": 3}
MAX_LOOKUP_KEY = 200
TiersMode = Literal["volume", "graduated"]
TaxBehavior = Literal["unspecified", "inclusive", "exclusive"]


class PricingModel(StrEnum):
    """The six pricing models of the setup guide."""

    FLAT = "flat"
    VOLUME = "volume"
    GRADUATED = "graduated"
    USAGE_PER_UNIT = "usage_per_unit"
    USAGE_PACKAGE = "usage_package"
    USAGE_PER_TIER = "usage_per_tier"

    @property
    def label(self) -> str:
        return _MODEL_LABELS[self]

    @property
    def is_usage_based(self) -> bool:
        return self in (PricingModel.USAGE_PER_UNIT, PricingModel.USAGE_PACKAGE, PricingModel.USAGE_PER_TIER)

    @property
    def is_tiered(self) -> bool:
        return self in (PricingModel.VOLUME, PricingModel.GRADUATED, PricingModel.USAGE_PER_TIER)


_MODEL_LABELS = {
    PricingModel.FLAT: "Flat rate",
    PricingModel.VOLUME: "Tiered · volume",
    PricingModel.GRADUATED: "Tiered · graduated",
    PricingModel.USAGE_PER_UNIT: "Usage-based · per unit",
    PricingModel.USAGE_PACKAGE: "Usage-based · per package",
    PricingModel.USAGE_PER_TIER: "Usage-based · per tier",
}


@dataclass(frozen=True)
class FieldError:
    """A rule broken by one field of a price; `field` is a stable key a form maps to its widget."""

    field: str
    message: str


@dataclass
class Tier:
    """One tier: units up to `up_to` (None = unbounded) at `unit_amount` each, plus `flat_amount`."""

    up_to: int | None
    unit_amount: Decimal | None = None
    flat_amount: int | None = None


@dataclass
class CurrencyAmounts:
    """One extra currency of a price (Stripe's `currency_options[<code>]`): its own amounts, in its minor units.

    Per-unit models (flat, usage per unit, package) take `unit_amount`; tiered ones take `tiers` on the same
    `up_to` boundaries as the price's own tiers (only the amounts differ by currency).
    """

    unit_amount: Decimal | None = None
    tiers: list[Tier] = field(default_factory=list)
    tax_behavior: TaxBehavior | None = None


@dataclass
class PriceDraft:
    """Everything that defines a price, as the builder edits it; also built from any Stripe Price."""

    currency: str = "usd"
    model: PricingModel = PricingModel.FLAT
    unit_amount: Decimal | None = None
    tiers: list[Tier] = field(default_factory=list)
    tiers_mode: TiersMode = "volume"
    package_size: int | None = None
    package_round: Literal["up", "down"] = "up"
    recurring: bool = True
    interval: Interval = "month"
    interval_count: int = 1
    meter_id: str | None = None
    nickname: str | None = None
    lookup_key: str | None = None
    transfer_lookup_key: bool = False
    tax_behavior: TaxBehavior | None = None
    # Read from Stripe only; the builder cannot make these. A "customer chooses" price ({minimum, maximum,
    # preset}) is refused by validate() so it is never rebuilt as a $0.00 flat price.
    custom_amount: dict[str, int | None] | None = None
    # The other currencies the price is offered in: lower-case code -> amounts; never `currency` itself.
    currency_options: dict[str, CurrencyAmounts] = field(default_factory=dict)

    @property
    def effective_tiers_mode(self) -> TiersMode:
        if self.model is PricingModel.VOLUME:
            return "volume"
        if self.model is PricingModel.GRADUATED:
            return "graduated"
        return self.tiers_mode

    # ---- validation ---------------------------------------------------------------------------------------

    def validate(self) -> list[FieldError]:
        """Every rule Stripe would reject, found before any API call, each naming its field."""
        errors: list[FieldError] = []

        def add(name: str, message: str) -> None:
            errors.append(FieldError(name, message))

        if not isinstance(self.currency, str) or self.currency.lower() not in CURRENCIES:
            add("currency", f"Unknown currency '{self.currency}'")
        if not self.recurring and self.model is not PricingModel.FLAT:
            add("model", "A one-off price can only be a flat amount")
        if self.recurring:
            if self.interval not in INTERVALS:
                add("interval", "Billing period must be day, week, month or year")
            elif not _is_whole(self.interval_count):
                add("interval_count", f"Bill every whole number of {self.interval}s, not {self.interval_count!r}")
            else:
                limit = MAX_INTERVAL_COUNT[self.interval]
                if self.interval_count < 1:
                    add("interval_count", "Bill at least every 1 " + self.interval)
                elif self.interval_count > limit:
                    add("interval_count", f"At most every {limit} {self.interval}s (3 years at most)")
        if self.model.is_tiered:
            errors.extend(self._validate_tiers())
            if self.package_size is not None:
                add("package_size", "Package pricing cannot be combined with tiers")
        else:
            errors.extend(_check_unit_amount("unit_amount", self.unit_amount, required=True, currency=self.currency))
            if self.model is PricingModel.USAGE_PACKAGE and self.package_size is None:
                add("package_size", "Enter how many units make one package")
        if self.package_size is not None and not _is_whole(self.package_size):
            add("package_size", f"A package holds a whole number of units, not {self.package_size!r}")
        elif self.package_size is not None and self.package_size < 1:
            add("package_size", "A package holds at least 1 unit")
        if self.package_round not in ("up", "down"):
            add("package_round", "Round packages up or down")
        if self.model.is_usage_based:
            if not self.meter_id:
                add("meter", "Usage-based prices need a billing meter: choose or create one")
            elif not self.meter_id.startswith("mtr_"):
                add("meter", f"'{self.meter_id}' is not a meter ID (they start with mtr_)")
        if self.lookup_key is not None:
            if not self.lookup_key.strip():
                add("lookup_key", "A lookup key cannot be blank")
            elif len(self.lookup_key) > MAX_LOOKUP_KEY:
                add(
                    "lookup_key",
                    f"Lookup keys hold at most {MAX_LOOKUP_KEY} characters (this one has {len(self.lookup_key)})",
                )
        if self.transfer_lookup_key and not self.lookup_key:
            add("lookup_key", "Enter the lookup key to transfer")
        if self.tax_behavior not in (None, "unspecified", "inclusive", "exclusive"):
            add("tax_behavior", "Tax behaviour must be unspecified, inclusive or exclusive")
        if self.custom_amount is not None:
            add(
                "unit_amount",
                "The customer chooses this price's amount: portal-tui cannot rebuild it, make it in the Dashboard",
            )
        for code, amounts in self.currency_options.items():
            errors.extend(self._validate_currency_option(code, amounts))
        return errors

    def _validate_currency_option(self, code: str, amounts: CurrencyAmounts) -> list[FieldError]:
        """One extra currency: a known code other than the price's own, amounts by that currency's money rules,
        and for tiers the price's own tier boundaries (as the Dashboard's "Add more currencies" form builds them)."""
        key = f"currency_options.{str(code).lower()}"
        if not isinstance(code, str) or code.lower() not in CURRENCIES:
            return [FieldError(key, f"Unknown currency '{code}'")]
        name = code.upper()
        if code.lower() == str(self.currency).lower():
            return [FieldError(key, f"{name} is already the price's own currency: set its amount above")]
        errors: list[FieldError] = []
        if self.model.is_tiered:
            if amounts.unit_amount is not None:
                errors.append(FieldError(f"{key}.unit_amount", f"A tiered price takes {name} amounts per tier"))
            errors.extend(self._validate_option_tiers(key, code, amounts.tiers))
        else:
            if amounts.tiers:
                errors.append(FieldError(f"{key}.tiers", f"Only tiered prices have {name} tiers"))
            errors.extend(
                _check_unit_amount(
                    f"{key}.unit_amount", amounts.unit_amount, required=True, currency=code, label=f"{name} amount"
                )
            )
        if amounts.tax_behavior not in (None, "unspecified", "inclusive", "exclusive"):
            errors.append(
                FieldError(f"{key}.tax_behavior", f"{name} tax behaviour must be unspecified, inclusive or exclusive")
            )
        return errors

    def _validate_option_tiers(self, key: str, code: str, tiers: list[Tier]) -> list[FieldError]:
        name = code.upper()
        if len(tiers) != len(self.tiers):
            wanted = f"{len(self.tiers)} tier{'s' if len(self.tiers) != 1 else ''}"
            return [FieldError(f"{key}.tiers", f"{name} needs {wanted}, the same as the price's own")]
        errors: list[FieldError] = []
        for index, (tier, own) in enumerate(zip(tiers, self.tiers, strict=True)):
            where, number = f"{key}.tiers[{index}]", index + 1
            if tier.up_to != own.up_to:
                bound = "∞" if own.up_to is None else f"{own.up_to:,}"
                errors.append(
                    FieldError(f"{where}.up_to", f"{name} tier {number} must go up to {bound}, as the price's own")
                )
            if tier.unit_amount is None and tier.flat_amount is None:
                errors.append(
                    FieldError(
                        f"{where}.unit_amount", f"{name} tier {number} needs a per-unit price, a flat fee, or both"
                    )
                )
            errors.extend(
                _check_unit_amount(
                    f"{where}.unit_amount",
                    tier.unit_amount,
                    required=False,
                    currency=code,
                    label=f"{name} tier {number} per-unit price",
                )
            )
            errors.extend(_check_flat_amount(f"{where}.flat_amount", tier.flat_amount, code, f"{name} tier {number}"))
        return errors

    def _validate_tiers(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if self.model is PricingModel.USAGE_PER_TIER and self.tiers_mode not in ("volume", "graduated"):
            errors.append(FieldError("tiers_mode", "Choose volume or graduated tiers"))
        if not self.tiers:
            return [*errors, FieldError("tiers", "Add at least one tier")]
        previous = 0
        for index, tier in enumerate(self.tiers):
            name, number = f"tiers[{index}]", index + 1
            last = index == len(self.tiers) - 1
            if tier.up_to is not None and not _is_whole(tier.up_to):
                message = f"Tier {number} 'up to' must be a whole number of units, not {tier.up_to!r}"
                errors.append(FieldError(f"{name}.up_to", message))
            elif tier.up_to is None and not last:
                errors.append(FieldError(f"{name}.up_to", f"Only the last tier is unbounded (tier {number})"))
            elif tier.up_to is not None:
                if last:
                    errors.append(FieldError(f"{name}.up_to", "The last tier must be unbounded (∞)"))
                elif tier.up_to < 1:
                    errors.append(FieldError(f"{name}.up_to", f"Tier {number} 'up to' must be at least 1"))
                elif tier.up_to <= previous:
                    errors.append(FieldError(f"{name}.up_to", f"Tier {number} 'up to' must be greater than {previous}"))
                previous = max(previous, tier.up_to)
            if tier.unit_amount is None and tier.flat_amount is None:
                message = f"Tier {number} needs a per-unit price, a flat fee, or both"
                errors.append(FieldError(f"{name}.unit_amount", message))
            errors.extend(
                _check_unit_amount(f"{name}.unit_amount", tier.unit_amount, required=False, currency=self.currency)
            )
            errors.extend(_check_flat_amount(f"{name}.flat_amount", tier.flat_amount, self.currency, f"Tier {number}"))
        return errors

    # ---- Stripe forms -----------------------------------------------------------------------------------

    def to_stripe_params(self, product: str) -> PriceCreateParams:
        """The params for `client.v1.prices.create` (call `validate()` first)."""
        if self.custom_amount is not None:
            # Never silently: without this the price would be created as a fixed $0.00 one.
            raise ValueError("a 'customer chooses the amount' price cannot be rebuilt by portal-tui")
        params: dict[str, Any] = {"currency": self.currency.lower(), "product": product}
        if self.recurring:
            recurring: dict[str, Any] = {"interval": self.interval, "interval_count": self.interval_count}
            if self.model.is_usage_based:
                recurring["usage_type"] = "metered"
                recurring["meter"] = self.meter_id
            else:
                recurring["usage_type"] = "licensed"
            params["recurring"] = recurring
        if self.model.is_tiered:
            params["billing_scheme"] = "tiered"
            params["tiers_mode"] = self.effective_tiers_mode
            params["tiers"] = [_tier_params(tier) for tier in self.tiers]
        else:
            params["billing_scheme"] = "per_unit"
            params.update(_unit_amount_params("unit_amount", self.unit_amount or Decimal(0)))
            if self.package_size is not None:
                params["transform_quantity"] = {"divide_by": self.package_size, "round": self.package_round}
        if self.nickname:
            params["nickname"] = self.nickname
        if self.lookup_key:
            params["lookup_key"] = self.lookup_key
            if self.transfer_lookup_key:
                params["transfer_lookup_key"] = True
        if self.tax_behavior:
            params["tax_behavior"] = self.tax_behavior
        if self.currency_options:
            params["currency_options"] = {
                code.lower(): self._option_params(amounts) for code, amounts in sorted(self.currency_options.items())
            }
        return cast("PriceCreateParams", params)

    def _option_params(self, amounts: CurrencyAmounts) -> dict[str, Any]:
        option: dict[str, Any] = {}
        if self.model.is_tiered:
            option["tiers"] = [_tier_params(tier) for tier in amounts.tiers]
        else:
            option.update(_unit_amount_params("unit_amount", amounts.unit_amount or Decimal(0)))
        if amounts.tax_behavior:
            option["tax_behavior"] = amounts.tax_behavior
        return option

    @classmethod
    def from_stripe(cls, price: Mapping[str, Any]) -> PriceDraft:
        """The draft for any Stripe Price JSON (tiers expanded or not), Dashboard-made prices included."""
        recurring = price.get("recurring") or None
        metered = recurring is not None and recurring.get("usage_type") == "metered"
        tiered = price.get("billing_scheme") == "tiered"
        transform = price.get("transform_quantity") or None
        mode: TiersMode = "graduated" if price.get("tiers_mode") == "graduated" else "volume"
        if tiered:
            model = PricingModel.USAGE_PER_TIER if metered else PricingModel(mode)
        elif metered:
            model = PricingModel.USAGE_PACKAGE if transform else PricingModel.USAGE_PER_UNIT
        else:
            model = PricingModel.FLAT
        tiers = _read_tiers(price.get("tiers"))
        return cls(
            currency=str(price.get("currency") or "usd"),
            model=model,
            unit_amount=None if tiered else _decimal_amount(price, "unit_amount"),
            tiers=tiers,
            tiers_mode=mode,
            package_size=int(transform["divide_by"]) if transform else None,
            package_round="down" if transform and transform.get("round") == "down" else "up",
            recurring=bool(recurring),
            interval=cast("Interval", recurring.get("interval", "month")) if recurring else "month",
            interval_count=int(recurring.get("interval_count") or 1) if recurring else 1,
            meter_id=recurring.get("meter") if recurring else None,
            nickname=price.get("nickname"),
            lookup_key=price.get("lookup_key"),
            tax_behavior=price.get("tax_behavior"),
            custom_amount=_custom_amount(price.get("custom_unit_amount")),
            currency_options=_read_currency_options(price, tiered),
        )

    def to_stripe_price(self) -> dict[str, Any]:
        """A Price-shaped dict, as the API would return it with tiers expanded, for previews."""
        price: dict[str, Any] = {
            "object": "price",
            "currency": self.currency.lower(),
            "type": "recurring" if self.recurring else "one_time",
            "billing_scheme": "tiered" if self.model.is_tiered else "per_unit",
            "nickname": self.nickname,
            "lookup_key": self.lookup_key,
            "tax_behavior": self.tax_behavior or "unspecified",
            "transform_quantity": None,
            "tiers_mode": None,
            "unit_amount": None,
            "unit_amount_decimal": None,
            "recurring": None,
        }
        if self.custom_amount is not None:
            price["custom_unit_amount"] = dict(self.custom_amount)
        if self.recurring:
            price["recurring"] = {
                "interval": self.interval,
                "interval_count": self.interval_count,
                "usage_type": "metered" if self.model.is_usage_based else "licensed",
                "meter": self.meter_id if self.model.is_usage_based else None,
            }
        if self.model.is_tiered:
            price["tiers_mode"] = self.effective_tiers_mode
            price["tiers"] = _tiers_json(self.tiers)
        else:
            price["unit_amount"] = _int_if_whole(self.unit_amount)
            price["unit_amount_decimal"] = None if self.unit_amount is None else _decimal_text(self.unit_amount)
            if self.package_size is not None:
                price["transform_quantity"] = {"divide_by": self.package_size, "round": self.package_round}
        if self.currency_options:
            # As Stripe returns it with expand=["currency_options"]: the price's own currency is listed too.
            own = CurrencyAmounts(self.unit_amount, self.tiers, self.tax_behavior)
            options = {self.currency.lower(): own, **{code.lower(): a for code, a in self.currency_options.items()}}
            price["currency_options"] = {code: self._option_json(amounts) for code, amounts in sorted(options.items())}
        return price

    def _option_json(self, amounts: CurrencyAmounts) -> dict[str, Any]:
        tiered = self.model.is_tiered
        unit = None if tiered else amounts.unit_amount
        option: dict[str, Any] = {
            "custom_unit_amount": None,
            "tax_behavior": amounts.tax_behavior or "unspecified",
            "unit_amount": _int_if_whole(unit),
            "unit_amount_decimal": None if unit is None else _decimal_text(unit),
        }
        if tiered:
            option["tiers"] = _tiers_json(amounts.tiers)
        return option

    def summary(self) -> str:
        return describe_price(self.to_stripe_price())


# ---- helpers for the Stripe forms ----------------------------------------------------------------


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _three_decimal(currency: object) -> bool:
    return isinstance(currency, str) and currency.lower() in CURRENCIES and CURRENCIES[currency.lower()].exponent == 3


def _check_unit_amount(
    name: str, value: Decimal | None, *, required: bool, currency: str, label: str | None = None
) -> list[FieldError]:
    if label is None:
        label = f"Tier {int(name[6 : name.index(']')]) + 1} per-unit price" if name.startswith("tiers[") else "Amount"
    if value is None:
        # The form's own amount field is "Amount"; any other (an extra currency's) is named, so "Cannot create yet"
        # beside the button says which one is missing.
        missing = "Enter an amount" if label == "Amount" else f"Enter the {label}"
        return [FieldError(name, missing)] if required else []
    if _is_whole(value):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        return [FieldError(name, f"{label} must be a number of minor units, not {value!r}")]
    if not value.is_finite():
        return [FieldError(name, f"{label} must be a finite number")]
    if value < 0:
        return [FieldError(name, f"{label} cannot be negative")]
    if value > MAX_MINOR_UNITS:
        return [FieldError(name, f"{label} is more than Stripe accepts for one price")]
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        return [FieldError(name, f"{label} has more than {MAX_DECIMAL_PLACES} decimals of the smallest unit")]
    # A whole amount is sent as the integer unit_amount, which Stripe wants ending in 0 for three-decimal
    # currencies; a fractional one goes as unit_amount_decimal (up to 12 decimals), which has no such rule.
    if _three_decimal(currency) and value == value.to_integral_value() and int(value) % 10:
        return [FieldError(name, f"{label}: Stripe requires {currency.upper()} amounts to end in 0 (e.g. 1.230)")]
    return []


def _check_flat_amount(name: str, flat: int | None, currency: str, owner: str) -> list[FieldError]:
    """A tier's flat fee: whole minor units of `currency`, in Stripe's range, ending in 0 for three-decimal ones."""
    if flat is None:
        return []
    if not _is_whole(flat):
        return [FieldError(name, f"{owner} flat fee must be a whole number of minor units, not {flat!r}")]
    if not 0 <= flat <= MAX_MINOR_UNITS:
        return [FieldError(name, f"{owner} flat fee is out of range")]
    if _three_decimal(currency) and flat % 10:
        return [FieldError(name, f"{owner} flat fee: Stripe requires {currency.upper()} amounts to end in 0")]
    return []


def _decimal_text(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _int_if_whole(value: Decimal | None) -> int | None:
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def _unit_amount_params(name: str, value: Decimal) -> dict[str, Any]:
    whole = _int_if_whole(value)
    return {name: whole} if whole is not None else {f"{name}_decimal": _decimal_text(value)}


def _tiers_json(tiers: Sequence[Tier]) -> list[dict[str, Any]]:
    """Tiers as a Price (or one of its currency options) returns them when expanded."""
    return [
        {
            "up_to": tier.up_to,
            "unit_amount": _int_if_whole(tier.unit_amount),
            "unit_amount_decimal": None if tier.unit_amount is None else _decimal_text(tier.unit_amount),
            "flat_amount": tier.flat_amount,
            "flat_amount_decimal": None if tier.flat_amount is None else str(tier.flat_amount),
        }
        for tier in tiers
    ]


def _read_tiers(tiers: Any) -> list[Tier]:
    return [
        Tier(
            up_to=_int_or_none(tier.get("up_to")),
            unit_amount=_decimal_amount(tier, "unit_amount"),
            flat_amount=_int_amount(tier, "flat_amount"),
        )
        for tier in (tiers or [])
    ]


def _tier_params(tier: Tier) -> dict[str, Any]:
    params: dict[str, Any] = {"up_to": "inf" if tier.up_to is None else tier.up_to}
    if tier.unit_amount is not None:
        params.update(_unit_amount_params("unit_amount", tier.unit_amount))
    if tier.flat_amount is not None:
        params["flat_amount"] = tier.flat_amount
    return params


def _int_or_none(value: Any) -> int | None:
    """A tier's `up_to`: a whole number, or None / "inf" for unbounded; ValueError for anything else."""
    if value is None or value == "inf":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"up_to must be a whole number or null, not {value!r}")
    return value


def _decimal_amount(source: Mapping[str, Any], name: str) -> Decimal | None:
    """`unit_amount_decimal` when present (it keeps fractions), else the integer `unit_amount`."""
    text = source.get(f"{name}_decimal")
    if text not in (None, ""):
        try:
            value = Decimal(str(text))
        except InvalidOperation:
            raise ValueError(f"{name}_decimal is not a number: {text!r}") from None
        if not value.is_finite():
            raise ValueError(f"{name}_decimal is not a finite number: {text!r}")
        return value
    whole = source.get(name)
    if whole is None:
        return None
    # Stripe's integer fields are integers; truncating 1.5 to 1 would quote a wrong bill.
    if isinstance(whole, bool) or not isinstance(whole, int):
        raise ValueError(f"{name} must be a whole number of minor units, not {whole!r} (fractions: {name}_decimal)")
    return Decimal(whole)


def _custom_amount(value: Any) -> dict[str, int | None] | None:
    if not isinstance(value, Mapping):
        return None
    return {key: value.get(key) if _is_whole(value.get(key)) else None for key in ("minimum", "maximum", "preset")}


def _other_currencies(price: Mapping[str, Any]) -> tuple[str, ...]:
    """Upper-case codes of `currency_options` other than the price's own currency (only there when expanded)."""
    options = price.get("currency_options")
    if not isinstance(options, Mapping):
        return ()
    own = str(price.get("currency") or "").lower()
    return tuple(sorted(str(code).upper() for code in options if str(code).lower() != own))


def _read_currency_options(price: Mapping[str, Any], tiered: bool) -> dict[str, CurrencyAmounts]:
    """The extra currencies of an expanded Price; Stripe lists the price's own currency there too: left out."""
    options = price.get("currency_options")
    if not isinstance(options, Mapping):
        return {}
    own = str(price.get("currency") or "").lower()
    found: dict[str, CurrencyAmounts] = {}
    for code, option in options.items():
        if str(code).lower() == own or not isinstance(option, Mapping):
            continue
        found[str(code).lower()] = CurrencyAmounts(
            unit_amount=None if tiered else _decimal_amount(option, "unit_amount"),
            tiers=_read_tiers(option.get("tiers")) if tiered else [],
            # "unspecified" is what Stripe shows for none set: read as unset, so an option read back equals its draft
            tax_behavior=option.get("tax_behavior") if option.get("tax_behavior") != "unspecified" else None,
        )
    return found


def _custom_label(custom: Mapping[str, Any], currency: str) -> str:
    low, high = custom.get("minimum"), custom.get("maximum")
    low = low if _is_whole(low) else None
    high = high if _is_whole(high) else None
    if low is not None and high is not None:
        return f"Customer chooses the amount ({format_money(low, currency)}–{format_money(high, currency)})"
    if low is not None:
        return f"Customer chooses the amount (at least {format_money(low, currency)})"
    if high is not None:
        return f"Customer chooses the amount (at most {format_money(high, currency)})"
    return "Customer chooses the amount"


def _int_amount(source: Mapping[str, Any], name: str) -> int | None:
    value = _decimal_amount(source, name)
    return None if value is None else round_minor(value)


# ---- describing prices ---------------------------------------------------------------------------


def interval_label(interval: str, count: int) -> str:
    """ "month", "3 months", "year"."""
    return interval if count == 1 else f"{count} {interval}s"


def _range_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low:,}+"
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def tiers_problem(tiers: Any) -> str | None:
    """Why a Price's tiers cannot be billed (None when they can): the bounds must ascend, only the last unbounded.

    Stripe never returns such tiers, but hand-written JSON can hold them, and computing with them gives nonsense
    (units billed twice, negative rows, quantities beyond the last bound billed nothing).
    """
    if not isinstance(tiers, Sequence) or isinstance(tiers, str) or not tiers:
        return "a tiered price needs a list of tiers"
    previous = 0
    for index, tier in enumerate(tiers):
        number, last = index + 1, index == len(tiers) - 1
        if not isinstance(tier, Mapping):
            return f"tier {number} is not an object"
        try:
            up_to = _int_or_none(tier.get("up_to"))
        except ValueError as error:
            return f"tier {number}: {error}"
        if up_to is None and not last:
            return f"tier {number} is unbounded (up_to null) but is not the last tier"
        if up_to is not None and last:
            return f"the last tier must be unbounded (up_to null), not up to {up_to:,}"
        if up_to is not None and up_to <= previous:
            return f"tier {number} up_to must be greater than {previous:,} (bounds must ascend), not {up_to:,}"
        previous = up_to or previous
    return None


def tier_ranges(tiers: Sequence[Mapping[str, Any]]) -> list[tuple[int, int | None]]:
    ranges: list[tuple[int, int | None]] = []
    low = 1
    for tier in tiers:
        high = _int_or_none(tier.get("up_to"))
        ranges.append((low, high))
        if high is not None:
            low = high + 1
    return ranges


def describe_price(price: Mapping[str, Any]) -> str:
    """One line a person reads: "$20.00 / month", "$10.00 per 5 units, rounded up / month · metered"."""
    currency = str(price.get("currency") or "usd")
    recurring = price.get("recurring") or None
    metered = recurring is not None and recurring.get("usage_type") == "metered"
    if price.get("billing_scheme") == "tiered":
        tiers = price.get("tiers")
        mode = "Graduated" if price.get("tiers_mode") == "graduated" else "Volume"
        if not tiers:
            body = f"{mode} tiers"
        else:
            parts = []
            for tier, (low, high) in zip(tiers, tier_ranges(tiers), strict=True):
                unit = _decimal_amount(tier, "unit_amount")
                flat = _int_amount(tier, "flat_amount")
                cost = []
                if unit is not None and (unit != 0 or flat is None):
                    cost.append(format_money(unit, currency))
                if flat:
                    cost.append(f"{format_money(flat, currency)}" + (" flat" if not cost else ""))
                parts.append(f"{_range_label(low, high)} " + " + ".join(cost or [format_money(0, currency)]))
            body = f"{mode} · " + " · ".join(parts)
    elif isinstance(price.get("custom_unit_amount"), Mapping):
        body = _custom_label(price["custom_unit_amount"], currency)
    else:
        unit = _decimal_amount(price, "unit_amount") or Decimal(0)
        body = format_money(unit, currency)
        transform = price.get("transform_quantity") or None
        if transform:
            size = int(transform.get("divide_by") or 1)
            rounding = "rounded down" if transform.get("round") == "down" else "rounded up"
            body += f" per {size:,} units, {rounding}"
        elif metered:
            body += " per unit"
    others = len(_other_currencies(price))
    also = f" · +{others} currenc{'ies' if others != 1 else 'y'}" if others else ""
    if not recurring:
        return f"{body} one-time{also}"
    every = interval_label(str(recurring.get("interval")), int(recurring.get("interval_count") or 1))
    text = f"{body} / {every}"
    return (f"{text} · metered" if metered else text) + also


# ---- the billing calculator ----------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    """One tier or step of a bill: "11–25: 15 × $1.00 + $5.00 flat = $20.00"."""

    label: str
    quantity: int
    unit_amount: Decimal | None
    flat_amount: int | None
    amount: int
    text: str


@dataclass(frozen=True)
class Breakdown:
    """What a customer pays for one price at one quantity, row by row."""

    rows: list[BreakdownRow]
    total: int
    currency: str
    quantity: int = 0


def _row(label: str, quantity: int, unit: Decimal | None, flat: int | None, currency: str) -> BreakdownRow:
    amount = round_minor((unit or Decimal(0)) * quantity) + (flat or 0)
    pieces = []
    if unit is not None:
        pieces.append(f"{quantity:,} × {format_money(unit, currency)}")
    if flat:
        pieces.append(f"{format_money(flat, currency)} flat")
    text = f"{label}: {' + '.join(pieces) or format_money(0, currency)} = {format_money(amount, currency)}"
    return BreakdownRow(label, quantity, unit, flat, amount, text)


class UnknownCurrencyError(ValueError):
    """A bill asked in a currency the price is not offered in; the message names the ones it is."""

    def __init__(self, currency: str, offered: Sequence[str], hint: str = "") -> None:
        self.currency = currency.lower()
        self.offered = list(offered)
        names = ", ".join(code.upper() for code in self.offered) or "none"
        super().__init__(f"This price is not offered in {currency.upper()}: its currencies are {names}{hint}")


def price_currencies(price: Mapping[str, Any]) -> list[str]:
    """The price's currencies, lower-case: its own first, then the others of an expanded `currency_options`."""
    own = str(price.get("currency") or "usd").lower()
    return [own, *(code.lower() for code in _other_currencies(price))]


def in_currency(price: Mapping[str, Any], currency: str) -> Mapping[str, Any]:
    """The price as if `currency` were its own: the amounts (or tiers) of `currency_options[currency]`.

    Stripe bills a customer in one of the price's currencies with that currency's amounts on the same model, tier
    boundaries and package; only the amounts change.
    """
    code = str(currency).lower()
    if code == str(price.get("currency") or "usd").lower():
        return price
    options = price.get("currency_options")
    if not isinstance(options, Mapping):
        hint = " (or its other currencies were not read: retrieve it with expand=['currency_options'])"
        raise UnknownCurrencyError(code, price_currencies(price), hint)
    option = options.get(code)
    if not isinstance(option, Mapping):
        raise UnknownCurrencyError(code, price_currencies(price))
    derived = {**price, "currency": code, "custom_unit_amount": option.get("custom_unit_amount")}
    if price.get("billing_scheme") == "tiered":
        if not option.get("tiers"):
            raise ValueError(f"the {code.upper()} tiers were not returned: retrieve the price with its tiers expanded")
        derived["tiers"] = option["tiers"]
    else:
        derived["unit_amount"] = option.get("unit_amount")
        derived["unit_amount_decimal"] = option.get("unit_amount_decimal")
    return derived


def breakdown(price: Mapping[str, Any], quantity: int, *, currency: str | None = None) -> Breakdown:
    """Rows and total Stripe bills for `price` (Price JSON, tiers expanded) at `quantity` in one period.

    `currency` bills in one of the price's other currencies (from its expanded `currency_options`); the default is
    the price's own. UnknownCurrencyError (a ValueError) for one the price is not offered in.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise TypeError("quantity must be an int")
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    if currency is not None:
        price = in_currency(price, currency)
    currency = str(price.get("currency") or "usd")
    rows: list[BreakdownRow] = []
    scheme = price.get("billing_scheme")
    if scheme not in (None, "per_unit", "tiered"):
        raise ValueError(f"billing_scheme must be per_unit or tiered, not {scheme!r}")
    if scheme == "tiered":
        tiers = price.get("tiers")
        if not tiers:
            raise ValueError("tiered price without tiers: retrieve it with expand=['tiers']")
        problem = tiers_problem(tiers)
        if problem:
            raise ValueError(f"these tiers cannot be billed: {problem}")
        ranges = tier_ranges(tiers)
        if price.get("tiers_mode") == "graduated":
            for tier, (low, high) in zip(tiers, ranges, strict=True):
                if quantity < low:
                    break
                units = (quantity if high is None else min(quantity, high)) - low + 1
                label = _range_label(low, high)
                rows.append(
                    _row(
                        label,
                        units,
                        _decimal_amount(tier, "unit_amount"),
                        _int_amount(tier, "flat_amount"),
                        currency,
                    )
                )
        else:
            for tier, (_low, high) in zip(tiers, ranges, strict=True):
                if high is None or quantity <= high:
                    units_text = "1 unit" if quantity == 1 else f"all {quantity:,} units"
                    label = f"{units_text} in tier {_range_label(_low, high)}"
                    rows.append(
                        _row(
                            label,
                            quantity,
                            _decimal_amount(tier, "unit_amount"),
                            _int_amount(tier, "flat_amount"),
                            currency,
                        )
                    )
                    break
    else:
        unit = _decimal_amount(price, "unit_amount") or Decimal(0)
        transform = price.get("transform_quantity") or None
        if transform:
            size = transform.get("divide_by")
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"transform_quantity.divide_by must be a whole number of at least 1, not {size!r}")
            if transform.get("round", "up") not in ("up", "down"):
                raise ValueError(f"transform_quantity.round must be up or down, not {transform.get('round')!r}")
            round_up = transform.get("round") != "down"
            # Integer arithmetic: float division loses exactness beyond 2**53 units.
            packages = -(-quantity // size) if round_up else quantity // size
            how = "rounded up" if round_up else "rounded down"
            plural = "s" if packages != 1 else ""
            label = f"{packages:,} package{plural} ({quantity:,} unit{'s' if quantity != 1 else ''} ÷ {size:,}, {how})"
            rows.append(_row(label, packages, unit, None, currency))
        else:
            label = f"{quantity:,} unit{'s' if quantity != 1 else ''}"
            rows.append(_row(label, quantity, unit, None, currency))
    return Breakdown(rows=rows, total=sum(row.amount for row in rows), currency=currency, quantity=quantity)


def amount_for(price: Mapping[str, Any], quantity: int, *, currency: str | None = None) -> int:
    """Minor units Stripe bills for one line of `price` (Price JSON, tiers expanded) at `quantity`, in the price's
    own currency or in `currency` (one of its `currency_options`, expanded)."""
    return breakdown(price, quantity, currency=currency).total


def sample_quantities(price: Mapping[str, Any]) -> list[int]:
    """Quantities worth previewing for this price: tier edges, package edges, typical usage."""
    recurring = price.get("recurring") or {}
    metered = recurring.get("usage_type") == "metered"
    found: set[int] = set()
    if price.get("billing_scheme") == "tiered" and price.get("tiers"):
        for _low, high in tier_ranges(price["tiers"]):
            if high is not None:
                found.update({high, high + 1})
        found.add(1)
        top = max(found)
        found.add(top * 2)
    elif price.get("transform_quantity"):
        size = int(price["transform_quantity"].get("divide_by") or 1)
        found.update({1, size, size + 1, size * 10})
    elif metered:
        unit = _decimal_amount(price, "unit_amount") or Decimal(1)
        base = 1000 if unit < 1 else 10
        found.update({base, base * 10, base * 100})
    else:
        found.update({1, 5, 10})
    return sorted(found)
