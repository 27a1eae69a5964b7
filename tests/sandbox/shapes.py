"""Compare response bodies with the fields the installed `stripe` package declares for each object.

The SDK's resource classes (stripe/_subscription.py, ...) are generated from Stripe's OpenAPI spec for the pinned
API version: their class-level annotations are the fields an object has, nested `StripeObject` classes the fields
of nested objects. A field marked Optional is still always present (null); the exceptions are the fields Stripe
leaves out unless asked for (`INCLUDABLE`) and per-type hashes (`TYPED_HASHES`), both taken from Stripe's docs.
"""

from __future__ import annotations

import importlib
import json
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject, UntypedStripeObject

# The object types issue 10 covers ("object" value -> what the conformance test must have seen).
COVERED = (
    "account",
    "product",
    "price",
    "billing.meter",
    "customer",
    "payment_method",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "invoice_payment",
    "payment_intent",
    "test_helpers.test_clock",
)

# Fields Stripe's docs mark "includable": not in a response unless the request expands them.
INCLUDABLE: dict[str, frozenset[str]] = {
    "price": frozenset({"currency_options", "tiers"}),
    "plan": frozenset({"tiers"}),
    "customer": frozenset({"cash_balance", "invoice_credit_balance", "sources", "subscriptions", "tax", "tax_ids"}),
    "invoice": frozenset({"payments"}),
}
# The same for nested objects, by the SDK class's qualified name.
INCLUDABLE_NESTED: dict[str, frozenset[str]] = {"Price.CurrencyOptions": frozenset({"tiers"})}
# Hashes named after a payment method type: an object carries only the one its `type` names
# (a card PaymentMethod has `card`, no `sepa_debit: null`, ...).
TYPED_HASHES: frozenset[str] = frozenset({"PaymentMethod"})
# Maps keyed by payment method type: only the types in use appear.
# An account's capabilities list those it requested, its settings the sections its features use; a PaymentIntent's
# options list the payment method types it may use; Stripe shows an empty `tip` and `radar_options` as {}.
SPARSE: frozenset[str] = frozenset(
    {
        "Account.Capabilities",
        "Account.Settings",
        "PaymentIntent.PaymentMethodOptions",
        "PaymentIntent.AmountDetails",
        "PaymentIntent.AmountDetails.Tip",
        "PaymentMethod.RadarOptions",
        # keyed by source type: only the types with funds
        "Balance.Available.SourceTypes",
        "Balance.Pending.SourceTypes",
        # Stripe's error hashes carry the keys that apply to the error; a next action only its own type's hash
        "PaymentIntent.LastPaymentError",
        "PaymentIntent.NextAction",
    }
)

# Fields present only in some states: `deleted` only on a deleted object's stub; an account's `individual` only
# when its business_type is individual.
CONDITIONAL: frozenset[str] = frozenset({"deleted"})
CONDITIONAL_BY_OBJECT: dict[str, frozenset[str]] = {
    "account": frozenset({"individual"}),
    # a webhook endpoint's signing secret is only in the answer that created it
    "webhook_endpoint": frozenset({"secret"}),
    # balances a Connect platform, Instant Payouts, Issuing or prefunding account has; a plain account shows none
    "balance": frozenset({"connect_reserved", "instant_available", "issuing", "refund_and_dispute_prefunding"}),
}


@dataclass(frozen=True)
class Mismatch:
    where: str  # "subscription.items.data[].price.recurring"
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.extra:
            parts.append("not in the SDK " + ", ".join(self.extra))
        return f"{self.where}: {'; '.join(parts)}"


def resource_class(object_name: str) -> type[StripeObject] | None:
    entry = OBJECT_CLASSES.get(object_name)
    if entry is None:
        return None
    module, name = entry
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type)
    return cls


def declared(cls: type) -> dict[str, Any]:
    """Field name -> annotation, for the class and its StripeObject bases (not the SDK's plumbing)."""
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, StripeObject)) or klass.__module__ in (
            "stripe._stripe_object",
            "stripe._api_resource",
        ):
            continue
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            text = annotation if isinstance(annotation, str) else repr(annotation)
            if name.startswith("_") or name.isupper() or "ClassVar" in text:
                continue
            fields[name] = annotation
    return fields


def _nested(name: str, chain: tuple[type, ...]) -> type | None:
    for context in reversed(chain):
        found = vars(context).get(name)
        if isinstance(found, type) and issubclass(found, StripeObject):
            return found
    return None


