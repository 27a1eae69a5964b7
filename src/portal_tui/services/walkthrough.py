"""The test-mode walkthrough: prove on Stripe that a plan bills what the calculator says, then clean up.

One run: test clock → customer with a test card → subscription → usage (metered) → invoice preview compared line by
line with `amount_for` → optionally advance the clock and read the finalized invoice → the plan's quotas. The test
clock is always deleted at the end (that removes its customer and subscription), also on failure or cancel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.domain.money import format_money
from portal_tui.domain.plans import Plan, PlanConfig, format_quota
from portal_tui.domain.pricing import Breakdown, breakdown, describe_price
from portal_tui.services.errors import LiveModeRefusedError, PortalError

if TYPE_CHECKING:
    from portal_tui.services.gateway import StripeGateway

Card = Literal["succeeds", "declined", "3ds"]
TEST_CARDS: dict[Card, tuple[str, str]] = {
    "succeeds": ("pm_card_visa", "Visa 4242 · succeeds"),
    "declined": ("pm_card_chargeDeclined", "Visa 0002 · declined"),
    "3ds": ("pm_card_authenticationRequired", "Visa 3155 · needs 3-D Secure"),
}
MAX_COUNT_EVENTS = 500


class WalkthroughError(PortalError):
    title = "The test run stopped"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class Step:
    """One visible step of the run."""

    key: str
    title: str
    status: StepStatus = StepStatus.PENDING
    detail: str = ""


@dataclass(frozen=True)
class Scenario:
    """What to try: which test card, what quantity (licensed) or usage (metered), and whether to advance time."""

    card: Card = "succeeds"
    quantity: int = 1
    advance_clock: bool = False


@dataclass(frozen=True)
class LineCheck:
    """One invoice line compared with the calculator."""

    description: str
    quantity: int
    expected: int
    invoiced: int
    currency: str
    breakdown: Breakdown

    @property
    def ok(self) -> bool:
        return self.expected == self.invoiced


class Cancelled(Exception):
    """The admin cancelled the run."""


@dataclass
class WalkthroughResult:
    plan: Plan
    price_id: str
    scenario: Scenario
    steps: list[Step]
    price: dict[str, Any] | None = None
    lines: list[LineCheck] = field(default_factory=list)
    subscription_status: str | None = None
    invoice_status: str | None = None
    payment_note: str | None = None
    quotas: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    error: PortalError | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled and bool(self.lines) and all(line.ok for line in self.lines)

    @property
    def verdict(self) -> str:
        if self.cancelled:
            return "CANCELLED"
        if self.error is not None:
            return "FAILED"
        return "PASS" if self.ok else "MISMATCH"

    def summary_text(self) -> str:
        """A plain-text summary the admin can copy into a ticket or a runbook."""
        card = TEST_CARDS[self.scenario.card][1]
        lines = [
            f"portal-tui test-mode check: {self.verdict}",
            f"Plan: {self.plan.name} ({self.plan.id})",
            f"Price: {self.price_id}" + (f" · {describe_price(self.price)}" if self.price else ""),
            f"Scenario: {card}, quantity {self.scenario.quantity:,}"
            + (", clock advanced one period" if self.scenario.advance_clock else ""),
        ]
        for line in self.lines:
            mark = "✓" if line.ok else "✗"
            lines.append(
                f"{mark} {line.description}: expected {format_money(line.expected, line.currency)}, "
                f"invoiced {format_money(line.invoiced, line.currency)}"
            )
        if self.subscription_status:
            lines.append(f"Subscription: {self.subscription_status}")
        if self.invoice_status:
            lines.append(
                f"Finalized invoice: {self.invoice_status}" + (f" ({self.payment_note})" if self.payment_note else "")
            )
        if self.quotas:
            lines.append("Quotas: " + ", ".join(f"{label} {value}" for label, value in self.quotas))
        if self.error is not None:
            lines.append(f"Error: {self.error.message}")
        if self.removed:
            lines.append("Cleaned up: " + ", ".join(self.removed))
        return "\n".join(lines)


STEP_TITLES = [
    ("price", "Read the plan's test price"),
    ("clock", "Create a test clock"),
    ("customer", "Create a test customer with the card"),
    ("subscribe", "Subscribe the customer to the price"),
    ("usage", "Send usage to the meter"),
    ("preview", "Fetch the invoice preview"),
    ("compare", "Compare with the calculator"),
    ("advance", "Advance the clock past the period end"),
    ("quotas", "Quotas the portal grants"),
    ("cleanup", "Clean up"),
]


class Walkthrough:
    """Runs the scenario against Stripe (test mode only), reporting each step through `on_step`."""

    def __init__(
        self,
        gateway: StripeGateway,
        config: PlanConfig,
        plan: Plan,
        scenario: Scenario,
        *,
        on_step: Callable[[Step], None] = lambda step: None,
        is_cancelled: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
        advance_timeout: float = 60.0,
    ) -> None:
        self.gateway = gateway
        self.config = config
        self.plan = plan
        self.scenario = scenario
        self.on_step = on_step
        self.is_cancelled = is_cancelled
        self.clock = clock
        self.advance_timeout = advance_timeout
        self.steps = [Step(key, title) for key, title in STEP_TITLES]

    def step(self, key: str) -> Step:
        return next(s for s in self.steps if s.key == key)

    def _set(self, key: str, status: StepStatus, detail: str = "") -> None:
        step = self.step(key)
        step.status, step.detail = status, detail
        self.on_step(step)

    def _begin(self, key: str) -> None:
        if self.is_cancelled():
            raise Cancelled()
        self._set(key, StepStatus.RUNNING)

    def run(self) -> WalkthroughResult:
        if self.gateway.livemode:
            raise LiveModeRefusedError(
                "The walkthrough runs in test mode only",
                hint="Connect a test key (sk_test_…): test clocks and test cards do not exist in live mode.",
            )
        price_id = self.plan.test_price_id or ""
        result = WalkthroughResult(self.plan, price_id, self.scenario, self.steps)
        clock_id: str | None = None
        try:
            if not price_id:
                raise WalkthroughError(
                    f"Plan '{self.plan.name}' has no test price linked",
                    hint="Link a test price in Plans & quotas (step 4) first.",
                )
            self._begin("price")
            price = self.gateway.retrieve_price(price_id)
            result.price = price
            if price.get("type") != "recurring":
                raise WalkthroughError(f"{price_id} is a one-time price", hint="Link a recurring price.")
            metered = (price.get("recurring") or {}).get("usage_type") == "metered"
            self._set("price", StepStatus.DONE, describe_price(price))

            self._begin("clock")
            now = int(self.clock())
            clock = self.gateway.create_test_clock(now, name=f"portal-tui check: {self.plan.id}")
            clock_id = clock["id"]
            self._set("clock", StepStatus.DONE, clock_id)

            self._begin("customer")
            payment_method, card_label = TEST_CARDS[self.scenario.card]
            customer = self.gateway.create_customer(
                name=f"portal-tui test ({self.plan.id})",
                email="portal-tui-test@example.com",
                payment_method=payment_method,
                test_clock=clock_id,
            )
            self._set("customer", StepStatus.DONE, f"{customer['id']} · {card_label}")

            self._begin("subscribe")
            subscription = self.gateway.create_subscription(
                customer["id"], price_id, None if metered else self.scenario.quantity
            )
            result.subscription_status = str(subscription.get("status"))
            self._set("subscribe", StepStatus.DONE, f"{subscription['id']} · {result.subscription_status}")

            if metered:
                self._begin("usage")
                self._send_usage(price, customer["id"], now)
                self._set("usage", StepStatus.DONE, f"{self.scenario.quantity:,} units reported")
            else:
                self._set("usage", StepStatus.SKIPPED, "licensed price: the quantity is on the subscription")

            self._begin("preview")
            preview = self.gateway.preview_invoice(customer["id"], subscription["id"])
            self._set(
                "preview",
                StepStatus.DONE,
                f"total {format_money(int(preview.get('total') or 0), price['currency'])}",
            )

            self._begin("compare")
            result.lines = self._compare(preview, price)
            bad = sum(1 for line in result.lines if not line.ok)
            self._set(
                "compare",
                StepStatus.DONE if not bad else StepStatus.FAILED,
                "every line matches" if not bad else f"{bad} line{'s' if bad != 1 else ''} differ",
            )

            if self.scenario.advance_clock:
                self._begin("advance")
                self._advance(clock_id, subscription, result)
            else:
                self._set("advance", StepStatus.SKIPPED, "not requested")

            self._begin("quotas")
            result.quotas = self._quotas()
            self._set("quotas", StepStatus.DONE, ", ".join(f"{k} {v}" for k, v in result.quotas) or "none set")
        except Cancelled:
            result.cancelled = True
            self._mark_running(StepStatus.FAILED, "cancelled")
        except PortalError as error:
            result.error = error
            self._mark_running(StepStatus.FAILED, error.message)
        finally:
            self._cleanup(clock_id, result)
        return result

    def _mark_running(self, status: StepStatus, detail: str) -> None:
        for step in self.steps:
            if step.status is StepStatus.RUNNING:
                self._set(step.key, status, detail)

    def _send_usage(self, price: dict[str, Any], customer_id: str, now: int) -> None:
        meter_id = (price.get("recurring") or {}).get("meter")
        meter = next((m for m in self.gateway.list_meters() if m.get("id") == meter_id), None)
        if meter is None:
            raise WalkthroughError(f"The price's meter {meter_id} was not found", hint="Check the meter in Stripe.")
        event_name = str(meter["event_name"])
        formula = (meter.get("default_aggregation") or {}).get("formula", "sum")
        usage = self.scenario.quantity
        if formula == "count":
            if usage > MAX_COUNT_EVENTS:
                raise WalkthroughError(
                    f"This meter counts events: {usage:,} events is too many for a test",
                    hint=f"Use a usage of at most {MAX_COUNT_EVENTS}.",
                )
            for n in range(usage):
                self.gateway.send_meter_event(
                    event_name, customer_id, 1, timestamp=now, identifier=f"{customer_id}-{n}"
                )
        else:
            self.gateway.send_meter_event(event_name, customer_id, usage, timestamp=now, identifier=f"{customer_id}-0")

    def _compare(self, preview: dict[str, Any], price: dict[str, Any]) -> list[LineCheck]:
        currency = str(price["currency"])
        invoiced = 0
        found = False
        for line in (preview.get("lines") or {}).get("data", []):
            details = (line.get("pricing") or {}).get("price_details") or {}
            line_price = details.get("price") or (line.get("price") or {}).get("id")
            if isinstance(line_price, dict):
                line_price = line_price.get("id")
            if line_price == price["id"]:
                invoiced += int(line.get("amount") or 0)
                found = True
        expected = breakdown(price, self.scenario.quantity)
        checks = [
            LineCheck(
                f"{describe_price(price)} × {self.scenario.quantity:,}",
                self.scenario.quantity,
                expected.total,
                invoiced if found else 0,
                currency,
                expected,
            )
        ]
        subtotal = preview.get("subtotal")
        total = int(subtotal if subtotal is not None else (preview.get("total") or 0))
        checks.append(LineCheck("Invoice subtotal", self.scenario.quantity, expected.total, total, currency, expected))
        return checks

    def _advance(self, clock_id: str, subscription: dict[str, Any], result: WalkthroughResult) -> None:
        items = (subscription.get("items") or {}).get("data") or [{}]
        period_end = items[0].get("current_period_end") or subscription.get("current_period_end")
        if not period_end:
            self._set("advance", StepStatus.SKIPPED, "Stripe did not report the period end")
            return
        target = int(period_end) + 3600
        self.gateway.advance_test_clock(clock_id, target)
        deadline = time.monotonic() + self.advance_timeout
        while True:
            status = self.gateway.retrieve_test_clock(clock_id).get("status")
            if status == "ready":
                break
            if status == "internal_failure" or time.monotonic() > deadline:
                raise WalkthroughError("The test clock did not finish advancing", hint="Try again later.")
            if self.is_cancelled():
                raise Cancelled()
            time.sleep(0.5)
        invoices = self.gateway.list_invoices(customer_id=subscription["customer"], subscription_id=subscription["id"])
        billed = [inv for inv in invoices if int(inv.get("period_end") or 0) <= target]
        latest = max(billed or invoices, key=lambda inv: int(inv.get("created") or 0), default=None)
        if latest is None:
            self._set("advance", StepStatus.DONE, "no invoice was finalized")
            return
        result.invoice_status = str(latest.get("status"))
        error = latest.get("last_finalization_error") or {}
        note = error.get("message") if isinstance(error, dict) else None
        if result.invoice_status == "open" and not note:
            note = "payment failed or needs the customer's action"
        result.payment_note = note
        amount = format_money(int(latest.get("amount_due") or 0), str(latest.get("currency") or "usd"))
        self._set("advance", StepStatus.DONE, f"{latest['id']} {result.invoice_status} · {amount}")

    def _quotas(self) -> list[tuple[str, str]]:
        shown = []
        for key, quota in self.plan.quotas.items():
            resource = self.config.resource(key)
            label = resource.label if resource else key
            unit = f" {resource.unit}" if resource and resource.unit and quota != "unlimited" else ""
            shown.append((label, f"{format_quota(quota)}{unit}"))
        return shown

    def _cleanup(self, clock_id: str | None, result: WalkthroughResult) -> None:
        self._set("cleanup", StepStatus.RUNNING)
        if clock_id is None:
            self._set("cleanup", StepStatus.DONE, "nothing was created")
            return
        try:
            self.gateway.delete_test_clock(clock_id)
        except PortalError as error:
            self._set("cleanup", StepStatus.FAILED, f"could not delete {clock_id}: {error.message}")
            if result.error is None:
                result.error = error
            return
        result.removed = [f"test clock {clock_id} (with its customer and subscription)"]
        self._set("cleanup", StepStatus.DONE, f"deleted {clock_id} with its customer and subscription")
