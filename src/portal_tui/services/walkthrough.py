"""The test-mode walkthrough: prove on Stripe that a plan bills what the calculator says, then clean up.

One run: test clock → customer with a test card → subscription → usage (metered) → invoice preview compared line by
line with `amount_for` → optionally advance the clock and read the finalized invoice → the plan's quotas. The test
clock is always deleted at the end (that removes its customer and subscription), also on failure or cancel.

A price offered in several currencies (`currency_options`) is verified in one of them: the subscription is created
in it (Stripe bills a customer in the currency of their first invoice) and every amount is compared and shown in it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.domain.money import format_money
from portal_tui.domain.plans import Plan, PlanConfig, VerifyRecord, format_quota
from portal_tui.domain.price_terms import price_terms, terms_fingerprint
from portal_tui.domain.pricing import Breakdown, breakdown, describe_price, price_currencies
from portal_tui.services.errors import LiveModeRefusedError, NotFoundError, PortalError

if TYPE_CHECKING:
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.gateway import StripeGateway

Card = Literal["succeeds", "declined", "3ds"]
TEST_CARDS: dict[Card, tuple[str, str]] = {
    "succeeds": ("pm_card_visa", "Visa 4242 · succeeds"),
    # Not 4000…0002 (pm_card_chargeDeclined): Stripe declines that one as soon as it is attached to the customer.
    "declined": ("pm_card_chargeCustomerFail", "Visa 0341 · declined"),
    "3ds": ("pm_card_authenticationRequired", "Visa 3155 · needs 3-D Secure"),
}
MAX_COUNT_EVENTS = 500
# How long to wait for metered usage to show in the invoice preview: Stripe aggregates meter events
# asynchronously, often taking tens of seconds; the local sandbox is quick unless told to lag.
STRIPE_USAGE_WAIT = 60.0
SANDBOX_USAGE_WAIT = 10.0
# Only these subscription statuses give the customer the plan: the portal grants quotas for nothing else.
QUOTA_STATUSES = frozenset({"active", "trialing"})
# The verdict words. A run's verdict covers all of it in one line: billing, the card, the quotas ("✓" after a part:
# as this scenario expects). Only PASS counts as a pass in the plan's Verify record; the three ✗ words are fails;
# the rest prove nothing about the price and are not recorded.
VERDICT_MEANINGS: dict[str, str] = {
    "PASS": "Stripe invoices what the calculator expects, the card did what this scenario's card should, and the "
    "portal grants quotas exactly when the subscription is paid up (withheld after a decline)",
    "MISMATCH": "Stripe's invoice differs from what the calculator expects",
    "UNEXPECTED PAYMENT": "the card did not do what this scenario's card should (a succeeding card declined, ...)",
    "UNEXPECTED QUOTAS": "quotas do not follow the payment: withheld from a paid-up subscription, or granted to one "
    "whose card failed",
    "INCONCLUSIVE": "the usage had not arrived (Stripe had not aggregated it yet): run again",
    "CANCELLED": "the run was cancelled",
    "FAILED": "an error stopped the run",
}
FAILING_VERDICTS = frozenset({"MISMATCH", "UNEXPECTED PAYMENT", "UNEXPECTED QUOTAS"})
PAYMENT_WORDS: dict[str, str] = {
    "paid": "card paid",
    "no_charge": "nothing charged",
    "declined": "card declined",
    "requires_action": "card needs 3-D Secure",
    "void": "invoice voided",
    "pending": "payment pending",
    "unknown": "payment unknown",
}


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
    currency: str | None = None  # one of the price's currencies ("eur"); None: the price's own


@dataclass(frozen=True)
class LineCheck:
    """One invoice line compared with the calculator."""

    description: str
    quantity: int
    expected: int
    invoiced: int
    currency: str
    breakdown: Breakdown
    pending: bool = False  # metered usage Stripe had not aggregated yet: neither ✓ nor ✗
    invoiced_currency: str | None = None  # the invoice's own, when it is not `currency`: then the line is wrong

    @property
    def ok(self) -> bool:
        return self.invoiced_currency is None and (self.pending or self.expected == self.invoiced)

    def invoiced_text(self) -> str:
        return format_money(self.invoiced, self.invoiced_currency or self.currency)


class Cancelled(Exception):
    """The admin cancelled the run."""


Tone = Literal["plain", "warn", "bad", "dim"]  # how a result line reads: the screen picks a style per tone
PaymentKind = Literal["paid", "no_charge", "declined", "requires_action", "void", "pending", "unknown"]
# What each test card should do to a charge; no charge at all ($0 first invoice of a metered plan) fits every card.
EXPECTED_PAYMENT: dict[Card, frozenset[str]] = {
    "succeeds": frozenset({"paid", "no_charge"}),
    "declined": frozenset({"declined", "no_charge"}),
    "3ds": frozenset({"requires_action", "no_charge"}),
}


@dataclass(frozen=True)
class PaymentOutcome:
    """What happened when Stripe tried to charge an invoice, in words: "declined: Your card was declined (…)"."""

    kind: PaymentKind
    text: str

    def expected_for(self, card: Card) -> bool | None:
        """Whether the scenario's card should do this; None when it cannot be told (nothing charged yet)."""
        if self.kind in ("pending", "unknown", "void"):
            return None
        return self.kind in EXPECTED_PAYMENT[card]


