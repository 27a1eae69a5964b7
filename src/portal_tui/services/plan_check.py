"""Checks a plan's linked Stripe prices: they exist, are active and recurring, and belong to the right mode."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from portal_tui.domain.plans import PlanConfig
from portal_tui.domain.pricing import describe_price
from portal_tui.services.errors import NotFoundError

Mode = Literal["test", "live"]


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


@dataclass
class PriceCheck:
    """The result of checking one plan's price in one mode."""

    plan_id: str
    slot: Mode
    price_id: str | None
    price: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.price is not None and not self.problems

    @property
    def summary(self) -> str:
        return describe_price(self.price) if self.price else ""


def check_plan_prices(
    config: PlanConfig, mode: Mode, retrieve: Callable[[str], dict[str, Any]]
) -> tuple[list[PriceCheck], list[Problem]]:
    """Check every plan's price for `mode` with `retrieve(price_id)`; also currency consistency across plans.

    Unreachable Stripe or a refused key propagate as PortalError: the caller could not check.
    """
    checks: list[PriceCheck] = []
    problems: list[Problem] = []
    slot_name = f"{mode}_price_id"
    for index, plan in enumerate(config.plans):
        price_id = plan.price_id(mode)
        where = f"plans[{index}].{slot_name}"
        check = PriceCheck(plan.id, mode, price_id)
        checks.append(check)
        if not price_id:
            check.problems.append(f"no {mode} price linked")
            problems.append(Problem(where, f"Plan '{plan.id}' has no {mode}-mode price linked", plan.id))
            continue
        try:
            check.price = retrieve(price_id)
        except NotFoundError:
            message = f"{price_id} does not exist in {mode} mode"
            check.problems.append(message)
            problems.append(Problem(where, f"Plan '{plan.id}': {message}", plan.id))
            continue
        for message in price_problems(check.price, mode):
            check.problems.append(message)
            problems.append(Problem(where, f"Plan '{plan.id}': {message}", plan.id))
    currencies = {c.price["currency"] for c in checks if c.price and c.price.get("currency")}
    if len(currencies) > 1:
        listing = ", ".join(f"{c.plan_id}={c.price['currency'].upper()}" for c in checks if c.price)
        problems.append(
            Problem("plans", f"Plans bill in different currencies ({listing}): a customer switching plans cannot")
        )
    return checks, problems
