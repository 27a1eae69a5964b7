"""The catalog file: an account-independent description of the meters, products and prices the plans use.

Test and live mode hold separate objects with different IDs, so nothing here is an ID. A price is known by its
lookup key, a meter by its event name, a product by a key stamped in its metadata (`portal_tui_key`; a product made
elsewhere falls back to the slug of its name). The same file can be applied to any account, in either mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, cast

from portal_tui.domain.plans import unknown_key
from portal_tui.domain.price_terms import terms_fingerprint, terms_of_draft
from portal_tui.domain.pricing import (
    INTERVALS,
    MAX_LOOKUP_KEY,
    CurrencyAmounts,
    FieldError,
    PriceDraft,
    PricingModel,
    Tier,
)

CATALOG_SCHEMA_VERSION: Final = 1
PRODUCT_KEY_METADATA: Final = "portal_tui_key"
Aggregation = Literal["sum", "count", "last"]
AGGREGATIONS: tuple[Aggregation, ...] = ("sum", "count", "last")
MAX_EVENT_NAME = 100
MAX_METADATA_VALUE = 500  # Stripe's limit on a metadata value (the product key lives in metadata)

TOP_LEVEL_KEYS = ("schema_version", "meters", "products", "prices")
METER_KEYS = ("event_name", "display_name", "aggregation", "customer_key", "value_key")
PRODUCT_KEYS = ("key", "name", "description")
PRICE_KEYS = (
    "lookup_key",
    "product",
    "currency",
    "model",
    "unit_amount",
    "tiers",
    "tiers_mode",
    "package_size",
    "package_round",
    "recurring",
    "interval",
    "interval_count",
    "meter",
    "nickname",
    "tax_behavior",
    "default",
    "currency_options",
)
TIER_KEYS = ("up_to", "unit_amount", "flat_amount")
# [[prices.currency_options]]: one extra currency each, with its amount or its own [[prices.currency_options.tiers]].
CURRENCY_OPTION_KEYS = ("currency", "unit_amount", "tiers", "tax_behavior")


class CatalogError(ValueError):
    """A catalog file whose content is not a valid catalog; `field` locates the problem ("prices[2].currency")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def slug(name: str) -> str:
    """A product key from a name: "Pro VPS (2024)" -> "pro-vps-2024"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


def product_key_of(product: Mapping[str, Any]) -> str:
    """A Stripe product's catalog identity: its `portal_tui_key` metadata, else the slug of its name."""
    metadata = product.get("metadata") or {}
    stamped = metadata.get(PRODUCT_KEY_METADATA) if isinstance(metadata, Mapping) else None
    return str(stamped) if stamped else slug(str(product.get("name") or ""))


def meter_create_params(
    display_name: str,
    event_name: str,
    aggregation: str,
    customer_key: str = "stripe_customer_id",
    value_key: str = "value",
) -> dict[str, Any]:
    """The params of `POST /v1/billing/meters`: a `count` meter has no value key."""
    params: dict[str, Any] = {
        "display_name": display_name,
        "event_name": event_name,
        "default_aggregation": {"formula": aggregation},
        "customer_mapping": {"type": "by_id", "event_payload_key": customer_key},
    }
    if aggregation != "count":
        params["value_settings"] = {"event_payload_key": value_key}
    return params


@dataclass
class CatalogMeter:
    """A billing meter, known by its event name in every account and mode."""

    event_name: str
    display_name: str
    aggregation: Aggregation = "sum"
    customer_key: str = "stripe_customer_id"
    value_key: str = "value"

    def create_params(self) -> dict[str, Any]:
        """The params of `POST /v1/billing/meters` (as `StripeGateway.create_meter` sends them)."""
        return meter_create_params(
            self.display_name, self.event_name, self.aggregation, self.customer_key, self.value_key
        )


@dataclass
class CatalogProduct:
    """A product, known by its key (stamped in its metadata on creation)."""

    key: str
    name: str
    description: str | None = None


@dataclass
class CatalogPrice:
    """A price, known by its lookup key. `draft.meter_id` is unused: the meter is named by its event name."""

    lookup_key: str
    product: str  # CatalogProduct.key
    draft: PriceDraft
    meter: str | None = None  # CatalogMeter.event_name, usage-based prices only
    default: bool = False  # the product's default price

    def terms(self) -> dict[str, Any]:
        return terms_of_draft(self.draft, self.meter)

    def fingerprint(self) -> str:
        return terms_fingerprint(self.terms())

    def create_params(
        self, product_id: str, meter_id: str | None, *, transfer_lookup_key: bool = False
    ) -> dict[str, Any]:
        """The params of `POST /v1/prices` in an account where the product and meter have these IDs."""
        draft = replace(
            self.draft,
            lookup_key=self.lookup_key,
            meter_id=meter_id if self.draft.model.is_usage_based else None,
            transfer_lookup_key=transfer_lookup_key,
        )
        return dict(draft.to_stripe_params(product_id))