def _classes(annotation: Any, chain: tuple[type, ...]) -> Iterator[type]:
    """The StripeObject classes an annotation names (through Optional, List, Union; forward refs by name)."""
    if isinstance(annotation, str):
        found = _nested(annotation.strip("'\""), chain)
        if found is not None:
            yield found
        return
    if isinstance(annotation, typing.ForwardRef):
        yield from _classes(annotation.__forward_arg__, chain)
        return
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        if "." in annotation.__qualname__:  # a nested class; top-level resources are found by their `object`
            yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _classes(argument, chain)


def _map_values(annotation: Any) -> Any:
    """The value type of a map annotation, `Dict[str, X]` or `UntypedStripeObject[X]` (through Optional), else None."""
    origin = typing.get_origin(annotation)
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is UntypedStripeObject:
        return typing.get_args(annotation)[0]
    for argument in typing.get_args(annotation) if typing.get_origin(annotation) is typing.Union else ():
        found = _map_values(argument)
        if found is not None:
            return found
    return None


def _type_values(cls: type) -> set[str]:
    annotation = vars(cls).get("__annotations__", {}).get("type")
    return set(re.findall(r"'([a-z0-9_]+)'", repr(annotation))) if annotation is not None else set()


def check(
    value: Any,
    where: str = "",
    annotation: Any = None,
    chain: tuple[type, ...] = (),
    absent: frozenset[str] = frozenset(),
) -> Iterator[Mismatch]:
    """Every place in `value` whose keys differ from the SDK's declaration (`absent`: top-level fields the
    response leaves out, such as an invoice preview's id)."""
    if isinstance(value, list):
        for item in value:
            yield from check(item, where + "[]", annotation, chain)
        return
    if not isinstance(value, dict):
        return  # a scalar, or an expandable field left as an id
    object_name = value.get("object")
    if isinstance(object_name, str):
        if object_name == "list":
            yield from check(value.get("data") or [], f"{where}.data", annotation, chain)
            return
        if value.get("deleted") is True:
            return
        cls = resource_class(object_name)
        if cls is None:
            return
        label = object_name if not where else f"{where}({object_name})"
        yield from check_object(value, cls, (cls,), label, absent)
        return
    values = _map_values(annotation)
    if values is not None:  # a map such as a price's currency_options: {"eur": {...}, "usd": {...}}
        for name, item in value.items():
            yield from check(item, f"{where}[{name}]", values, chain)
        return
    for nested in _classes(annotation, chain):
        yield from check_object(value, nested, (*chain, nested), where)
        return


def check_object(
    value: dict[str, Any], cls: type, chain: tuple[type, ...], where: str, absent: frozenset[str] = frozenset()
) -> Iterator[Mismatch]:
    fields = declared(cls)
    keys = set(value)
    optional: set[str] = set(absent)
    if len(chain) == 1:
        kind = str(value.get("object"))
        optional |= CONDITIONAL | INCLUDABLE.get(kind, frozenset()) | CONDITIONAL_BY_OBJECT.get(kind, frozenset())
    qualname = cls.__qualname__
    optional |= INCLUDABLE_NESTED.get(qualname, frozenset())
    if qualname in TYPED_HASHES:
        own = value.get("type")
        optional |= {name for name in _type_values(cls) if name in fields and name != own}
        extra_typed = {name for name in _type_values(cls) if name in keys and name != own}
    else:
        extra_typed = set()
    if qualname in SPARSE:
        optional |= set(fields)
    missing = sorted(set(fields) - keys - optional)
    extra = sorted((keys - set(fields)) | extra_typed)
    if missing or extra:
        yield Mismatch(where, tuple(missing), tuple(extra))
    for key in sorted(keys & set(fields)):
        yield from check(value[key], f"{where}.{key}", fields[key], chain)


def objects_in(value: Any) -> Iterator[str]:
    """The `object` names of every object in a body, nested ones included."""
    if isinstance(value, list):
        for item in value:
            yield from objects_in(item)
    elif isinstance(value, dict):
        name = value.get("object")
        if isinstance(name, str) and name != "list":
            yield name
        for item in value.values():
            yield from objects_in(item)


def skeleton(value: Any) -> Any:
    """The body's structure only (keys, `object`/`type` values, list items deduplicated): what shapes depend on."""
    if isinstance(value, dict):
        return {key: (item if key in ("object", "type", "deleted") else skeleton(item)) for key, item in value.items()}
    if isinstance(value, list):
        unique: dict[str, Any] = {}
        for item in value:
            shape = skeleton(item)
            unique.setdefault(json.dumps(shape, sort_keys=True), shape)
        return list(unique.values())
    return None
