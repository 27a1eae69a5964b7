"""Go live: export a verified catalog from one account, compare it with another, create what is missing.

Test and live mode are separate worlds with different IDs, so items are matched by identity: a price by its lookup
key, a meter by its event name, a product by its `portal_tui_key` metadata (else the slug of its name).

- `export_catalog` reads prices (with their products and meters) into a `Catalog`.
- `diff_catalog` compares a catalog with an account, read-only, item by item.
- `plan_apply` lists exactly the write requests `apply_catalog` would send, in order, IDs not known yet shown as
  placeholders ("<product pro>"). Both are built by one planner, so the review shows what is sent.
- `apply_catalog` sends them: idempotent (a second run sends no write) and resumable (before each create it looks
  the item up; idempotency keys derive from the account, the item and its terms). It never deletes; a price whose
  terms differ is replaced (new price, lookup key transferred, old one archived) only with `replace=True`.
- `link_live_prices` and `plan_drift` keep the plans' live slots in step with their test prices.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.domain.catalog import (
    PRODUCT_KEY_METADATA,
    Aggregation,
    Catalog,
    CatalogMeter,
    CatalogPrice,
    CatalogProduct,
    product_key_of,
    slug,
)
from portal_tui.domain.plans import PlanConfig
from portal_tui.domain.price_terms import TermDifference, compare_terms, price_terms
from portal_tui.domain.pricing import MAX_LOOKUP_KEY, PriceDraft, describe_price
from portal_tui.services.errors import InvalidRequestError, NotFoundError, PortalError
from portal_tui.services.plan_check import Problem
from portal_tui.services.product_setup import REPLACED_BY, LookupKeyTakenError

if TYPE_CHECKING:
    from portal_tui.services.gateway import StripeGateway

ItemKind = Literal["meter", "product", "price"]
ItemState = Literal["create", "same", "differs", "only_in_account"]
Mode = Literal["test", "live"]

# Metadata on a price created to replace another: names the price it replaces, so a replacement interrupted
# between creating the new price and archiving the old one is finished by the next run.
REPLACES = "portal_tui_replaces"
IDEMPOTENCY_PREFIX = "portal-tui-promote"
_SAFE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


# ---- errors ---------------------------------------------------------------------------------------------------------


class MissingLookupKeyError(PortalError):
    """A price to export has no lookup key: it has no identity in another account until it gets one."""

    title = "A price has no lookup key"

    def __init__(self, price_id: str, suggestion: str, *, others: Iterable[tuple[str, str]] = ()) -> None:
        self.price_id = price_id
        self.suggestion = suggestion
        # every price lacking a key, this one first: (price id, suggested key)
        self.missing: list[tuple[str, str]] = [(price_id, suggestion), *others]
        more = len(self.missing) - 1
        also = f" ({more} other price{'s' if more > 1 else ''} lack{'' if more > 1 else 's'} one too)" if more else ""
        super().__init__(
            f"{price_id} has no lookup key, so it cannot be found in the other mode{also}.",
            hint=f"Set one (lookup keys can be changed later), for example '{suggestion}'.",
        )


class UnsupportedPriceError(PortalError):
    """A price the catalog cannot describe exactly (customer chooses the amount, tiers not returned)."""

    title = "This price cannot be promoted"

    def __init__(self, price_id: str, reason: str) -> None:
        self.price_id = price_id
        super().__init__(
            f"{price_id} {reason}: portal-tui cannot describe it in the catalog without changing it.",
            hint="Leave it out, or create it in the live account from the Dashboard (Copy to live mode).",
        )


class CatalogConflictError(PortalError):
    """The catalog or the account holds something a promotion cannot resolve by creating objects."""

    title = "The catalog cannot be applied"


# ---- results --------------------------------------------------------------------------------------------------------


@dataclass
class ItemStatus:
    """One catalog item compared with the account."""

    kind: ItemKind
    key: str  # lookup key, event name or product key
    state: ItemState
    differences: list[TermDifference] = field(default_factory=list)
    account_id: str | None = None  # the matching object in the account (None: to be created)
    label: str = ""  # "price pro_monthly ($20.00 / month)"
    # price: an archived price still holding the lookup key (creating transfers the key from it)
    holder_id: str | None = None
    # price: the account's price is its product's default; product: the account's current default price
    is_default: bool = False
    default_price_id: str | None = None
    # price: a replacement whose old price (this id) is still active: the next apply with replace finishes it
    unfinished_replace: str | None = None

    @property
    def pending(self) -> bool:
        return self.state in ("create", "differs") or self.unfinished_replace is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "state": self.state,
            "label": self.label,
            "account_id": self.account_id,
            "differences": [
                {"field": d.field, "label": d.label, "expected": d.expected, "actual": d.actual}
                for d in self.differences
            ],
        }
        if self.holder_id:
            data["archived_holder"] = self.holder_id
        if self.unfinished_replace:
            data["unfinished_replace"] = self.unfinished_replace
        return data


@dataclass
class CatalogDiff:
    """A catalog compared with one account, item by item (meters, products, prices, then what only the account has)."""

    items: list[ItemStatus]
    mode: Mode
    account_id: str

    @property
    def pending(self) -> bool:
        """Something to create or that differs (`only_in_account` items are reported, never touched)."""
        return any(item.pending for item in self.items)

    def state_of_price(self, lookup_key: str) -> ItemStatus | None:
        return self._find("price", lookup_key)

    def state_of(self, kind: ItemKind, key: str) -> ItemStatus | None:
        return self._find(kind, key)

    def _find(self, kind: ItemKind, key: str) -> ItemStatus | None:
        return next((i for i in self.items if i.kind == kind and i.key == key and i.state != "only_in_account"), None)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.state] = counts.get(item.state, 0) + 1
        return {
            "mode": self.mode,
            "account_id": self.account_id,
            "pending": self.pending,
            "counts": counts,
            "items": [item.to_json() for item in self.items],
        }

    def to_text(self) -> str:
        words = {"create": "create", "same": "same", "differs": "differs", "only_in_account": "only in account"}
        lines = [f"Catalog against the {self.mode} account {self.account_id}:"]
        for item in self.items:
            lines.append(f"  {words[item.state]:<16} {item.label}")
            if item.holder_id:
                lines.append(f"  {'':<16}   the archived price {item.holder_id} holds the key: it is transferred")
            if item.unfinished_replace:
                lines.append(
                    f"  {'':<16}   replacing {item.unfinished_replace} was interrupted: apply --replace ends it"
                )
            lines.extend(f"  {'':<16}   {difference.text()}" for difference in item.differences)
        if not self.items:
            lines.append("  (the catalog is empty)")
        lines.append(
            "Pending changes: apply sends them." if self.pending else "Nothing pending: the account is in step."
        )
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PlannedRequest:
    """One write request a promotion sends; IDs not known before earlier requests ran are placeholders."""

    item: str  # "price pro_monthly"
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    action: str = ""  # create_meter, create_product, update_product, create_price, set_default, archive_price
    key: str = ""  # the item's identity
    context: str = ""  # what else the idempotency key depends on (the price a created one takes the key from)

    def text(self) -> str:
        """ "POST /v1/prices  lookup_key=pro_monthly currency=usd unit_amount=2000 …" """
        pairs = " ".join(f"{name}={value}" for name, value in flatten(self.params).items())
        return f"{self.method} {self.path}  {pairs}".rstrip()


@dataclass
class ApplyResult:
    created: list[tuple[str, str]] = field(default_factory=list)  # (label, new id)
    price_ids: dict[str, str] = field(default_factory=dict)  # lookup key -> id in the account (prices in step)
    writes: int = 0
    replaced: list[tuple[str, str, str]] = field(default_factory=list)  # (lookup key, old id, new id)
    updated: list[tuple[str, str]] = field(default_factory=list)  # (label, what changed)
    skipped: list[str] = field(default_factory=list)  # lookup keys whose price differs and was left (no replace)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Params as form fields, the way the SDK sends them: {"recurring[interval]": "month", "active": "false"}."""
    out: dict[str, str] = {}
    for name, value in params.items():
        key = f"{prefix}[{name}]" if prefix else str(name)
        if isinstance(value, Mapping):
            out.update(flatten(value, key))
        elif isinstance(value, list | tuple):
            for index, element in enumerate(value):
                if isinstance(element, Mapping):
                    out.update(flatten(element, f"{key}[{index}]"))
                else:
                    out[f"{key}[{index}]"] = _form_value(element)
        else:
            out[key] = _form_value(value)
    return out


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return "" if value is None else str(value)