@dataclass
class Catalog:
    """The whole catalog file."""

    schema_version: int = CATALOG_SCHEMA_VERSION
    meters: list[CatalogMeter] = field(default_factory=list)
    products: list[CatalogProduct] = field(default_factory=list)
    prices: list[CatalogPrice] = field(default_factory=list)

    def price(self, lookup_key: str) -> CatalogPrice | None:
        return next((p for p in self.prices if p.lookup_key == lookup_key), None)

    def meter(self, event_name: str) -> CatalogMeter | None:
        return next((m for m in self.meters if m.event_name == event_name), None)

    def product(self, key: str) -> CatalogProduct | None:
        return next((p for p in self.products if p.key == key), None)

    def merged(self, other: Catalog) -> Catalog:
        """This catalog with `other`'s items added; an item of the same identity is replaced by `other`'s."""

        def merge(mine: list[Any], theirs: list[Any], identity: str) -> list[Any]:
            replacing = {getattr(item, identity): item for item in theirs}
            kept = [replacing.pop(getattr(item, identity), item) for item in mine]
            return kept + [item for item in theirs if getattr(item, identity) in replacing]

        return Catalog(
            schema_version=CATALOG_SCHEMA_VERSION,
            meters=merge(self.meters, other.meters, "event_name"),
            products=merge(self.products, other.products, "key"),
            prices=merge(self.prices, other.prices, "lookup_key"),
        )

    # ---- rules ------------------------------------------------------------------------------------------------

    def validate(self) -> list[FieldError]:
        """Problems to fix before the catalog can be saved or applied, each naming its field."""
        errors: list[FieldError] = []

        def add(name: str, message: str) -> None:
            errors.append(FieldError(name, message))

        events: set[str] = set()
        for index, meter in enumerate(self.meters):
            where = f"meters[{index}]"
            if not meter.event_name.strip():
                add(f"{where}.event_name", "A meter needs an event name")
            elif len(meter.event_name) > MAX_EVENT_NAME:
                add(f"{where}.event_name", f"Event names hold at most {MAX_EVENT_NAME} characters")
            elif meter.event_name in events:
                add(f"{where}.event_name", f"Meter '{meter.event_name}' is listed twice")
            events.add(meter.event_name)
            if not meter.display_name.strip():
                add(f"{where}.display_name", "Give the meter a display name")
            if meter.aggregation not in AGGREGATIONS:
                add(f"{where}.aggregation", "Aggregation must be sum, count or last")
            for name in ("customer_key", "value_key"):
                if not getattr(meter, name).strip():
                    add(f"{where}.{name}", "A payload key cannot be blank")
        keys: set[str] = set()
        for index, product in enumerate(self.products):
            where = f"products[{index}]"
            if not product.key.strip():
                add(f"{where}.key", "A product needs a key")
            elif len(product.key) > MAX_METADATA_VALUE:
                add(f"{where}.key", f"Product keys hold at most {MAX_METADATA_VALUE} characters")
            elif product.key in keys:
                add(f"{where}.key", f"Product '{product.key}' is listed twice")
            keys.add(product.key)
            if not product.name.strip():
                add(f"{where}.name", "Give the product a name")
        lookup_keys: set[str] = set()
        defaults: dict[str, str] = {}
        for index, price in enumerate(self.prices):
            where = f"prices[{index}]"
            if not price.lookup_key.strip():
                add(f"{where}.lookup_key", "A price needs a lookup key (its identity in every account)")
            elif len(price.lookup_key) > MAX_LOOKUP_KEY:
                add(f"{where}.lookup_key", f"Lookup keys hold at most {MAX_LOOKUP_KEY} characters")
            elif price.lookup_key in lookup_keys:
                add(f"{where}.lookup_key", f"Lookup key '{price.lookup_key}' is listed twice")
            lookup_keys.add(price.lookup_key)
            if price.product not in keys:
                add(f"{where}.product", f"No product with the key '{price.product}' in this catalog")
            usage = price.draft.model.is_usage_based
            if usage and not price.meter:
                add(f"{where}.meter", "A usage-based price needs a meter (its event name)")
            elif usage and price.meter not in events:
                add(f"{where}.meter", f"No meter with the event name '{price.meter}' in this catalog")
            elif not usage and price.meter:
                add(f"{where}.meter", "Only usage-based prices have a meter")
            if price.default:
                if price.product in defaults:
                    message = f"Product '{price.product}' already has '{defaults[price.product]}' as its default"
                    add(f"{where}.default", message)
                defaults.setdefault(price.product, price.lookup_key)
            # The draft's own rules; its meter is named by event name here, so a stand-in ID satisfies the check.
            checked = replace(price.draft, meter_id="mtr_catalog" if usage else None, lookup_key=price.lookup_key)
            for problem in checked.validate():
                if problem.field not in ("meter", "lookup_key"):
                    add(f"{where}.{problem.field}", problem.message)
        return errors

    # ---- TOML -------------------------------------------------------------------------------------------------

    def to_toml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema_version": self.schema_version}
        data["meters"] = [_meter_dict(meter) for meter in self.meters]
        data["products"] = [
            {"key": p.key, "name": p.name, **({"description": p.description} if p.description else {})}
            for p in self.products
        ]
        data["prices"] = [_price_dict(price) for price in self.prices]
        return data

    @classmethod
    def from_toml_dict(cls, data: Mapping[str, Any]) -> Catalog:
        """Read a parsed catalog file; raises CatalogError naming the field that is wrong (unknown keys too)."""
        _refuse_unknown(data, TOP_LEVEL_KEYS, "")
        version = data.get("schema_version", CATALOG_SCHEMA_VERSION)
        if isinstance(version, bool) or not isinstance(version, int):
            raise CatalogError("schema_version", f"must be the integer {CATALOG_SCHEMA_VERSION}, without quotes")
        if version != CATALOG_SCHEMA_VERSION:
            message = f"is {version}, but this portal-tui reads version {CATALOG_SCHEMA_VERSION}"
            raise CatalogError("schema_version", message)
        meters = [_read_meter(item, where) for item, where in _tables(data, "meters")]
        products = [
            CatalogProduct(
                key=_text(item, "key", where, required=True),
                name=_text(item, "name", where, required=True),
                description=_text(item, "description", where) or None,
            )
            for item, where in _tables(data, "products", PRODUCT_KEYS)
        ]
        prices = [_read_price(item, where) for item, where in _tables(data, "prices")]
        return cls(schema_version=CATALOG_SCHEMA_VERSION, meters=meters, products=products, prices=prices)


