"""Checks a plan's linked Stripe prices: they exist, are active and recurring, and belong to the right mode."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from portal_tui.domain.plans import PlanConfig
from portal_tui.domain.pricing import describe_price, price_currencies
from portal_tui.services.errors import NotFoundError
from portal_tui.services.product_setup import REPLACED_BY

Mode = Literal["test", "live"]
PRICE_PREFIX = "price_"
# What a mistaken paste usually is, by its prefix.
# A subscription keeps the currency it started in: Stripe refuses to update it to a price in another currency.
CURRENCY_CLASH = (
    "a customer switching plans cannot move their subscription to a price in another currency, so the upgrade or "
    "downgrade fails; link prices offered in the same currencies"
)
OTHER_IDS = {"prod_": "a product ID", "plan_": "a legacy plan ID", "sub_": "a subscription ID", "mtr_": "a meter ID"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config or a linked price; `field` locates it ("plans[0].test_price_id")."""

    field: str
    message: str
    plan: str | None = None


def price_problems(price: Mapping[str, Any], slot: Mode) -> list[str]:
    """What makes a price unfit for a plan's slot (empty when it is fine)."""
    problems: list[str] = []
    price_id = price.get("id", "?")
    if bool(price.get("livemode")) != (slot == "live"):
        made_in = "live" if price.get("livemode") else "test"
        problems.append(f"{price_id} is a {made_in}-mode price but sits in the {slot} slot")
    if not price.get("active", True):
        problems.append(f"{price_id} is archived: new subscriptions cannot use it")
    if price.get("type") != "recurring" or not price.get("recurring"):
        problems.append(f"{price_id} is a one-time price: a plan needs a recurring price")
    return problems


def _shape(price: Mapping[str, Any]) -> tuple[Any, ...]:
    recurring = price.get("recurring") or {}
    return (recurring.get("interval"), recurring.get("interval_count") or 1, recurring.get("usage_type", "licensed"))