# ---- export ---------------------------------------------------------------------------------------------------------


def export_catalog(
    gateway: StripeGateway, *, price_ids: Iterable[str] | None = None, all_prices: bool = False
) -> Catalog:
    """The given prices (the plans' linked ones), or every active price (`all_prices`, or no `price_ids`), as a
    catalog with their products and meters. Read-only.

    A price without a lookup key raises MissingLookupKeyError (all of them listed, each with a suggested key); a
    price the catalog cannot describe exactly raises UnsupportedPriceError naming it.
    """
    prices: dict[str, dict[str, Any]] = {}
    if all_prices or price_ids is None:
        for page in gateway.iter_catalog_pages():
            for price in page:
                prices[price["id"]] = price
    for price_id in price_ids or ():
        if price_id not in prices:
            prices[price_id] = gateway.retrieve_price(price_id)
    meters: dict[str, CatalogMeter] = {}  # by meter id
    products: dict[str, CatalogProduct] = {}  # by key
    product_ids: dict[str, str] = {}  # key -> product id (two products with one key cannot be told apart)
    entries: list[CatalogPrice] = []
    missing: list[tuple[str, str]] = []
    taken = {str(p["lookup_key"]) for p in prices.values() if p.get("lookup_key")}
    for price in prices.values():
        price_id = str(price["id"])
        _refuse_unsupported(price)
        product = price.get("product")
        if not isinstance(product, Mapping):
            product = gateway.retrieve_price(price_id)["product"]
            assert isinstance(product, Mapping)
        if not price.get("lookup_key"):
            suggestion = _suggest_lookup_key(price, product, taken)
            taken.add(suggestion)
            missing.append((price_id, suggestion))
            continue
        key = product_key_of(product)
        if product_ids.setdefault(key, str(product["id"])) != product["id"]:
            raise CatalogConflictError(
                f"Products {product_ids[key]} and {product['id']} both have the key '{key}'",
                hint=f"Rename one, or give each a distinct '{PRODUCT_KEY_METADATA}' metadata value in the Dashboard.",
            )
        products.setdefault(
            key, CatalogProduct(key=key, name=str(product.get("name") or key), description=product.get("description"))
        )
        draft = PriceDraft.from_stripe(price)
        if draft.model.is_usage_based and not draft.meter_id:
            raise UnsupportedPriceError(price_id, "is metered without a billing meter (legacy usage records)")
        meter_name: str | None = None
        if draft.model.is_usage_based and draft.meter_id:
            if draft.meter_id not in meters:
                meters[draft.meter_id] = _catalog_meter(gateway.retrieve_meter(draft.meter_id))
            meter_name = meters[draft.meter_id].event_name
        default = product.get("default_price")
        default_id = default.get("id") if isinstance(default, Mapping) else default
        entries.append(
            CatalogPrice(
                lookup_key=str(price["lookup_key"]),
                product=key,
                draft=_clean_draft(draft),
                meter=meter_name,
                default=default_id == price_id,
            )
        )
    if missing:
        (first_id, first_key), *others = _free_suggestions(gateway, missing, taken)
        raise MissingLookupKeyError(first_id, first_key, others=others)
    by_event = {meter.event_name: meter for meter in meters.values()}
    return Catalog(meters=list(by_event.values()), products=list(products.values()), prices=entries)