# ---- writing ------------------------------------------------------------------------------------------------------


def _amount_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _meter_dict(meter: CatalogMeter) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "event_name": meter.event_name,
        "display_name": meter.display_name,
        "aggregation": meter.aggregation,
    }
    if meter.customer_key != "stripe_customer_id":
        entry["customer_key"] = meter.customer_key
    if meter.value_key != "value":
        entry["value_key"] = meter.value_key
    return entry


def _price_dict(price: CatalogPrice) -> dict[str, Any]:
    draft = price.draft
    entry: dict[str, Any] = {
        "lookup_key": price.lookup_key,
        "product": price.product,
        "currency": draft.currency.lower(),
        "model": draft.model.value,
    }
    if draft.model.is_tiered:
        if draft.model is PricingModel.USAGE_PER_TIER:
            entry["tiers_mode"] = draft.tiers_mode
        entry["tiers"] = _tier_dicts(draft.tiers)
    else:
        entry["unit_amount"] = _amount_text(draft.unit_amount if draft.unit_amount is not None else Decimal(0))
        if draft.package_size is not None:
            entry["package_size"] = draft.package_size
            entry["package_round"] = draft.package_round
    entry["recurring"] = draft.recurring
    if draft.recurring:
        entry["interval"] = draft.interval
        entry["interval_count"] = draft.interval_count
    if price.meter:
        entry["meter"] = price.meter
    if draft.nickname:
        entry["nickname"] = draft.nickname
    if draft.tax_behavior:
        entry["tax_behavior"] = draft.tax_behavior
    if price.default:
        entry["default"] = True
    if draft.currency_options:
        entry["currency_options"] = [
            _option_dict(code, amounts, draft.model.is_tiered)
            for code, amounts in sorted(draft.currency_options.items())
        ]
    return entry


def _tier_dicts(tiers: list[Tier]) -> list[dict[str, Any]]:
    rows = []
    for tier in tiers:
        row: dict[str, Any] = {"up_to": "inf" if tier.up_to is None else tier.up_to}
        if tier.unit_amount is not None:
            row["unit_amount"] = _amount_text(tier.unit_amount)
        if tier.flat_amount is not None:
            row["flat_amount"] = tier.flat_amount
        rows.append(row)
    return rows