def find_replacement(
    price: Mapping[str, Any],
    retrieve: Callable[[str], dict[str, Any]],
    find_by_lookup_key: Callable[[str], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """The active price that took an archived price's place, or None.

    Replacing a price creates the new one with `transfer_lookup_key` (so the key leaves the old price) and, when the
    old one was its product's default, makes the new one the default before archiving. So: an active holder of a
    key the archived price still has; else the product's default, if it is a newer active price billed the same way.
    """
    if price.get("active", True):
        return None
    price_id = price.get("id")
    successor = (price.get("metadata") or {}).get(REPLACED_BY)
    if successor:  # replaced through portal-tui: the archived price names its successor
        try:
            candidate = retrieve(str(successor))
        except NotFoundError:
            candidate = None
        if candidate is not None and candidate.get("active", True):
            return candidate
    key = price.get("lookup_key")
    if key:
        holder = find_by_lookup_key(str(key))
        if holder is not None and holder.get("id") != price_id and holder.get("active", True):
            return holder
    product = price.get("product")
    default = product.get("default_price") if isinstance(product, dict) else None
    default_id = default.get("id") if isinstance(default, dict) else default
    if not default_id or default_id == price_id:
        return None
    try:
        candidate = retrieve(str(default_id))
    except NotFoundError:
        return None
    newer = int(candidate.get("created") or 0) >= int(price.get("created") or 0)
    if candidate.get("active", True) and newer and _shape(candidate) == _shape(price):
        return candidate
    return None


@dataclass
class PriceCheck:
    """The result of checking one plan's price in one mode."""

    plan_id: str
    slot: Mode
    price_id: str | None
    price: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    not_checked: str | None = None  # why the price could not be checked with this key ("needs a live key")

    @property
    def ok(self) -> bool:
        return self.price is not None and not self.problems

    @property
    def summary(self) -> str:
        return describe_price(self.price) if self.price else ""


def id_problem(price_id: str, slot: Mode) -> str | None:
    """Why a linked ID cannot be a price at all (checked offline), or None."""
    if price_id.startswith(PRICE_PREFIX):
        return None
    kind = next((name for prefix, name in OTHER_IDS.items() if price_id.startswith(prefix)), None)
    what = f"{kind}, not a price ID" if kind else f"not a price ID (they start with {PRICE_PREFIX})"
    return f"'{price_id}' in the {slot} slot is {what}"


def check_plan_prices(
    config: PlanConfig, mode: Mode, retrieve: Callable[[str], dict[str, Any]]
) -> tuple[list[PriceCheck], list[Problem]]:
    """Check every plan's prices with `retrieve(price_id)`, a key of `mode`; also currency consistency.

    The other mode's slot cannot be checked with this key (test and live are separate worlds), but an ID there
    that this key finds is a `mode` price in the wrong slot; the rest are returned with `not_checked` set.
    Unreachable Stripe or a refused key propagate as PortalError: the caller could not check.
    """
    checks: list[PriceCheck] = []
    problems: list[Problem] = []
    other: Mode = "live" if mode == "test" else "test"
    for index, plan in enumerate(config.plans):
        test_id, live_id = plan.price_id("test"), plan.price_id("live")
        if test_id and test_id == live_id:
            problems.append(
                Problem(
                    f"plans[{index}].live_price_id",
                    f"Plan '{plan.id}' links {test_id} in both slots: a test and a live price are never the same",
                    plan.id,
                )
            )
        for slot in (mode, other):
            check = _check_slot(plan.id, plan.price_id(slot), slot, mode, retrieve)
            checks.append(check)
            where = f"plans[{index}].{slot}_price_id"
            if slot == mode and not check.price_id:
                problems.append(Problem(where, f"Plan '{plan.id}' has no {mode}-mode price linked", plan.id))
                continue
            problems.extend(Problem(where, f"Plan '{plan.id}': {message}", plan.id) for message in check.problems)
    found = [(c.plan_id, price_currencies(c.price)) for c in checks if c.slot == mode and c.price]
    if (gap := currency_gap(found)) is not None:
        problems.append(Problem("plans", f"Plans bill in different currencies ({gap}): {CURRENCY_CLASH}"))
    return checks, problems


def currency_gap(found: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """Which plans lack a currency another plan bills in; `found` is (plan ID, its price's currencies).

    A subscription keeps its currency, so every plan a customer may switch to must offer it: a price with
    EUR among its currency_options next to a USD-only price strands EUR customers. None when all plans offer the
    same currencies; otherwise the listing ("basic=USD, pro=USD+EUR; EUR missing from basic").
    """
    offered = [(plan_id, [code.lower() for code in codes]) for plan_id, codes in found if codes]
    every = {code for _plan, codes in offered for code in codes}
    missing = {code: [plan for plan, codes in offered if code not in codes] for code in sorted(every)}
    missing = {code: plans for code, plans in missing.items() if plans}
    if not missing:
        return None
    listing = ", ".join(f"{plan_id}={'+'.join(code.upper() for code in codes)}" for plan_id, codes in offered)
    if all(len(codes) == 1 for _plan, codes in offered):
        return listing  # one currency per plan: the listing says it all
    gaps = "; ".join(f"{code.upper()} missing from {', '.join(plans)}" for code, plans in missing.items())
    return f"{listing}; {gaps}"


def _check_slot(
    plan_id: str, price_id: str | None, slot: Mode, mode: Mode, retrieve: Callable[[str], dict[str, Any]]
) -> PriceCheck:
    check = PriceCheck(plan_id, slot, price_id)
    if not price_id:
        if slot == mode:
            check.problems.append(f"no {mode} price linked")
        else:
            check.not_checked = f"no {slot} price linked yet"
        return check
    malformed = id_problem(price_id, slot)
    if malformed:
        check.problems.append(malformed)
        return check
    try:
        check.price = retrieve(price_id)
    except NotFoundError:
        if slot == mode:
            check.problems.append(f"{price_id} does not exist in {mode} mode")
        else:
            check.not_checked = f"needs a {slot} key ({'sk_live_' if slot == 'live' else 'sk_test_'}…) to check"
        return check
    check.problems.extend(price_problems(check.price, slot))
    return check