def _refuse_unsupported(price: Mapping[str, Any]) -> None:
    price_id = str(price.get("id"))
    if isinstance(price.get("custom_unit_amount"), Mapping):
        raise UnsupportedPriceError(price_id, "lets the customer choose the amount")
    if price.get("billing_scheme") == "tiered" and not price.get("tiers"):
        raise UnsupportedPriceError(price_id, "came without its tiers")
    options = price.get("currency_options")
    if price.get("billing_scheme") == "tiered" and isinstance(options, Mapping):
        # Each currency's tiers come only when expanded by name; without them its amounts would read as none.
        own = str(price.get("currency") or "").lower()
        bare = sorted(
            str(code).upper()
            for code, option in options.items()
            if str(code).lower() != own and not (option or {}).get("tiers")
        )
        if bare:
            raise UnsupportedPriceError(price_id, f"came without its tiers in {', '.join(bare)}")


def _clean_draft(draft: PriceDraft) -> PriceDraft:
    """The draft as the catalog file holds it: no account-bound meter ID, the tiers mode only where it means
    something, so a price read from Stripe equals the same price read from the file."""
    return replace(
        draft,
        meter_id=None,
        transfer_lookup_key=False,
        tiers_mode=draft.effective_tiers_mode if draft.model.is_tiered else "volume",
        currency=draft.currency.lower(),
    )


def _catalog_meter(meter: Mapping[str, Any]) -> CatalogMeter:
    formula = (meter.get("default_aggregation") or {}).get("formula")
    aggregation: Aggregation = formula if formula in ("sum", "count", "last") else "sum"
    return CatalogMeter(
        event_name=str(meter["event_name"]),
        display_name=str(meter.get("display_name") or meter["event_name"]),
        aggregation=aggregation,
        customer_key=str((meter.get("customer_mapping") or {}).get("event_payload_key") or "stripe_customer_id"),
        value_key=str((meter.get("value_settings") or {}).get("event_payload_key") or "value"),
    )


_EVERY = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}


def _suggest_lookup_key(price: Mapping[str, Any], product: Mapping[str, Any], taken: set[str]) -> str:
    """ "pro_vps_monthly", "setup_fee_one_time", "tokyo_region_monthly_jpy" — not one of `taken`."""
    base = slug(str(product.get("name") or price.get("nickname") or "price")).replace("-", "_")
    recurring = price.get("recurring") or None
    if recurring is None:
        period = "one_time"
    else:
        count = int(recurring.get("interval_count") or 1)
        interval = str(recurring.get("interval") or "month")
        period = _EVERY.get(interval, interval) if count == 1 else f"every_{count}_{interval}s"
    suggestion = f"{base}_{period}"
    currency = str(price.get("currency") or "usd").lower()
    if currency != "usd":
        suggestion += f"_{currency}"
    suggestion = suggestion[: MAX_LOOKUP_KEY - 4]
    candidate, n = suggestion, 2
    while candidate in taken:
        candidate, n = f"{suggestion}_{n}", n + 1
    return candidate