def _option_dict(code: str, amounts: CurrencyAmounts, tiered: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"currency": code.lower()}
    if tiered:
        entry["tiers"] = _tier_dicts(amounts.tiers)
    else:
        entry["unit_amount"] = _amount_text(amounts.unit_amount if amounts.unit_amount is not None else Decimal(0))
    if amounts.tax_behavior:
        entry["tax_behavior"] = amounts.tax_behavior
    return entry


# ---- reading ------------------------------------------------------------------------------------------------------


def _tables(
    data: Mapping[str, Any], name: str, known: Iterable[str] | None = None, *, parent: str = ""
) -> list[tuple[Mapping[str, Any], str]]:
    raw = data.get(name, [])
    header = f"{parent.split('[')[0]}.{name}" if parent else name
    if not isinstance(raw, list):
        raise CatalogError(f"{parent}.{name}" if parent else name, f"expected a list of [[{header}]] tables")
    found = []
    for index, item in enumerate(raw):
        where = f"{parent}.{name}[{index}]" if parent else f"{name}[{index}]"
        if not isinstance(item, Mapping):
            raise CatalogError(where, "expected a table")
        if known is not None:
            _refuse_unknown(item, known, where)
        found.append((item, where))
    return found


def _read_meter(item: Mapping[str, Any], where: str) -> CatalogMeter:
    _refuse_unknown(item, METER_KEYS, where)
    aggregation = _text(item, "aggregation", where) or "sum"
    if aggregation not in AGGREGATIONS:
        raise CatalogError(f"{where}.aggregation", f"must be sum, count or last, not {aggregation!r}")
    return CatalogMeter(
        event_name=_text(item, "event_name", where, required=True),
        display_name=_text(item, "display_name", where) or _text(item, "event_name", where, required=True),
        aggregation=aggregation,
        customer_key=_text(item, "customer_key", where) or "stripe_customer_id",
        value_key=_text(item, "value_key", where) or "value",
    )


def _read_price(item: Mapping[str, Any], where: str) -> CatalogPrice:
    _refuse_unknown(item, PRICE_KEYS, where)
    lookup_key = _text(item, "lookup_key", where, required=True)
    model_text = _text(item, "model", where) or PricingModel.FLAT.value
    if model_text not in PricingModel._value2member_map_:
        choices = ", ".join(model.value for model in PricingModel)
        raise CatalogError(f"{where}.model", f"must be one of {choices}, not {model_text!r}")
    model = PricingModel(model_text)
    tiers_mode = _text(item, "tiers_mode", where) or None
    if tiers_mode is not None and tiers_mode not in ("volume", "graduated"):
        raise CatalogError(f"{where}.tiers_mode", f"must be volume or graduated, not {tiers_mode!r}")
    if model in (PricingModel.VOLUME, PricingModel.GRADUATED):
        if tiers_mode is not None and tiers_mode != model.value:
            raise CatalogError(f"{where}.tiers_mode", f"contradicts model = {model.value!r}")
        tiers_mode = model.value
    tiers = _read_tiers(item, where, model)
    if model.is_tiered and "unit_amount" in item:
        raise CatalogError(f"{where}.unit_amount", "a tiered price has amounts on its [[prices.tiers]] only")
    recurring = item.get("recurring", True)
    if not isinstance(recurring, bool):
        raise CatalogError(f"{where}.recurring", f"expected true or false, got {recurring!r}")
    interval = _text(item, "interval", where) or "month"
    if interval not in INTERVALS:
        raise CatalogError(f"{where}.interval", f"must be day, week, month or year, not {interval!r}")
    if not recurring and ("interval" in item or "interval_count" in item):
        raise CatalogError(f"{where}.interval", "a one-off price (recurring = false) has no billing period")
    interval_count = _whole(item, "interval_count", where)
    package_round = _text(item, "package_round", where) or "up"
    if package_round not in ("up", "down"):
        raise CatalogError(f"{where}.package_round", f"must be up or down, not {package_round!r}")
    tax = _tax_behavior(item, where)
    default = item.get("default", False)
    if not isinstance(default, bool):
        raise CatalogError(f"{where}.default", f"expected true or false, got {default!r}")
    draft = PriceDraft(
        currency=(_text(item, "currency", where, required=True)).lower(),
        model=model,
        unit_amount=None if model.is_tiered else _amount(item, "unit_amount", where, required=True),
        tiers=tiers,
        tiers_mode=cast("Literal['volume', 'graduated']", tiers_mode or "volume"),
        package_size=_whole(item, "package_size", where),
        package_round=cast("Literal['up', 'down']", package_round),
        recurring=recurring,
        interval=interval,
        interval_count=1 if interval_count is None else interval_count,
        nickname=_text(item, "nickname", where) or None,
        lookup_key=lookup_key,
        tax_behavior=cast("Any", tax),
        currency_options=_read_currency_options(item, where, model),
    )
    return CatalogPrice(
        lookup_key=lookup_key,
        product=_text(item, "product", where, required=True),
        draft=draft,
        meter=_text(item, "meter", where) or None,
        default=default,
    )


