"""The sandbox's objects: one world per mode (test, live), Stripe-like ids, lists with cursors, expansion."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from portal_tui.sandbox.errors import ApiError, invalid, no_such
from portal_tui.sandbox.params import integer, text

Obj = dict[str, Any]
KIND_PREFIX = {
    "product": "prod",
    "price": "price",
    "billing.meter": "mtr",
    "customer": "cus",
    "payment_method": "pm",
    "subscription": "sub",
    "subscription_item": "si",
    "test_helpers.test_clock": "clock",
    "invoice": "in",
    "line_item": "il",
    "webhook_endpoint": "we",
}
KIND_NAME = {
    "product": "product",
    "price": "price",
    "billing.meter": "meter",
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "subscription": "subscription",
    "test_helpers.test_clock": "test_clock",
    "invoice": "invoice",
    "webhook_endpoint": "webhook_endpoint",
}


@dataclass
class World:
    """Everything one account holds in one mode; livemode is stamped on every object."""

    livemode: bool
    objects: dict[str, dict[str, Obj]] = field(default_factory=lambda: {kind: {} for kind in KIND_PREFIX})
    meter_events: list[Obj] = field(default_factory=list)
    event_identifiers: set[str] = field(default_factory=set)
    idempotency: dict[str, tuple[str, str, int, Obj]] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    clock: Callable[[], float] = time.time
    # Seconds a meter event takes to count in usage: Stripe aggregates events asynchronously (see Sandbox).
    meter_event_lag: float = 0.0
    # The same account's other mode, to word a cross-mode miss like Stripe ("a similar object exists in live mode")
    sibling: World | None = field(default=None, repr=False, compare=False)

    def new_id(self, kind: str) -> str:
        number = next(self.counter)
        mode = "Live" if self.livemode else "Sbx"
        return f"{KIND_PREFIX[kind]}_1Portal{mode}{number:07d}"

    def now(self) -> int:
        return int(self.clock())

    def add(self, kind: str, fields: Obj, *, object_id: str | None = None) -> Obj:
        obj: Obj = {"id": object_id or self.new_id(kind), "object": kind}
        if kind not in ("line_item",):
            obj["created"] = fields.pop("created", self.now())
        if kind not in ("line_item", "subscription_item"):  # Stripe's subscription items carry no livemode
            obj["livemode"] = self.livemode
        obj.update(fields)
        if kind != "line_item":
            self.objects[kind][obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str, *, param: str | None = None) -> Obj:
        found = self.objects[kind].get(object_id)
        if found is None:
            note = None
            if self.sibling is not None and object_id in self.sibling.objects[kind]:
                this, other = ("live", "test") if self.livemode else ("test", "live")
                note = f"a similar object exists in {other} mode, but a {this} mode key was used to make this request."
            raise no_such(KIND_NAME.get(kind, kind), object_id, param, 400 if param else 404, note=note)
        return found

    def remove(self, kind: str, object_id: str) -> None:
        self.objects[kind].pop(object_id, None)


def page(
    world: World,
    items: list[Obj],
    params: dict[str, Any],
    url: str,
    render: Callable[[Obj], Obj],
) -> Obj:
    """One page of a Stripe list: newest first, `limit` 1..100, `starting_after` / `ending_before` cursors."""
    limit = integer(params, "limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise invalid(
            "This value must be greater than or equal to 1 and less than or equal to 100."
            if limit > 100 or limit < 1
            else "Invalid limit",
            "limit",
            "parameter_invalid_integer",
        )
    ordered = sorted(items, key=_position, reverse=True)
    after, before = text(params, "starting_after"), text(params, "ending_before")
    if after:
        cursor = _position(_cursor(world, items, after, "starting_after"))
        ordered = [obj for obj in ordered if _position(obj) < cursor]
    elif before:
        cursor = _position(_cursor(world, items, before, "ending_before"))
        newer = [obj for obj in ordered if _position(obj) > cursor]
        # Walking backwards, `has_more` says whether there are still newer objects beyond this page.
        return {
            "object": "list",
            "data": [render(obj) for obj in newer[-limit:]],
            "has_more": len(newer) > limit,
            "url": url,
        }
    chunk = ordered[:limit]
    return {
        "object": "list",
        "data": [render(obj) for obj in chunk],
        "has_more": len(ordered) > limit,
        "url": url,
    }


def _position(obj: Obj) -> tuple[int, str]:
    """Where an object sits in a list: newest first, ties broken by id."""
    return (obj.get("created", 0), obj["id"])


def _cursor(world: World, items: list[Obj], object_id: str, param: str) -> Obj:
    """The object a cursor names. Like Stripe, it need not match the list's filters any more (a price archived
    while an `active=true` listing walks past it still marks the place)."""
    found = next((obj for obj in items if obj["id"] == object_id), None)
    if found is None:
        found = next((objs[object_id] for objs in world.objects.values() if object_id in objs), None)
    if found is None:
        raise ApiError(400, f"No such object: '{object_id}'", code="resource_missing", param=param)
    return found


def expansions(params: dict[str, Any]) -> set[str]:
    raw = params.get("expand") or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise invalid("Invalid array", "expand", "parameter_invalid_array")
    return set(raw)


# A map's entry in an expansion: `currency_options.eur.tiers` is expandable as `currency_options.*.tiers`.
_CURRENCY_ENTRY = re.compile(r"(?<=currency_options\.)[a-z]{3}(?=\.)")


def check_expansions(params: dict[str, Any], expandable: frozenset[str]) -> None:
    """Refuse an expansion the route cannot make, in Stripe's words (with its hint when `data.` is missing)."""
    for name in sorted(expansions(params)):
        if name in expandable or _CURRENCY_ENTRY.sub("*", name) in expandable:
            continue
        message = f"This property cannot be expanded ({name})."
        if f"data.{name}" in expandable:
            message += f" You may want to try expanding 'data.{name}' instead."
        raise ApiError(400, message)


def list_expansions(params: dict[str, Any], expandable: frozenset[str]) -> set[str]:
    """A list request's expansions relative to each item: `data.latest_invoice` -> `latest_invoice`.

    Lists expand inside `data.` only: a bare name (or anything else not in `expandable`, given without the
    prefix) is refused in Stripe's words, with its hint.
    """
    check_expansions(params, frozenset(f"data.{name}" for name in expandable))
    return {name.removeprefix("data.") for name in expansions(params)}


def created_filter(params: dict[str, Any]) -> Callable[[Obj], bool]:
    """Stripe's `created` list filter: an exact timestamp, or a hash of gt/gte/lt/lte bounds."""
    return range_filter(params, "created", lambda obj: int(obj.get("created") or 0))


def range_filter(params: dict[str, Any], key: str, value_of: Callable[[Obj], int]) -> Callable[[Obj], bool]:
    """A timestamp list filter such as `created`: an exact value, or a hash of gt/gte/lt/lte bounds."""
    raw = params.get(key)
    if raw is None:
        return lambda obj: True
    if isinstance(raw, str):
        exact = integer(params, key)
        return lambda obj: value_of(obj) == exact
    if not isinstance(raw, dict):
        raise invalid("Invalid hash", key, "parameter_invalid_hash")
    checks = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    bounds = []
    for name in raw:
        if name not in checks:
            raise ApiError(400, f"Received unknown parameter: {key}[{name}]", code="parameter_unknown")
        bound = integer(raw, name, f"{key}[{name}]")
        assert bound is not None
        bounds.append((checks[name], bound))
    return lambda obj: all(check(value_of(obj), bound) for check, bound in bounds)