def _free_suggestions(gateway: StripeGateway, missing: list[tuple[str, str]], taken: set[str]) -> list[tuple[str, str]]:
    """The suggested keys, each changed until no price of the account (active or archived) holds it."""
    result = list(missing)
    for _attempt in range(5):
        held = {str(p["lookup_key"]) for p in gateway.list_prices_by_lookup_keys(key for _id, key in result)}
        if not held:
            return result
        taken |= held
        result = [(price_id, _next_free(key, taken) if key in held else key) for price_id, key in result]
    return result


def _next_free(key: str, taken: set[str]) -> str:
    candidate, n = f"{key}_2", 3
    while candidate in taken:
        candidate, n = f"{key}_{n}", n + 1
    taken.add(candidate)
    return candidate


def set_lookup_key(gateway: StripeGateway, price_id: str, lookup_key: str) -> dict[str, Any]:
    """Give a price a lookup key (lookup keys are updatable); refused with LookupKeyTakenError when another price,
    active or archived, holds it."""
    key = lookup_key.strip()
    if not key or len(key) > MAX_LOOKUP_KEY:
        raise InvalidRequestError(
            f"A lookup key holds 1 to {MAX_LOOKUP_KEY} characters", param="lookup_key", hint="Nothing was changed."
        )
    holder = gateway.find_lookup_key_holder(key)
    if holder is not None and holder.get("id") != price_id:
        raise LookupKeyTakenError(key, holder)
    return gateway.update_price(price_id, {"lookup_key": key})


def lookup_keys_of(gateway: StripeGateway, price_ids: Iterable[str]) -> dict[str, str]:
    """price id -> lookup key for the given prices that have one (missing prices are left out)."""
    found: dict[str, str] = {}
    for price_id in dict.fromkeys(price_ids):
        try:
            price = gateway.retrieve_price(price_id)
        except NotFoundError:
            continue
        if price.get("lookup_key"):
            found[price_id] = str(price["lookup_key"])
    return found


# ---- diff -----------------------------------------------------------------------------------------------------------


class MeterNames:
    """The event name of a price's meter: its identity in every mode, where meter IDs differ. One lookup per meter
    and mode; an archived meter (absent from lists) is retrieved, a meter that no longer exists keeps its ID."""

    def __init__(self, known: Iterable[Mapping[str, Any]] = (), *, livemode: bool = False) -> None:
        self._names = {(livemode, str(m["id"])): str(m["event_name"]) for m in known}

    def of(self, gateway: StripeGateway, price: Mapping[str, Any]) -> str | None:
        meter_id = (price.get("recurring") or {}).get("meter")
        if not meter_id:
            return None
        key = (gateway.livemode, str(meter_id))
        if key not in self._names:
            try:
                self._names[key] = str(gateway.retrieve_meter(str(meter_id))["event_name"])
            except NotFoundError:
                self._names[key] = str(meter_id)
        return self._names[key]


@dataclass
class _Account:
    """What an account holds for a catalog: the few reads a diff (and each lookup before a create) needs."""

    account_id: str
    meters: list[dict[str, Any]]
    products: list[dict[str, Any]]
    prices: dict[str, dict[str, Any]]  # lookup key -> holder (active or archived)


def _read_account(catalog: Catalog, gateway: StripeGateway) -> _Account:
    account_id = gateway.verify().id
    # Listed with their currency_options; a tiered one is read again for its tiers in each currency.
    holders = {
        str(p["lookup_key"]): gateway.with_currency_tiers(p)
        for p in gateway.list_prices_by_lookup_keys(p.lookup_key for p in catalog.prices)
    }
    return _Account(account_id, gateway.list_meters(), gateway.list_products(active=True), holders)


def _find_product(products: Iterable[Mapping[str, Any]], key: str) -> dict[str, Any] | None:
    """The active product with this key: one stamped with it first, else one whose name slugs to it."""
    candidates = [dict(p) for p in products if p.get("active", True) and product_key_of(p) == key]
    stamped = [p for p in candidates if (p.get("metadata") or {}).get(PRODUCT_KEY_METADATA) == key]
    return next(iter(stamped or candidates), None)


def _find_meter(meters: Iterable[Mapping[str, Any]], event_name: str) -> dict[str, Any] | None:
    return next(
        (dict(m) for m in meters if m.get("event_name") == event_name and m.get("status", "active") == "active"), None
    )