def _tax_behavior(item: Mapping[str, Any], where: str) -> str | None:
    tax = _text(item, "tax_behavior", where) or None
    if tax is not None and tax not in ("unspecified", "inclusive", "exclusive"):
        raise CatalogError(f"{where}.tax_behavior", f"must be unspecified, inclusive or exclusive, not {tax!r}")
    return tax


def _read_tiers(item: Mapping[str, Any], where: str, model: PricingModel) -> list[Tier]:
    """The [[…tiers]] of a price or of one of its currencies (`where` names the owner)."""
    tiers: list[Tier] = []
    if item.get("tiers") is None:
        return tiers
    if not model.is_tiered:
        raise CatalogError(f"{where}.tiers", f"only tiered models have tiers, not {model.value!r}")
    for tier_item, tier_where in _tables(item, "tiers", TIER_KEYS, parent=where):
        up_to = tier_item.get("up_to")
        if up_to is None:
            raise CatalogError(f"{tier_where}.up_to", 'is missing (a whole number, or "inf" for the last tier)')
        if up_to != "inf" and (isinstance(up_to, bool) or not isinstance(up_to, int)):
            raise CatalogError(f"{tier_where}.up_to", f'expected a whole number or "inf", got {up_to!r}')
        tiers.append(
            Tier(
                up_to=None if up_to == "inf" else up_to,
                unit_amount=_amount(tier_item, "unit_amount", tier_where),
                flat_amount=_whole(tier_item, "flat_amount", tier_where),
            )
        )
    return tiers


def _read_currency_options(item: Mapping[str, Any], where: str, model: PricingModel) -> dict[str, CurrencyAmounts]:
    """The [[prices.currency_options]] tables (none in files written before multi-currency prices)."""
    options: dict[str, CurrencyAmounts] = {}
    for option, option_where in _tables(item, "currency_options", CURRENCY_OPTION_KEYS, parent=where):
        code = _text(option, "currency", option_where, required=True).lower()
        if code in options:
            raise CatalogError(f"{option_where}.currency", f"{code.upper()} is listed twice for this price")
        if model.is_tiered and "unit_amount" in option:
            message = "a tiered price has amounts on its [[prices.currency_options.tiers]] only"
            raise CatalogError(f"{option_where}.unit_amount", message)
        options[code] = CurrencyAmounts(
            unit_amount=None if model.is_tiered else _amount(option, "unit_amount", option_where, required=True),
            tiers=_read_tiers(option, option_where, model),
            tax_behavior=cast("Any", _tax_behavior(option, option_where)),
        )
    return options


def _text(item: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> str:
    value = item.get(name)
    if value is None:
        if required:
            raise CatalogError(f"{where}.{name}", "is missing")
        return ""
    if not isinstance(value, str):
        raise CatalogError(f"{where}.{name}", f"expected text, got {value!r}")
    return value


def _whole(item: Mapping[str, Any], name: str, where: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError(f"{where}.{name}", f"expected a whole number, got {value!r}")
    return value


def _amount(item: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> Decimal | None:
    """An amount in minor units: a string ("2000", "0.04") or a whole number; floats are refused (inexact)."""
    value = item.get(name)
    if value is None:
        if required:
            raise CatalogError(f"{where}.{name}", 'is missing (minor units, as text: "2000" for $20.00)')
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise CatalogError(f"{where}.{name}", f'expected minor units as text ("0.04"), got {value!r}')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise CatalogError(f"{where}.{name}", f"is not a number: {value!r}") from None
    if not amount.is_finite():
        raise CatalogError(f"{where}.{name}", f"is not a finite number: {value!r}")
    return amount


def _refuse_unknown(item: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    found = unknown_key(item, known, where)  # the plan file's rule, worded the same way
    if found is not None:
        raise CatalogError(*found)