@dataclass
class WalkthroughResult:
    plan: Plan
    price_id: str
    scenario: Scenario
    steps: list[Step]
    price: dict[str, Any] | None = None
    lines: list[LineCheck] = field(default_factory=list)
    subscription_status: str | None = None
    first_invoice: str | None = None
    first_payment: PaymentOutcome | None = None
    invoice_status: str | None = None
    payment_note: str | None = None
    renewal_payment: PaymentOutcome | None = None
    usage_pending: str | None = None
    quotas: list[tuple[str, str]] = field(default_factory=list)
    quotas_withheld: str | None = None  # the final subscription status when it grants no quotas
    quotas_checked: bool = False  # the run got as far as the quotas step
    usage_unit: str | None = None  # the meter's name, for a metered price: "usage 25,000 API calls"
    removed: list[str] = field(default_factory=list)
    left_behind: str | None = None
    error: PortalError | None = None
    cancelled: bool = False
    # terms_fingerprint of the price as the run read it (meter by event name): what a VerifyRecord vouches for.
    terms: str | None = None
    currency: str | None = None  # the currency the run bills in, once the price is read
    currencies: list[str] = field(default_factory=list)  # every currency the price is offered in, its own first

    @property
    def other_currency(self) -> str | None:
        """The run's currency when it is not the price's own (what the plan's Verify record notes), else None."""
        if self.currency is None or not self.currencies or self.currency == self.currencies[0]:
            return None
        return self.currency

    @property
    def final_status(self) -> str | None:
        """The subscription's status at the end of the run ("incomplete → incomplete_expired" ends expired)."""
        return self.subscription_status.split(" → ")[-1] if self.subscription_status else None

    @property
    def metered(self) -> bool:
        return ((self.price or {}).get("recurring") or {}).get("usage_type") == "metered"

    def scenario_text(self) -> str:
        """ "Visa 4242 · succeeds, quantity 8" or, for a metered price, "…, usage 25,000 API calls"."""
        card = TEST_CARDS[self.scenario.card][1]
        amount = (
            f"usage {self.scenario.quantity:,} {self.usage_unit or 'units'}"
            if self.metered
            else f"quantity {self.scenario.quantity:,}"
        )
        # Only a price with a choice of currencies names the one chosen: single-currency summaries read as before.
        billed = f", billed in {self.currency.upper()}" if self.currency and len(self.currencies) > 1 else ""
        return f"{card}, {amount}{billed}" + (", clock advanced one period" if self.scenario.advance_clock else "")

    def cleanup_text(self) -> str:
        """What the clean-up did, as a sentence fragment for a notification."""
        if self.left_behind:
            return f"left behind: {self.left_behind}"
        if self.removed:
            return "deleted " + ", ".join(self.removed)
        return "nothing was created, nothing left behind"

    @property
    def payments(self) -> list[PaymentOutcome]:
        return [p for p in (self.first_payment, self.renewal_payment) if p is not None]

    @property
    def unexpected_payment(self) -> PaymentOutcome | None:
        """The first charge the scenario's card should not have produced (a succeeding card declined, ...)."""
        return next((p for p in self.payments if p.expected_for(self.scenario.card) is False), None)

    @property
    def payment_failed(self) -> bool:
        """A charge was declined or needs authentication: the subscription is not paid up."""
        return any(p.kind in ("declined", "requires_action") for p in self.payments)

    @property
    def quotas_granted(self) -> bool | None:
        """Whether the portal grants the plan's quotas at the end of the run (None: the run never got that far)."""
        if self.quotas_withheld is not None:
            return False
        return True if self.quotas_checked else None

    @property
    def quotas_as_expected(self) -> bool | None:
        """Quotas follow the payment: granted unless a charge failed, withheld after one (None: not checked)."""
        granted = self.quotas_granted
        return None if granted is None else granted != self.payment_failed

    @property
    def ok(self) -> bool:
        return self.verdict == "PASS"

    @property
    def verdict(self) -> str:
        if self.cancelled:
            return "CANCELLED"
        if self.error is not None:
            return "FAILED"
        if not self.lines or any(not line.ok for line in self.lines):
            return "MISMATCH"
        if self.unexpected_payment is not None:
            return "UNEXPECTED PAYMENT"
        if self.quotas_as_expected is False:
            return "UNEXPECTED QUOTAS"
        if self.usage_pending:
            return "INCONCLUSIVE"
        return "PASS"

    @property
    def recorded_verdict(self) -> bool | None:
        """What goes into the plan's Verify record: True (pass), False (fail), or None (nothing is recorded).

        Only a run that finished with a verdict about the whole run is recorded: PASS is a pass; MISMATCH,
        UNEXPECTED PAYMENT and UNEXPECTED QUOTAS are fails. CANCELLED, INCONCLUSIVE (the usage never arrived) and
        FAILED (an error stopped the run or its clean-up) prove nothing about the price, so the plan keeps its
        previous record.
        """
        if self.price is None or self.terms is None:
            return None
        if self.verdict == "PASS":
            return True
        return False if self.verdict in FAILING_VERDICTS else None

    def checks(self) -> list[str]:
        """The run's three parts, each marked ✓ (as this scenario expects) or ✗: "invoiced $20.00 ✓", "card declined
        ✓", "quotas withheld ✓". A part the run did not reach is left out."""
        parts: list[str] = []
        if self.lines:
            # The price's own line first; the subtotal and the first invoice repeat its amount when all is well.
            wrong = next((line for line in self.lines if not line.ok), None)
            line = wrong or self.lines[0]
            invoiced = line.invoiced_text()
            if wrong is not None:
                parts.append(f"invoiced {invoiced} ✗ (expected {format_money(line.expected, line.currency)})")
            elif self.usage_pending:
                parts.append("invoice … (usage not aggregated yet)")
            else:
                parts.append(f"invoiced {invoiced} ✓")
        elif self.price is not None and self.error is None and not self.cancelled:
            parts.append("invoice ✗ (no line for the price)")
        outcome = self.shown_payment()
        if outcome is not None:
            as_expected = outcome.expected_for(self.scenario.card)
            mark = "" if as_expected is None else (" ✓" if as_expected else " ✗")
            parts.append(PAYMENT_WORDS[outcome.kind] + mark)
        granted = self.quotas_granted
        if granted is not None:
            mark = " ✓" if self.quotas_as_expected else " ✗"
            parts.append(("quotas granted" if granted else "quotas withheld") + mark)
        return parts

    def headline(self) -> str:
        """The verdict of the whole run in one line: "PASS — invoiced $20.00 ✓ · card declined ✓ · quotas withheld ✓".
        The screen shows it, the copied summary starts with it, and the plan's Verify record keeps it."""
        if self.cancelled:
            return "CANCELLED — stopped before a verdict; nothing is recorded"
        if self.error is not None:
            return f"FAILED: {self.error.message}"
        parts = self.checks()
        return f"{self.verdict} — {' · '.join(parts)}" if parts else self.verdict

    def verdict_line(self) -> str:
        """The record's one line: the headline, then the scenario and the price.
        "PASS — invoiced $22.00 ✓ · card paid ✓ · quotas granted ✓; Visa 4242 · succeeds, quantity 8; $5.00 / seat"."""
        line = f"{self.headline()}; {self.scenario_text()}"
        return f"{line}; {describe_price(self.price)}" if self.price else line

    def verify_record(self, at: datetime | None = None) -> VerifyRecord | None:
        """The plan's new Verify record (None when this run is not recorded, see `recorded_verdict`)."""
        passed = self.recorded_verdict
        if passed is None or self.terms is None:
            return None
        when = at if at is not None else datetime.now(UTC)
        return VerifyRecord(
            when.replace(microsecond=0),
            passed,
            self.price_id,
            self.terms,
            self.verdict_line(),
            currency=self.other_currency,
        )

    def shown_payment(self) -> PaymentOutcome | None:
        """The charge that tells the card's story: the unexpected one, else the last real charge, else the last."""
        if self.unexpected_payment is not None:
            return self.unexpected_payment
        shown = [p for p in self.payments if p.kind not in ("no_charge", "pending")] or self.payments
        return shown[-1] if shown else None

    def payment_line(self) -> str | None:
        """The card's outcome as this scenario expects it or not, for the summary and the screen."""
        outcome = self.shown_payment()
        if outcome is None:
            return None
        expected = outcome.expected_for(self.scenario.card)
        card = TEST_CARDS[self.scenario.card][1]
        if expected is None:
            return f"Card: {outcome.text}"
        verdict = "as expected for" if expected else "NOT expected for"
        return f"Card: {outcome.text} ({verdict} {card})"

    def outcome_lines(self) -> list[tuple[str, Tone]]:
        """What happened besides the line checks, one line each with its tone: the screen styles these lines and
        the copied summary lists the same ones, so the two never tell it differently."""
        shown: list[tuple[str, Tone]] = []
        if self.usage_pending:
            shown.append((f"Usage: {self.usage_pending}", "warn"))
        if self.subscription_status:
            shown.append((f"Subscription: {self.subscription_status}", "plain"))
        if self.first_invoice:
            shown.append((f"First invoice: {self.first_invoice}", "plain"))
        if self.invoice_status:
            note = f" ({self.payment_note})" if self.payment_note else ""
            shown.append((f"Finalized invoice: {self.invoice_status}{note}", "plain"))
        payment = self.payment_line()
        if payment:
            shown.append((payment, "bad" if self.unexpected_payment is not None else "plain"))
        if self.quotas_withheld:
            if self.quotas_as_expected:
                text = f"No quotas: the subscription is {self.quotas_withheld}, so none are granted (as expected: "
                shown.append((text + "the card did not pay)", "plain"))
            else:
                shown.append(
                    (f"✗ No quotas: the subscription is {self.quotas_withheld} although nothing failed to pay", "bad")
                )
        elif self.quotas_granted and self.payment_failed:
            shown.append(
                (f"✗ Quotas granted although the card did not pay: the subscription is {self.final_status}", "bad")
            )
        elif self.quotas:
            shown.append(("Quotas the portal grants: " + ", ".join(f"{k} {v}" for k, v in self.quotas), "plain"))
        if self.removed:
            shown.append(("Cleaned up: deleted " + ", ".join(self.removed), "dim"))
        if self.left_behind:
            shown.append((f"Left behind: {self.left_behind} (Stripe deletes test clocks after 30 days)", "bad"))
        return shown

    def summary_text(self) -> str:
        """A plain-text summary the admin can copy into a ticket or a runbook."""
        lines = [
            f"portal-tui test-mode check: {self.headline()}",
            f"Plan: {self.plan.name} ({self.plan.id})",
            f"Price: {self.price_id}" + (f" · {describe_price(self.price)}" if self.price else ""),
            f"Scenario: {self.scenario_text()}",
        ]
        for line in self.lines:
            mark = "…" if line.pending else ("✓" if line.ok else "✗")
            lines.append(
                f"{mark} {line.description}: expected {format_money(line.expected, line.currency)}, "
                f"invoiced {line.invoiced_text()}"
            )
        if self.error is not None:
            lines.append(f"Error: {self.error.message}")
        lines.extend(text for text, _tone in self.outcome_lines())
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
        usage_wait: float | None = None,  # None: STRIPE_USAGE_WAIT on Stripe, SANDBOX_USAGE_WAIT elsewhere
        poll_interval: float = 0.5,
        delete_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.gateway = gateway
        self.config = config
        self.plan = plan
        self.scenario = scenario
        self.on_step = on_step
        self.is_cancelled = is_cancelled
        self.clock = clock
        self.advance_timeout = advance_timeout
        if usage_wait is None:
            usage_wait = STRIPE_USAGE_WAIT if gateway.is_stripe else SANDBOX_USAGE_WAIT
        self.usage_wait = usage_wait
        self.poll_interval = poll_interval
        self.delete_attempts = max(1, delete_attempts)
        self.sleep = sleep
        self.steps = [Step(key, title) for key, title in STEP_TITLES]
        # (frozen_time, unique name, idempotency key) of the clock create, to find the clock if its answer is lost
        self._clock_request: tuple[int, str, str] | None = None
        self._meter: dict[str, Any] | None = None  # the metered price's meter, read in the price step

    def step(self, key: str) -> Step:
        return next(s for s in self.steps if s.key == key)

    def _set(self, key: str, status: StepStatus, detail: str = "") -> None:
        step = self.step(key)
        step.status, step.detail = status, detail
        # The screen may be gone (the app is quitting): the run, and above all its clean-up, goes on.
        with contextlib.suppress(Exception):
            self.on_step(step)

    def _begin(self, key: str) -> None:
        if self.is_cancelled():
            raise Cancelled()
        self._set(key, StepStatus.RUNNING)

    def _wait(self, seconds: float) -> None:
        if self.is_cancelled():
            raise Cancelled()
        self.sleep(seconds)

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
            price = self._usable_price(price_id)
            currency = self._currency_of_run(price)
            result.price, result.currency, result.currencies = price, currency, price_currencies(price)
            metered = (price.get("recurring") or {}).get("usage_type") == "metered"
            # A metered price's meter is read up front: its event name is part of the terms the record vouches for
            # (the meter ID differs between modes), and a missing meter stops the run before anything is created.
            self._meter = self._price_meter(price) if metered else None
            event_name = str(self._meter["event_name"]) if self._meter is not None else None
            result.terms = terms_fingerprint(price_terms(price, event_name))
            self._expected(price, currency)  # a price the calculator cannot bill in this currency stops the run here
            billed = f" · billed in {currency.upper()}" if len(result.currencies) > 1 else ""
            self._set("price", StepStatus.DONE, describe_price(price) + billed)

            self._begin("clock")
            now = int(self.clock())
            token = uuid.uuid4().hex[:12]
            # A unique name and an explicit idempotency key: if the answer is lost, clean-up can still find it.
            self._clock_request = (now, f"portal-tui check {self.plan.id} {token}", f"portal-tui-clock-{token}")
            clock = self.gateway.create_test_clock(
                now, name=self._clock_request[1], idempotency_key=self._clock_request[2]
            )
            clock_id = str(clock["id"])
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
                customer["id"], price_id, None if metered else self.scenario.quantity, currency=currency
            )
            result.subscription_status = str(subscription.get("status"))
            self._set("subscribe", StepStatus.DONE, self._first_invoice(subscription, result))

            if metered:
                self._begin("usage")
                # One second after the period starts (at `now`): inside the period, not on its boundary.
                result.usage_unit = self._send_usage(price, customer["id"], now + 1)
                self._set("usage", StepStatus.DONE, f"{self.scenario.quantity:,} {result.usage_unit} reported")
            else:
                self._set("usage", StepStatus.SKIPPED, "licensed price: the quantity is on the subscription")

            self._begin("preview")
            preview = self._preview(customer["id"], subscription["id"], price, metered, result)
            self._set(
                "preview",
                StepStatus.DONE,
                f"total {format_money(int(preview.get('total') or 0), str(preview.get('currency') or currency))}"
                + (f" · {result.usage_pending}" if result.usage_pending else ""),
            )

            self._begin("compare")
            result.lines = self._compare(preview, price, currency, pending=result.usage_pending is not None)
            first = subscription.get("latest_invoice")
            if not metered and isinstance(first, dict):
                # A licensed price is charged in advance: the first invoice is the one the card actually pays.
                result.lines.append(self._first_invoice_check(first, price, currency))
            bad = sum(1 for line in result.lines if not line.ok)
            if bad:
                self._set("compare", StepStatus.FAILED, f"{bad} line{'s' if bad != 1 else ''} differ")
            elif result.usage_pending:
                self._set("compare", StepStatus.SKIPPED, "usage not aggregated yet: nothing to compare")
            else:
                self._set("compare", StepStatus.DONE, "every line matches")

            if self.scenario.advance_clock:
                self._begin("advance")
                self._advance(clock_id, subscription, result)
            else:
                self._set("advance", StepStatus.SKIPPED, "not requested")

            self._begin("quotas")
            result.quotas = self._quotas()
            result.quotas_checked = True
            status = result.final_status
            if status not in QUOTA_STATUSES:
                # A subscription that is not paid up (incomplete, past_due, ...) gives the customer nothing.
                result.quotas_withheld = str(status)
            # Right when they follow the payment: granted to a paid-up subscription, withheld after a decline.
            right = StepStatus.DONE if result.quotas_as_expected else StepStatus.FAILED
            granted = ", ".join(f"{k} {v}" for k, v in result.quotas) or "none set"
            self._set("quotas", right, f"none: the subscription is {status}" if result.quotas_withheld else granted)
        except Cancelled:
            result.cancelled = True
            self._mark_running(StepStatus.FAILED, "cancelled")
        except PortalError as error:
            result.error = error
            self._mark_running(StepStatus.FAILED, error.message)
        except Exception as exc:  # a bug must not leave a test clock behind
            result.error = WalkthroughError(
                f"Unexpected error: {type(exc).__name__}: {exc}",
                hint="Everything the run created is deleted; please report this error.",
            )
            self._mark_running(StepStatus.FAILED, result.error.message)
        finally:
            self._cleanup(clock_id, result)
        return result

    def _usable_price(self, price_id: str) -> dict[str, Any]:
        """The plan's test price, refused before anything is created unless Stripe can subscribe to it."""
        fix = "in Plans (4)"
        if not price_id.startswith("price_"):
            raise WalkthroughError(f"'{price_id}' is not a price ID (price_…): link the plan's test price {fix}")
        try:
            price = self.gateway.retrieve_price(price_id)  # currency_options expanded, tiers in each currency too
        except NotFoundError:
            raise WalkthroughError(
                f"{price_id} does not exist in this test account: link one of its test prices {fix}",
                hint="A price created with a live key, or in another account, cannot be used here.",
            ) from None
        if price.get("livemode"):
            raise WalkthroughError(f"{price_id} is a live-mode price: link the plan's test price {fix}")
        if not price.get("active", True):
            raise WalkthroughError(f"{price_id} is archived: link the price that replaced it {fix}")
        product = price.get("product")
        if isinstance(product, dict) and not product.get("active", True):
            raise WalkthroughError(
                f"{price_id} belongs to the archived product {product.get('name') or product.get('id')}: "
                f"link a price of an active product {fix}"
            )
        if price.get("type") != "recurring" or not price.get("recurring"):
            raise WalkthroughError(f"{price_id} is a one-time price: link a recurring (monthly or yearly) price {fix}")
        return price

    def _currency_of_run(self, price: dict[str, Any]) -> str:
        """The scenario's currency, refused before anything is created unless the price is offered in it."""
        offered = price_currencies(price)
        wanted = (self.scenario.currency or offered[0]).lower()
        if wanted not in offered:
            names = ", ".join(code.upper() for code in offered)
            only = f"only in {names}" if len(offered) == 1 else f"in {names}"
            raise WalkthroughError(
                f"{price['id']} is not offered in {wanted.upper()}: it bills {only}",
                hint="Choose one of the price's currencies, or add the currency to the price.",
            )
        return wanted

    def _expected(self, price: dict[str, Any], currency: str) -> Breakdown:
        """What the calculator says the scenario bills, in the run's currency."""
        try:
            return breakdown(price, self.scenario.quantity, currency=currency)
        except ValueError as error:
            raise WalkthroughError(
                f"The calculator cannot bill {price['id']} in {currency.upper()}: {error}",
                hint="Check the price's amounts for that currency in Stripe.",
            ) from None

    def _mark_running(self, status: StepStatus, detail: str) -> None:
        for step in self.steps:
            if step.status is StepStatus.RUNNING:
                self._set(step.key, status, detail)

    # ---- payments --------------------------------------------------------------------------------------------

    def _first_invoice(self, subscription: dict[str, Any], result: WalkthroughResult) -> str:
        """The subscribe step's detail: the subscription and what happened to its first invoice's charge."""
        detail = f"{subscription['id']} · {result.subscription_status}"
        invoice = subscription.get("latest_invoice")
        if not isinstance(invoice, dict):
            return detail
        result.first_payment = self._payment(invoice)
        result.first_invoice = f"{invoice.get('id')} {invoice.get('status')} · {result.first_payment.text}"
        return f"{detail} · first invoice {result.first_invoice}"

    def _payment(self, invoice: dict[str, Any]) -> PaymentOutcome:
        """What Stripe's charge of a finalized invoice did, read from its InvoicePayment's PaymentIntent."""
        status = invoice.get("status")
        amount = format_money(int(invoice.get("amount_due") or 0), str(invoice.get("currency") or "usd"))
        if status == "draft":
            return PaymentOutcome("pending", "not finalized yet")
        if status == "void":
            return PaymentOutcome("void", "voided")
        if status == "paid":
            if int(invoice.get("amount_due") or 0) == 0:
                return PaymentOutcome("no_charge", f"{amount}: nothing to charge")
            if int(invoice.get("amount_paid") or 0) == 0:
                # Stripe does not charge below the currency's minimum: the card is never tried, whatever it is.
                return PaymentOutcome(
                    "no_charge", f"{amount}: no charge (below Stripe's minimum; added to the customer's balance)"
                )
            return PaymentOutcome("paid", f"{amount} paid")
        try:
            payments = self.gateway.list_invoice_payments(str(invoice["id"]))
        except PortalError as error:
            return PaymentOutcome("unknown", f"{status}: payment details unavailable ({error.message})")
        default = next((p for p in payments if p.get("is_default")), payments[0] if payments else None)
        intent = ((default or {}).get("payment") or {}).get("payment_intent")
        if not isinstance(intent, dict):
            return PaymentOutcome("unknown", f"{status}: {amount} not paid")
        last_error = intent.get("last_payment_error") or {}
        code = last_error.get("code") or last_error.get("decline_code")
        if intent.get("status") == "requires_action" or code == "authentication_required":
            return PaymentOutcome("requires_action", "requires 3-D Secure authentication")
        if intent.get("status") == "succeeded":
            return PaymentOutcome("paid", f"{amount} paid")
        if last_error:
            message = str(last_error.get("message") or "The card was declined.").rstrip(".")
            return PaymentOutcome("declined", f"declined: {message} ({code})" if code else f"declined: {message}")
        return PaymentOutcome("unknown", f"{status}: {amount} not paid ({intent.get('status')})")

    # ---- usage and the preview ---------------------------------------------------------------------------------

    def _price_meter(self, price: dict[str, Any]) -> dict[str, Any]:
        """The meter a metered price bills; refused before anything is created when it cannot be found."""
        meter_id = (price.get("recurring") or {}).get("meter")
        meter = next((m for m in self.gateway.list_meters() if m.get("id") == meter_id), None)
        if meter is None:
            raise WalkthroughError(f"The price's meter {meter_id} was not found", hint="Check the meter in Stripe.")
        return meter

    def _send_usage(self, price: dict[str, Any], customer_id: str, now: int) -> str:
        """Report the scenario's usage; the meter's name, to say what the usage counts."""
        meter = self._meter if self._meter is not None else self._price_meter(price)
        event_name = str(meter["event_name"])
        formula = (meter.get("default_aggregation") or {}).get("formula", "sum")
        keys = {
            "customer_key": str((meter.get("customer_mapping") or {}).get("event_payload_key") or "stripe_customer_id"),
            "value_key": str((meter.get("value_settings") or {}).get("event_payload_key") or "value"),
        }
        usage = self.scenario.quantity
        if formula == "count":
            if usage > MAX_COUNT_EVENTS:
                raise WalkthroughError(
                    f"This meter counts events: {usage:,} events is too many for a test",
                    hint=f"Use a usage of at most {MAX_COUNT_EVENTS}.",
                )
            for n in range(usage):
                self.gateway.send_meter_event(
                    event_name, customer_id, 1, timestamp=now, identifier=f"{customer_id}-{n}", **keys
                )
        else:
            self.gateway.send_meter_event(
                event_name, customer_id, usage, timestamp=now, identifier=f"{customer_id}-0", **keys
            )
        return str(meter.get("display_name") or event_name)

    def _preview(
        self, customer_id: str, subscription_id: str, price: dict[str, Any], metered: bool, result: WalkthroughResult
    ) -> dict[str, Any]:
        """The invoice preview; for metered prices, polled (bounded) until Stripe has aggregated the usage."""
        started = time.monotonic()
        deadline = started + self.usage_wait
        while True:
            preview = self.gateway.preview_invoice(customer_id, subscription_id)
            if not metered or self.scenario.quantity == 0:
                return preview
            quantity = sum(int(line.get("quantity") or 0) for line in self._price_lines(preview, price))
            if quantity >= self.scenario.quantity:
                return preview
            if time.monotonic() >= deadline:
                if quantity == 0:
                    result.usage_pending = (
                        f"usage did not arrive: Stripe had not aggregated the {self.scenario.quantity:,} units after "
                        f"{self.usage_wait:g} s (meter events are processed asynchronously): run the test again, "
                        "and if it never arrives, look at the meter's error reports in the Dashboard"
                    )
                return preview
            waited = time.monotonic() - started
            self._set(
                "preview",
                StepStatus.RUNNING,
                f"waiting for Stripe to aggregate usage… {waited:.0f} s (up to {self.usage_wait:g} s)",
            )
            self._wait(self.poll_interval)

    @staticmethod
    def _price_lines(preview: dict[str, Any], price: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for line in (preview.get("lines") or {}).get("data", []):
            # `line.price` was removed in 2025-03-31.basil: the price is only under pricing.price_details.
            details = (line.get("pricing") or {}).get("price_details") or {}
            line_price = details.get("price")
            if isinstance(line_price, dict):
                line_price = line_price.get("id")
            if line_price == price["id"]:
                found.append(line)
        return found

    def _compare(
        self, preview: dict[str, Any], price: dict[str, Any], currency: str, *, pending: bool = False
    ) -> list[LineCheck]:
        lines = self._price_lines(preview, price)
        invoiced = sum(int(line.get("amount") or 0) for line in lines)
        subtotal = preview.get("subtotal")
        total = int(subtotal if subtotal is not None else (preview.get("total") or 0))
        expected = self._expected(price, currency)
        described = f"{describe_price(price)} × {self.scenario.quantity:,}"
        return [
            self._check(described, invoiced, preview, expected, pending),
            self._check("Invoice subtotal", total, preview, expected, pending),
        ]

    def _first_invoice_check(self, invoice: dict[str, Any], price: dict[str, Any], currency: str) -> LineCheck:
        invoiced = sum(int(line.get("amount") or 0) for line in self._price_lines(invoice, price))
        description = f"First invoice {invoice.get('id')} (charged at sign-up)"
        return self._check(description, invoiced, invoice, self._expected(price, currency))

    def _check(
        self, description: str, invoiced: int, invoice: dict[str, Any], expected: Breakdown, pending: bool = False
    ) -> LineCheck:
        """One amount of an invoice against the calculator's, in the run's currency: an invoice in another
        currency is wrong whatever its number says."""
        billed_in = str(invoice.get("currency") or expected.currency).lower()
        return LineCheck(
            description,
            self.scenario.quantity,
            expected.total,
            invoiced,
            expected.currency,
            expected,
            pending,
            invoiced_currency=None if billed_in == expected.currency.lower() else billed_in,
        )

    # ---- advancing the clock ---------------------------------------------------------------------------------

    def _advance(self, clock_id: str, subscription: dict[str, Any], result: WalkthroughResult) -> None:
        items = (subscription.get("items") or {}).get("data") or [{}]
        period_end = items[0].get("current_period_end") or subscription.get("current_period_end")
        if not period_end:
            self._set("advance", StepStatus.SKIPPED, "Stripe did not report the period end")
            return
        # Stripe finalizes a renewal invoice about an hour after the period ends: go well past that hour.
        target = int(period_end) + 2 * 3600
        self.gateway.advance_test_clock(clock_id, target)
        deadline = time.monotonic() + self.advance_timeout
        self._until_ready(clock_id, deadline)
        sub_id = str(subscription["id"])
        latest = self._renewal_invoice(subscription, target)
        while latest is not None and latest.get("status") == "draft" and time.monotonic() < deadline:
            self._wait(self.poll_interval)
            latest = self._renewal_invoice(subscription, target)
        status = str(self.gateway.retrieve_subscription(sub_id).get("status") or result.subscription_status)
        if status != result.subscription_status:
            result.subscription_status = f"{result.subscription_status} → {status}"
        if status == "incomplete_expired":
            result.invoice_status = "void"
            result.payment_note = (
                "Stripe never renews an incomplete subscription: it expired and the first invoice was voided"
            )
            self._set("advance", StepStatus.DONE, f"subscription {status}: no renewal invoice")
            return
        if latest is None:
            self._set("advance", StepStatus.DONE, "no renewal invoice was created")
            return
        result.invoice_status = str(latest.get("status"))
        result.renewal_payment = self._payment(latest)
        result.payment_note = result.renewal_payment.text
        amount = format_money(int(latest.get("amount_due") or 0), str(latest.get("currency") or "usd"))
        self._set(
            "advance", StepStatus.DONE, f"{latest['id']} {result.invoice_status} · {amount} · {result.payment_note}"
        )

    def _until_ready(self, clock_id: str, deadline: float) -> None:
        """Stripe advances a clock asynchronously (status `advancing`); wait, bounded, for `ready`."""
        while True:
            status = self.gateway.retrieve_test_clock(clock_id).get("status")
            if status == "ready":
                return
            if status == "internal_failure" or time.monotonic() > deadline:
                raise WalkthroughError(
                    f"The test clock did not finish advancing (status {status})", hint="Try again later."
                )
            self._wait(self.poll_interval)

    def _renewal_invoice(self, subscription: dict[str, Any], target: int) -> dict[str, Any] | None:
        invoices = self.gateway.list_invoices(customer_id=subscription["customer"], subscription_id=subscription["id"])
        renewals = [
            inv
            for inv in invoices
            if inv.get("billing_reason") != "subscription_create" and int(inv.get("period_end") or 0) <= target
        ]
        return max(renewals, key=lambda inv: int(inv.get("created") or 0), default=None)

    def _quotas(self) -> list[tuple[str, str]]:
        shown = []
        for key, quota in self.plan.quotas.items():
            resource = self.config.resource(key)
            label = resource.label if resource else key
            shown.append((label, format_quota(quota, resource.unit if resource else "")))
        return shown

    # ---- clean-up --------------------------------------------------------------------------------------------

    def _cleanup(self, clock_id: str | None, result: WalkthroughResult) -> None:
        """Delete the clock first and report afterwards: reporting may fail (app quitting), deleting must not."""
        lost_note = ""
        if clock_id is None and self._clock_request is not None:
            clock_id, lost_note = self._find_lost_clock()
        if clock_id is None:
            if lost_note:
                result.left_behind = lost_note
                self._set("cleanup", StepStatus.FAILED, lost_note)
            else:
                self._set("cleanup", StepStatus.DONE, "nothing was created")
            return
        failure = self._delete_clock(clock_id)
        if failure is None:
            result.removed = [f"test clock {clock_id} with its customer and subscription"]
            found = " (found after its create answer was lost)" if lost_note else ""
            self._set("cleanup", StepStatus.DONE, f"deleted {clock_id}{found} with its customer and subscription")
            return
        note = (
            f"could not delete test clock {clock_id} ({failure.message}); delete it under Billing → Test clocks, "
            "or leave it: Stripe deletes test clocks automatically 30 days after they are created"
        )
        result.left_behind = f"test clock {clock_id}"
        if result.error is None:
            result.error = WalkthroughError(note[0].upper() + note[1:], hint=failure.hint)
        self._set("cleanup", StepStatus.FAILED, note)

    def _delete_clock(self, clock_id: str) -> PortalError | None:
        """Delete with a few retries; a clock already gone counts as deleted. The last error, if it never worked."""
        failure: PortalError | None = None
        for attempt in range(self.delete_attempts):
            try:
                self.gateway.delete_test_clock(clock_id)
                return None
            except NotFoundError:
                return None
            except PortalError as error:
                failure = error
            except Exception as exc:  # keep trying: the clock must not be left behind
                failure = WalkthroughError(f"{type(exc).__name__}: {exc}")
            if attempt + 1 < self.delete_attempts:
                self.sleep(self.poll_interval * (attempt + 1))
        return failure

    def _find_lost_clock(self) -> tuple[str | None, str]:
        """The clock whose create answer never arrived: by its unique name, else by replaying the idempotent POST."""
        assert self._clock_request is not None
        now, name, key = self._clock_request
        try:
            clocks = self.gateway.list_test_clocks()
        except PortalError:
            clocks = None
        if clocks is not None:
            found = next((c for c in clocks if c.get("name") == name), None)
            return (str(found["id"]), "found by name") if found else (None, "")
        try:
            # Same key and parameters: Stripe replays the stored answer (or creates it now, and it is deleted next).
            return str(self.gateway.create_test_clock(now, name=name, idempotency_key=key)["id"]), "replayed"
        except PortalError as error:
            return None, (
                f"could not confirm whether the test clock '{name}' was created ({error.message}); if it exists, "
                "Stripe deletes it automatically 30 days after it was created"
            )


# ---- the plan's Verify record ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordOutcome:
    """What became of a run's result in the plan file: the record written (None if none) and a line to show."""

    record: VerifyRecord | None
    text: str  # "Recorded in plans.toml for plan Pro", "Not recorded: …"
    tone: Tone


def record_result(store: ConfigStore, result: WalkthroughResult, *, at: datetime | None = None) -> RecordOutcome:
    """Keep the run's verdict as the plan's `verified` record in the plan file (read fresh, then saved atomically).

    Runs that prove nothing (cancelled, inconclusive, stopped by an error) are not recorded: the previous record
    stays. A plan file that no longer holds the plan, or cannot be read or written, is reported, not raised.
    """
    record = result.verify_record(at)
    name = store.path.name
    if record is None:
        why = {"CANCELLED": "the run was cancelled", "INCONCLUSIVE": "the usage had not arrived"}.get(
            result.verdict, "the run stopped before a verdict"
        )
        return RecordOutcome(None, f"Not recorded in {name}: {why}; the plan keeps its previous result", "dim")
    try:
        saved = store.record_verify(result.plan.id, record)
    except PortalError as error:
        return RecordOutcome(None, f"Not recorded in {name}: {error.message}", "warn")
    if saved is None:
        return RecordOutcome(None, f"Not recorded: plan '{result.plan.id}' is no longer in {name}", "warn")
    return RecordOutcome(record, f"Recorded in {name} for plan {saved.name}", "dim")