def _id_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return str(value.get("id")) if value.get("id") else None
    return str(value) if value else None


def _meter_differences(wanted: CatalogMeter, found: Mapping[str, Any]) -> list[TermDifference]:
    have = _catalog_meter(found)
    differences = []
    for name, label in (
        ("aggregation", "aggregation"),
        ("customer_key", "customer payload key"),
        ("value_key", "value payload key"),
        ("display_name", "display name"),
    ):
        if name == "value_key" and wanted.aggregation == "count" and have.aggregation == "count":
            continue
        if getattr(wanted, name) != getattr(have, name):
            differences.append(TermDifference(label, str(getattr(wanted, name)), str(getattr(have, name))))
    return differences


def _label(kind: ItemKind, key: str, detail: str) -> str:
    return f"{kind} {key} ({detail})" if detail else f"{kind} {key}"


def diff_catalog(catalog: Catalog, gateway: StripeGateway) -> CatalogDiff:
    """The catalog compared with the gateway's account, item by item. Read-only."""
    account = _read_account(catalog, gateway)
    return _diff(catalog, gateway, account)


def _diff(catalog: Catalog, gateway: StripeGateway, account: _Account) -> CatalogDiff:
    items: list[ItemStatus] = []
    meter_names = MeterNames(account.meters, livemode=gateway.livemode)

    for meter in catalog.meters:
        found = _find_meter(account.meters, meter.event_name)
        label = _label("meter", meter.event_name, meter.display_name)
        if found is None:
            items.append(ItemStatus("meter", meter.event_name, "create", label=label))
            continue
        differences = _meter_differences(meter, found)
        # A display name is only a name: reported, never a reason to act. The rest decides how usage is billed.
        blocking = [d for d in differences if d.field != "display name"]
        state: ItemState = "differs" if blocking else "same"
        items.append(ItemStatus("meter", meter.event_name, state, differences, str(found["id"]), label))

    products: dict[str, dict[str, Any] | None] = {}
    for product in catalog.products:
        found = _find_product(account.products, product.key)
        products[product.key] = found
        label = _label("product", product.key, product.name)
        if found is None:
            items.append(ItemStatus("product", product.key, "create", label=label))
            continue
        differences = []
        if found.get("name") != product.name:
            differences.append(TermDifference("name", product.name, str(found.get("name"))))
        if (found.get("description") or None) != (product.description or None):
            differences.append(
                TermDifference("description", product.description or "none", str(found.get("description") or "none"))
            )
        items.append(
            ItemStatus(
                "product",
                product.key,
                "differs" if differences else "same",
                differences,
                str(found["id"]),
                label,
                default_price_id=_id_of(found.get("default_price")),
            )
        )

    for price in catalog.prices:
        label = _label("price", price.lookup_key, price.draft.summary())
        holder = account.prices.get(price.lookup_key)
        if holder is None:
            items.append(ItemStatus("price", price.lookup_key, "create", label=label))
            continue
        if not holder.get("active", True):
            items.append(ItemStatus("price", price.lookup_key, "create", label=label, holder_id=str(holder["id"])))
            continue
        differences = compare_terms(price.terms(), price_terms(holder, meter_names.of(gateway, holder)))
        owner = holder.get("product")
        owner_key = product_key_of(owner) if isinstance(owner, Mapping) else None
        expected_product = products.get(price.product)
        owner_id = _id_of(owner)
        elsewhere = (
            owner_id != expected_product.get("id") if expected_product is not None else owner_key != price.product
        )
        if elsewhere:
            differences.append(TermDifference("product", price.product, owner_key or str(owner_id)))
        default_id = _id_of(owner.get("default_price")) if isinstance(owner, Mapping) else None
        status = ItemStatus(
            "price",
            price.lookup_key,
            "differs" if differences else "same",
            differences,
            str(holder["id"]),
            label,
            is_default=default_id == holder["id"],
        )
        replaces = (holder.get("metadata") or {}).get(REPLACES)
        if replaces and not differences:
            try:
                old = gateway.retrieve_price(str(replaces))
            except NotFoundError:
                old = None
            if old is not None and old.get("active", True):
                status.unfinished_replace = str(replaces)
        items.append(status)

    # What the account has that the catalog does not: reported, never touched.
    wanted_events = {m.event_name for m in catalog.meters}
    for extra in account.meters:
        if extra["event_name"] not in wanted_events and extra.get("status", "active") == "active":
            label = _label("meter", str(extra["event_name"]), str(extra.get("display_name") or ""))
            items.append(ItemStatus("meter", str(extra["event_name"]), "only_in_account", [], str(extra["id"]), label))
    wanted_products = {p.key for p in catalog.products}
    for extra in account.products:
        stamp = (extra.get("metadata") or {}).get(PRODUCT_KEY_METADATA)
        if stamp and stamp not in wanted_products:
            label = _label("product", str(stamp), str(extra.get("name") or ""))
            items.append(ItemStatus("product", str(stamp), "only_in_account", [], str(extra["id"]), label))
    wanted_keys = {p.lookup_key for p in catalog.prices}
    for page in gateway.iter_catalog_pages():
        for live in page:
            key = live.get("lookup_key")
            if key and key not in wanted_keys:
                label = _label("price", str(key), describe_price(live))
                items.append(ItemStatus("price", str(key), "only_in_account", [], str(live["id"]), label))
    return CatalogDiff(items=items, mode="live" if gateway.livemode else "test", account_id=account.account_id)


# ---- planning -------------------------------------------------------------------------------------------------------


def placeholder(kind: ItemKind, key: str) -> str:
    return f"<{kind} {key}>"


def _identity(key: str) -> str:
    """An item identity fit for an idempotency key: short keys as they are, long or unusual ones hashed."""
    if _SAFE.match(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    head = re.sub(r"[^A-Za-z0-9_-]", "", key)[:32]
    return f"{head}~{digest}"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def idempotency_key(account_id: str, kind: str, key: str, fingerprint: str) -> str:
    """ "portal-tui-promote-{account}-{kind}-{identity}-{fingerprint}", at most 255 characters."""
    text = f"{IDEMPOTENCY_PREFIX}-{_identity(account_id)}-{kind}-{_identity(key)}-{fingerprint}"
    return text[:255]


def _request_key(
    account: str, action: str, key: str, path: str, params: Mapping[str, Any], context: str = "", terms: str = ""
) -> str:
    """The idempotency key of one write: the account, the item, its terms and the exact request (IDs included,
    so a later run that targets other objects never replays an old answer)."""
    digest = _digest([path, params, context])
    return idempotency_key(account, action.replace("_", "-"), key, f"{terms}-{digest}" if terms else digest)


def _fields(differences: Iterable[TermDifference]) -> set[str]:
    return {difference.field for difference in differences}


def _blocking(catalog: Catalog, diff: CatalogDiff) -> None:
    problems = catalog.validate()
    if problems:
        first = problems[0]
        raise CatalogConflictError(
            f"The catalog is not valid: {first.field}: {first.message}", hint="Fix catalog.toml, then apply again."
        )
    for item in diff.items:
        if item.kind == "meter" and item.state == "differs":
            changes = "; ".join(d.text() for d in item.differences)
            raise CatalogConflictError(
                f"The {diff.mode} account's meter '{item.key}' ({item.account_id}) counts usage differently: {changes}",
                hint="A meter cannot be changed: deactivate it in the Dashboard (then apply creates the catalog's), "
                "or make the catalog's meter match it. Nothing was sent.",
            )


def plan_apply(catalog: Catalog, diff: CatalogDiff, *, replace: bool = False) -> list[PlannedRequest]:
    """Exactly the writes `apply_catalog` sends for this diff, in dependency order: meters, products, prices,
    default prices, archives of replaced prices. IDs not known yet are placeholders like "<product pro>"."""
    _blocking(catalog, diff)
    account = diff.account_id
    requests: list[PlannedRequest] = []
    meter_ids: dict[str, str] = {}
    product_ids: dict[str, str] = {}

    def add(
        target: list[PlannedRequest],
        item: str,
        path: str,
        params: dict[str, Any],
        action: str,
        key: str,
        context: str = "",
        terms: str = "",
    ) -> None:
        idem = _request_key(account, action, key, path, params, context, terms)
        target.append(PlannedRequest(item, "POST", path, params, idem, action, key, context))

    for meter in catalog.meters:
        status = diff.state_of("meter", meter.event_name)
        if status is not None and status.account_id:
            meter_ids[meter.event_name] = status.account_id
            continue
        meter_ids[meter.event_name] = placeholder("meter", meter.event_name)
        add(
            requests,
            f"meter {meter.event_name}",
            "/v1/billing/meters",
            meter.create_params(),
            "create_meter",
            meter.event_name,
        )
    for product in catalog.products:
        status = diff.state_of("product", product.key)
        if status is not None and status.account_id:
            product_ids[product.key] = status.account_id
            if status.state == "differs":
                # only what differs; an empty description unsets the account's
                wanted = {"name": product.name, "description": product.description or ""}
                changes = {name: value for name, value in wanted.items() if name in _fields(status.differences)}
                add(
                    requests,
                    f"product {product.key}",
                    f"/v1/products/{status.account_id}",
                    changes,
                    "update_product",
                    product.key,
                )
            continue
        product_ids[product.key] = placeholder("product", product.key)
        params: dict[str, Any] = {"name": product.name}
        if product.description:
            params["description"] = product.description
        params["metadata"] = {PRODUCT_KEY_METADATA: product.key}
        add(requests, f"product {product.key}", "/v1/products", params, "create_product", product.key)
    defaults: list[PlannedRequest] = []
    archives: list[PlannedRequest] = []
    for price in catalog.prices:
        status = diff.state_of_price(price.lookup_key)
        item = f"price {price.lookup_key}"
        product_id = product_ids[price.product]
        product_status = diff.state_of("product", price.product)
        current_default = product_status.default_price_id if product_status else None
        old_id: str | None = None
        old_is_default = keep_old = False
        if status is not None and status.state == "same" and status.account_id:
            new_id = status.account_id
            if not (status.unfinished_replace and replace):
                if price.default and current_default != new_id:
                    add(
                        defaults,
                        f"product {price.product}",
                        f"/v1/products/{product_id}",
                        {"default_price": new_id},
                        "set_default",
                        price.lookup_key,
                    )
                continue
            old_id = status.unfinished_replace
            old_is_default = current_default == old_id
        else:
            if status is not None and status.state == "differs":
                if not replace:
                    continue
                old_id = status.account_id
                old_is_default = status.is_default
                if old_is_default and "product" in _fields(status.differences):
                    # the old price is the default of another product: it cannot be archived from here
                    keep_old = True
                    old_is_default = False
            holder = old_id or (status.holder_id if status is not None else None)
            meter_id = meter_ids.get(price.meter) if price.meter else None
            params = price.create_params(product_id, meter_id, transfer_lookup_key=holder is not None)
            if old_id is not None and not keep_old:
                params["metadata"] = {REPLACES: old_id}
            new_id = placeholder("price", price.lookup_key)
            add(
                requests,
                item,
                "/v1/prices",
                params,
                "create_price",
                price.lookup_key,
                holder or "",
                price.fingerprint(),
            )
        # The new price becomes the default when the catalog says so, or when the price it replaces was one
        # (Stripe refuses to archive a product's default price).
        if (price.default and current_default != new_id) or old_is_default:
            add(
                defaults,
                f"product {price.product}",
                f"/v1/products/{product_id}",
                {"default_price": new_id},
                "set_default",
                price.lookup_key,
            )
        if old_id is not None and not keep_old:
            add(
                archives,
                item,
                f"/v1/prices/{old_id}",
                {"active": False, "metadata": {REPLACED_BY: new_id}},
                "archive_price",
                price.lookup_key,
            )
    return requests + defaults + archives


# ---- apply ----------------------------------------------------------------------------------------------------------


def apply_catalog(
    catalog: Catalog,
    gateway: StripeGateway,
    *,
    replace: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> ApplyResult:
    """Create in the gateway's account what the catalog has and it lacks; with `replace`, replace prices whose terms
    differ. Idempotent and resumable: see the module's docstring. Nothing is deleted."""
    say = on_progress or (lambda line: None)
    say("Reading the account…")
    account = _read_account(catalog, gateway)
    diff = _diff(catalog, gateway, account)
    planned = plan_apply(catalog, diff, replace=replace)
    result = ApplyResult()
    known: dict[str, str] = {}  # placeholder -> id

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            return known.get(value, value)
        if isinstance(value, Mapping):
            return {name: resolve(inner) for name, inner in value.items()}
        if isinstance(value, list):
            return [resolve(inner) for inner in value]
        return value

    for request in planned:
        params = resolve(request.params)
        path = request.path
        for name, value in known.items():
            path = path.replace(name, value)
        wanted_price = catalog.price(request.key) if request.action == "create_price" else None
        terms = wanted_price.fingerprint() if wanted_price is not None else ""
        idem = _request_key(account.account_id, request.action, request.key, path, params, request.context, terms)
        if request.action == "create_meter":
            found = _find_meter(gateway.list_meters(), request.key)
            if found is None:
                say(f"Creating {request.item}…")
                found = gateway.create_meter(
                    params["display_name"],
                    params["event_name"],
                    params["default_aggregation"]["formula"],
                    params["customer_mapping"]["event_payload_key"],
                    (params.get("value_settings") or {}).get("event_payload_key", "value"),
                    idempotency_key=idem,
                )
                result.writes += 1
                result.created.append((request.item, str(found["id"])))
            known[placeholder("meter", request.key)] = str(found["id"])
        elif request.action == "create_product":
            found = _find_product(gateway.list_products(active=True), request.key)
            if found is None:
                say(f"Creating {request.item}…")
                found = gateway.create_product(
                    params["name"], params.get("description"), idempotency_key=idem, metadata=params["metadata"]
                )
                result.writes += 1
                result.created.append((request.item, str(found["id"])))
            known[placeholder("product", request.key)] = str(found["id"])
        elif request.action == "create_price":
            holder = next(iter(gateway.list_prices_by_lookup_keys([request.key])), None)
            assert wanted_price is not None
            if holder is not None and holder.get("active", True) and _same_price(gateway, wanted_price, holder, params):
                found = holder  # made by an earlier, interrupted run
            else:
                if holder is not None and not params.get("transfer_lookup_key"):
                    raise LookupKeyTakenError(request.key, holder)
                say(f"Creating {request.item}…")
                found = gateway.create_price(params, idempotency_key=idem)
                result.writes += 1
                result.created.append((request.item, str(found["id"])))
            known[placeholder("price", request.key)] = str(found["id"])
            replaced = (params.get("metadata") or {}).get(REPLACES)
            if replaced:
                result.replaced.append((request.key, str(replaced), str(found["id"])))
        elif request.action in ("update_product", "set_default"):
            say(f"Updating {request.item}: {', '.join(f'{k}={v}' for k, v in flatten(params).items())}…")
            gateway.update_product(path.rsplit("/", 1)[-1], params, idempotency_key=idem)
            result.writes += 1
            result.updated.append((request.item, ", ".join(flatten(params))))
        elif request.action == "archive_price":
            old_id = path.rsplit("/", 1)[-1]
            say(f"Archiving {old_id} (replaced by {params['metadata'][REPLACED_BY]})…")
            gateway.update_price(old_id, params, idempotency_key=idem)
            result.writes += 1
            if not any(old == old_id for _key, old, _new in result.replaced):
                result.replaced.append((request.key, old_id, str(params["metadata"][REPLACED_BY])))
    for price in catalog.prices:
        placeholder_id = placeholder("price", price.lookup_key)
        status = diff.state_of_price(price.lookup_key)
        if placeholder_id in known:
            result.price_ids[price.lookup_key] = known[placeholder_id]
        elif status is not None and status.state == "same" and status.account_id:
            result.price_ids[price.lookup_key] = status.account_id
        else:
            result.skipped.append(price.lookup_key)
    say("Done" if result.writes else "Nothing to send: the account is in step")
    return result


def _same_price(
    gateway: StripeGateway, wanted: CatalogPrice, holder: Mapping[str, Any], params: Mapping[str, Any]
) -> bool:
    """Whether the active price holding the key is the one this create would make (an earlier run made it)."""
    if _id_of(holder.get("product")) != params.get("product"):
        return False
    meter_id = (holder.get("recurring") or {}).get("meter")
    event = str(gateway.retrieve_meter(meter_id)["event_name"]) if meter_id else None
    return not compare_terms(wanted.terms(), price_terms(holder, event))


# ---- plans ----------------------------------------------------------------------------------------------------------


def link_live_prices(config: PlanConfig, test_to_lookup: Mapping[str, str], price_ids: Mapping[str, str]) -> list[str]:
    """Put each live price in the live slot of the plans whose test price has its lookup key; the plan ids changed."""
    changed: list[str] = []
    for plan in config.plans:
        lookup = test_to_lookup.get(plan.test_price_id or "")
        live = price_ids.get(lookup) if lookup else None
        if live and plan.live_price_id != live:
            plan.live_price_id = live
            changed.append(plan.id)
    return changed


def plan_drift(config: PlanConfig, test_gateway: StripeGateway, live_gateway: StripeGateway) -> list[Problem]:
    """Plans whose live price no longer matches their test price: other terms, or another lookup key."""
    problems: list[Problem] = []
    meter_names = MeterNames()

    for index, plan in enumerate(config.plans):
        if not plan.test_price_id or not plan.live_price_id:
            continue
        where = f"plans[{index}].live_price_id"
        try:
            test = test_gateway.retrieve_price(plan.test_price_id)
        except NotFoundError:
            continue  # the test slot's own check reports a missing test price
        try:
            live = live_gateway.retrieve_price(plan.live_price_id)
        except NotFoundError:
            problems.append(
                Problem(
                    where, f"Plan '{plan.id}': live price {plan.live_price_id} does not exist in live mode", plan.id
                )
            )
            continue
        test_key, live_key = test.get("lookup_key"), live.get("lookup_key")
        if test_key and live_key != test_key:
            holds = f"lookup key '{live_key}'" if live_key else "no lookup key"
            problems.append(
                Problem(
                    where,
                    f"Plan '{plan.id}': the live price {plan.live_price_id} has {holds}, its test price "
                    f"{plan.test_price_id} has '{test_key}': the live slot links another price",
                    plan.id,
                )
            )
        differences = compare_terms(
            price_terms(test, meter_names.of(test_gateway, test)), price_terms(live, meter_names.of(live_gateway, live))
        )
        if differences:
            changes = "; ".join(difference.text() for difference in differences)
            problems.append(
                Problem(
                    where,
                    f"Plan '{plan.id}': the live price {plan.live_price_id} bills differently from the test price "
                    f"{plan.test_price_id} ({changes})",
                    plan.id,
                )
            )
    return problems
