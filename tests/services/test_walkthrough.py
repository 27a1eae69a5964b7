"""The test-mode walkthrough against the sandbox: flat, graduated and metered plans, mismatches, faults, clean-up."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import RecordedRequest, Sandbox
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from portal_tui.services.walkthrough import Scenario, Step, StepStatus, Walkthrough
from tests.conftest import LIVE_KEY, TEST_KEY

FROZEN = 1_767_225_600


def price_id(sandbox: Sandbox, lookup_or_nickname: str) -> str:
    for price in sandbox.test_world.objects["price"].values():
        if lookup_or_nickname in (price["lookup_key"], price["nickname"]):
            return str(price["id"])
    raise AssertionError(lookup_or_nickname)


def run(sandbox: Sandbox, price: str, scenario: Scenario, **kwargs: Any) -> tuple[Any, list[Step]]:
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url, retry_delay=0.01)
    config = PlanConfig(plans=[Plan("pro", "Pro", price, None, {"vcpu": 4, "instances": "unlimited"})])
    seen: list[Step] = []
    walk = Walkthrough(
        gateway,
        config,
        config.plans[0],
        scenario,
        on_step=lambda s: seen.append(Step(s.key, s.title, s.status, s.detail)),
        clock=lambda: FROZEN,
        **{"poll_interval": 0.01, **kwargs},
    )
    return walk.run(), seen


def leftovers(sandbox: Sandbox) -> dict[str, int]:
    objects = sandbox.test_world.objects
    return {kind: len(objects[kind]) for kind in ("test_helpers.test_clock", "customer", "subscription")}


def final(steps: list[Step], key: str) -> Step:
    """The last report of a step (the list holds every report in order)."""
    return [s for s in steps if s.key == key][-1]


CLEAN = {"test_helpers.test_clock": 0, "customer": 0, "subscription": 0}


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [("pro_monthly", 3, 6000), ("team_seats", 8, 1000 + 3 * 400), ("api_calls", 12000, 480)],
)
def test_walkthrough_passes_and_cleans_up(seeded_sandbox: Sandbox, price: str, quantity: int, expected: int) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, price), Scenario("succeeds", quantity, True))
    assert result.error is None and result.verdict == "PASS", result.summary_text()
    licensed = price != "api_calls"  # the first invoice of a licensed price is charged and checked too
    assert [line.expected for line in result.lines] == [expected] * (3 if licensed else 2)
    assert all(line.invoiced == expected for line in result.lines)
    assert ("First invoice" in result.lines[-1].description) is licensed
    assert result.invoice_status == "paid"
    assert ("vCPU", "4 cores") in result.quotas and ("Instances", "unlimited") in result.quotas
    assert leftovers(seeded_sandbox) == {"test_helpers.test_clock": 0, "customer": 0, "subscription": 0}
    assert steps[-1].key == "cleanup" and steps[-1].status is StepStatus.DONE
    summary = result.summary_text()
    assert "PASS" in summary and "Cleaned up: deleted test clock clock_" in summary
    assert result.cleanup_text().startswith("deleted test clock clock_")
    assert result.cleanup_text().endswith("with its customer and subscription")


def test_metered_usage_is_reported_to_the_meter(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "Compute per hour"), Scenario("succeeds", 150, False))
    assert result.ok and result.lines[0].expected == 30  # 150 minutes -> 3 started hours at $0.10
    events = [r for r in seeded_sandbox.requests if r.path == "/v1/billing/meter_events"]
    assert len(events) == 1 and events[0].params["payload"]["value"] == "150"
    assert int(events[0].params["timestamp"]) == FROZEN + 1  # inside the period, not on its start


def test_wrong_invoice_amount_is_flagged(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.invoice_skew = 1
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1, False))
    assert result.verdict == "MISMATCH" and not result.ok
    assert result.lines[0].expected == 2000 and result.lines[0].invoiced == 2001
    assert "✗" in result.summary_text()
    assert next(s for s in steps if s.key == "compare" and s.status is StepStatus.FAILED)
    assert leftovers(seeded_sandbox)["test_helpers.test_clock"] == 0


def test_fault_mid_run_still_cleans_up(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="500", times=10)
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1, False))
    assert result.verdict == "FAILED" and result.error is not None
    assert next(s for s in steps if s.key == "subscribe" and s.status is StepStatus.FAILED)
    assert leftovers(seeded_sandbox) == {"test_helpers.test_clock": 0, "customer": 0, "subscription": 0}
    assert "test clock" in result.removed[0]


def test_cancel_between_steps_cleans_up(seeded_sandbox: Sandbox) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario(), is_cancelled=cancelled)
    assert result.cancelled and result.verdict == "CANCELLED"
    assert leftovers(seeded_sandbox)["test_helpers.test_clock"] == 0


def test_live_keys_are_refused(live_sandbox: Sandbox) -> None:
    from portal_tui.services.errors import LiveModeRefusedError

    gateway = StripeGateway(parse_key(LIVE_KEY), api_base=live_sandbox.url)
    config = PlanConfig(plans=[Plan("pro", "Pro", "price_x")])
    with pytest.raises(LiveModeRefusedError):
        Walkthrough(gateway, config, config.plans[0], Scenario()).run()
    assert live_sandbox.requests == []


# ---- payments: declined and 3-D Secure cards ---------------------------------------------------------------------


def test_declined_card_is_the_expected_outcome_of_its_scenario(seeded_sandbox: Sandbox) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("declined", 1, False))
    assert result.verdict == "PASS", result.summary_text()
    assert result.subscription_status == "incomplete"
    assert result.first_payment is not None
    assert result.first_payment.text == "declined: Your card was declined (card_declined)"
    subscribe = next(s for s in steps if s.key == "subscribe" and s.status is StepStatus.DONE)
    assert "first invoice" in subscribe.detail and "open" in subscribe.detail and "declined" in subscribe.detail
    summary = result.summary_text()
    assert "declined: Your card was declined (card_declined) (as expected for Visa 0341" in summary
    invoice = next(r for r in seeded_sandbox.requests if r.path == "/v1/invoice_payments")
    assert invoice.params["expand"] == ["data.payment.payment_intent"]
    assert leftovers(seeded_sandbox) == CLEAN


def test_sandbox_models_a_declined_first_invoice_like_stripe(seeded_sandbox: Sandbox) -> None:
    import stripe

    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": seeded_sandbox.url})
    customer = client.v1.customers.create(
        params={
            "payment_method": "pm_card_chargeCustomerFail",
            "invoice_settings": {"default_payment_method": "pm_card_chargeCustomerFail"},
        }
    )
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price_id(seeded_sandbox, "pro_monthly")}],
            "expand": ["latest_invoice"],
        }
    )
    assert sub.status == "incomplete"
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.status == "open" and invoice.attempted and invoice.amount_paid == 0
    assert invoice.status_transitions.finalized_at is not None and invoice.last_finalization_error is None
    payments = client.v1.invoice_payments.list(
        params={"invoice": invoice.id, "expand": ["data.payment.payment_intent"]}
    )
    intent = payments.data[0].payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert payments.data[0].status == "open" and intent.status == "requires_payment_method"
    error = intent.last_payment_error
    assert error is not None and error.message == "Your card was declined."
    assert (error.code, error.decline_code) == ("card_declined", "generic_decline")


def test_incomplete_subscription_expires_instead_of_renewing(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("declined", 1, True))
    assert result.verdict == "PASS", result.summary_text()
    assert result.subscription_status == "incomplete → incomplete_expired"
    assert result.invoice_status == "void" and "never renews" in (result.payment_note or "")
    renewals = [r for r in seeded_sandbox.requests if r.path == "/v1/invoices"]
    assert renewals  # the walkthrough looked, and found no renewal invoice
    assert leftovers(seeded_sandbox) == CLEAN


def test_three_d_secure_card_requires_authentication(seeded_sandbox: Sandbox) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "team_seats"), Scenario("3ds", 2, False))
    assert result.verdict == "PASS", result.summary_text()
    assert result.subscription_status == "incomplete"
    assert result.first_payment is not None and result.first_payment.kind == "requires_action"
    assert result.first_payment.text == "requires 3-D Secure authentication"
    assert "requires 3-D Secure authentication" in final(steps, "subscribe").detail
    assert leftovers(seeded_sandbox) == CLEAN


def test_metered_plan_with_declining_card_is_declined_at_renewal(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "api_calls"), Scenario("declined", 12000, True))
    assert result.verdict == "PASS", result.summary_text()
    assert result.first_payment is not None and result.first_payment.kind == "no_charge"
    assert result.invoice_status == "open"
    assert result.payment_note == "declined: Your card was declined (card_declined)"
    assert result.subscription_status == "active → past_due"


def test_succeeding_card_that_gets_declined_fails_the_run() -> None:
    from portal_tui.services.walkthrough import PaymentOutcome, WalkthroughResult

    plan = Plan("pro", "Pro", "price_x")
    declined = PaymentOutcome("declined", "declined: Your card was declined (card_declined)")
    result = WalkthroughResult(plan, "price_x", Scenario("succeeds", 1), [], first_payment=declined)
    from portal_tui.domain.pricing import breakdown

    price = {
        "currency": "usd",
        "unit_amount": 100,
        "billing_scheme": "per_unit",
        "recurring": {"usage_type": "licensed"},
    }
    from portal_tui.services.walkthrough import LineCheck

    result.lines = [LineCheck("x", 1, 100, 100, "usd", breakdown(price, 1))]
    assert result.verdict == "UNEXPECTED PAYMENT" and not result.ok
    assert "NOT expected" in result.summary_text()
    as_expected = WalkthroughResult(plan, "price_x", Scenario("declined", 1), [], first_payment=declined)
    as_expected.lines = result.lines
    assert as_expected.verdict == "PASS"


# ---- clean-up under failure ----------------------------------------------------------------------------------------


def test_reporting_failure_does_not_stop_cleanup(seeded_sandbox: Sandbox) -> None:
    """The app quit mid-run: every step report raises, and the clock is still deleted."""
    calls = {"n": 0}

    def gone(step: Step) -> None:
        calls["n"] += 1
        if calls["n"] > 4:
            raise RuntimeError("App is not running")

    gateway = StripeGateway(parse_key(TEST_KEY), api_base=seeded_sandbox.url, retry_delay=0.01)
    config = PlanConfig(plans=[Plan("pro", "Pro", price_id(seeded_sandbox, "pro_monthly"))])
    result = Walkthrough(gateway, config, config.plans[0], Scenario(), on_step=gone).run()
    assert result.verdict == "PASS"
    assert leftovers(seeded_sandbox) == CLEAN
    assert seeded_sandbox.count("DELETE", f"/v1/test_helpers/test_clocks/{result.steps[1].detail}") == 1


@pytest.mark.parametrize(("kind", "listing"), [("drop", "works"), ("500", "works"), ("drop", "fails")])
def test_lost_clock_create_answer_is_still_cleaned_up(seeded_sandbox: Sandbox, kind: str, listing: str) -> None:
    # The clock is created, but none of the three attempts' answers arrives.
    seeded_sandbox.faults.add(method="POST", path="/v1/test_helpers/test_clocks", kind=kind, when="after", times=3)  # type: ignore[arg-type]
    if listing == "fails":  # then the idempotent create is replayed to learn the clock's id
        seeded_sandbox.faults.add(method="GET", path="/v1/test_helpers/test_clocks", kind="500", times=100)
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario())
    assert result.verdict == "FAILED"
    assert leftovers(seeded_sandbox) == CLEAN, result.summary_text()
    assert result.removed and "test clock" in result.removed[0]
    creates = [r for r in seeded_sandbox.requests if r.method == "POST" and r.path == "/v1/test_helpers/test_clocks"]
    assert len({r.idempotency_key for r in creates}) == 1 and creates[0].idempotency_key
    assert len(creates) == (3 if listing == "works" else 4)  # found by its unique name: no replay needed
    listed = [r for r in seeded_sandbox.requests if r.method == "GET" and r.path == "/v1/test_helpers/test_clocks"]
    assert [r.status for r in listed] == ([200] if listing == "works" else [])  # injected 500s are not recorded
    assert steps[-1].key == "cleanup" and steps[-1].status is StepStatus.DONE
    assert "found after its create answer was lost" in steps[-1].detail


def test_unexpected_exception_is_reported_and_cleaned_up(seeded_sandbox: Sandbox) -> None:
    calls = {"n": 0}

    def buggy() -> bool:
        calls["n"] += 1
        if calls["n"] == 4:  # after the clock and customer exist
            raise KeyError("boom")
        return False

    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario(), is_cancelled=buggy)
    assert result.verdict == "FAILED" and result.error is not None
    assert "Unexpected error: KeyError" in result.error.message
    assert leftovers(seeded_sandbox) == CLEAN


def test_clock_delete_is_retried(seeded_sandbox: Sandbox) -> None:
    # 5 failures: more than one gateway call's own retries (3 attempts), fewer than the walkthrough's 3 calls.
    seeded_sandbox.faults.add(method="DELETE", path="/v1/test_helpers/test_clocks/*", kind="500", times=5)
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario())
    assert result.verdict == "PASS", result.summary_text()
    assert leftovers(seeded_sandbox) == CLEAN


def test_clock_that_cannot_be_deleted_is_named_with_stripes_30_days(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.faults.add(method="DELETE", path="/v1/test_helpers/test_clocks/*", kind="500", times=100)
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario())
    clock_id = next(iter(seeded_sandbox.test_world.objects["test_helpers.test_clock"]))
    assert result.verdict == "FAILED" and result.left_behind == f"test clock {clock_id}"
    cleanup = steps[-1]
    assert cleanup.status is StepStatus.FAILED and clock_id in cleanup.detail and "30 days" in cleanup.detail
    assert "30 days" in result.summary_text()


# ---- time and usage: Stripe is asynchronous ---------------------------------------------------------------------


def test_clock_goes_past_the_hour_before_finalization(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1, True))
    assert result.invoice_status == "paid", result.summary_text()
    advance = next(r for r in seeded_sandbox.requests if r.path.endswith("/advance"))
    sub = next(r for r in seeded_sandbox.requests if r.method == "POST" and r.path == "/v1/subscriptions")
    assert sub.status == 200
    assert int(advance.params["frozen_time"]) > FROZEN + 28 * 86400 + 3600


def test_usage_is_awaited_until_stripe_aggregates_it(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.meter_event_lag = 1
    result, steps = run(
        seeded_sandbox,
        price_id(seeded_sandbox, "api_calls"),
        Scenario("succeeds", 12000),
        usage_wait=5,
        poll_interval=0.05,
    )
    assert result.verdict == "PASS", result.summary_text()
    assert seeded_sandbox.count("POST", "/v1/invoices/create_preview") > 1
    waiting = [s.detail for s in steps if s.key == "preview" and s.status is StepStatus.RUNNING and s.detail]
    assert waiting and all(d.startswith("waiting for Stripe to aggregate usage… ") for d in waiting)
    assert waiting[-1].endswith(" s (up to 5 s)") and final(steps, "preview").status is StepStatus.DONE


def test_stripe_gets_longer_to_aggregate_usage_than_the_sandbox(sandbox: Sandbox) -> None:
    from portal_tui.services.walkthrough import SANDBOX_USAGE_WAIT, STRIPE_USAGE_WAIT

    plan = Plan("pro", "Pro", "price_x")

    def wait(api_base: str, **kwargs: Any) -> float:
        gateway = StripeGateway(parse_key(TEST_KEY), api_base=api_base)
        return Walkthrough(gateway, PlanConfig(plans=[plan]), plan, Scenario(), **kwargs).usage_wait

    assert (wait("https://api.stripe.com"), wait(sandbox.url)) == (STRIPE_USAGE_WAIT, SANDBOX_USAGE_WAIT) == (60, 10)
    assert wait("https://api.stripe.com", usage_wait=120) == 120
    assert sandbox.requests == []  # deciding costs no request


def test_usage_that_never_arrives_is_inconclusive_not_a_mismatch(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.meter_event_lag = 60
    result, steps = run(
        seeded_sandbox,
        price_id(seeded_sandbox, "api_calls"),
        Scenario("succeeds", 12000),
        usage_wait=0.2,
        poll_interval=0.05,
    )
    assert result.verdict == "INCONCLUSIVE", result.summary_text()
    assert "had not aggregated" in (result.usage_pending or "")
    assert "✗" not in result.summary_text()
    assert final(steps, "compare").status is StepStatus.SKIPPED


# ---- the sandbox's shapes ----------------------------------------------------------------------------------------


def test_deleting_the_clock_removes_subscription_items_and_payments(seeded_sandbox: Sandbox) -> None:
    run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("declined", 1, False))
    objects = seeded_sandbox.test_world.objects
    assert not objects["subscription_item"] and not objects["invoice"]
    assert not objects.get("payment_intent") and not objects.get("invoice_payment")


def test_invoice_lines_have_stripes_required_fields(seeded_sandbox: Sandbox) -> None:
    import stripe

    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": seeded_sandbox.url})
    customer = client.v1.customers.create(
        params={"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}}
    )
    sub = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price_id(seeded_sandbox, "pro_monthly")}],
            "expand": ["latest_invoice"],
        }
    )
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    line = invoice.lines.data[0]
    assert line.subtotal == line.amount == 2000 and line.invoice == invoice.id
    assert (line.discounts, line.discount_amounts, line.taxes) == ([], [], [])
    assert invoice.status == "paid" and invoice.status_transitions.paid_at is not None
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.lines.data[0].subtotal == 2000 and preview.lines.data[0].invoice is None


def test_usage_goes_under_the_meters_own_payload_keys(seeded_sandbox: Sandbox) -> None:
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=seeded_sandbox.url, retry_delay=0.01)
    meter = gateway.create_meter(
        "Storage", "storage_gb", "sum", customer_key="customer", value_key="gb", idempotency_key="meter-1"
    )
    product = gateway.create_product("Storage", None, idempotency_key="product-1")
    price = gateway.create_price(
        {
            "product": product["id"],
            "currency": "usd",
            "unit_amount": 3,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter["id"]},
        },
        idempotency_key="price-1",
    )
    result, _ = run(seeded_sandbox, price["id"], Scenario("succeeds", 10), usage_wait=0.2)
    assert result.verdict == "PASS", result.summary_text()
    assert [line.invoiced for line in result.lines] == [30, 30]
    events = [r for r in seeded_sandbox.requests if r.path == "/v1/billing/meter_events"]
    assert [sorted(e.params["payload"]) for e in events] == [["customer", "gb"]]


def test_usage_stripe_drops_makes_the_run_inconclusive(
    seeded_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events under the wrong payload keys are accepted (200) and dropped later: no pass, and no ✗ either."""
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=seeded_sandbox.url, retry_delay=0.01)
    meter = gateway.create_meter("Disk", "disk_gb", "sum", customer_key="customer", value_key="gb", idempotency_key="m")
    product = gateway.create_product("Disk", None, idempotency_key="product-1")
    recurring = {"interval": "month", "usage_type": "metered", "meter": meter["id"]}
    price = gateway.create_price(
        {"product": product["id"], "currency": "usd", "unit_amount": 3, "recurring": recurring}, idempotency_key="p"
    )
    send = StripeGateway.send_meter_event

    def default_keys(self: StripeGateway, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("customer_key", None), kwargs.pop("value_key", None)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(StripeGateway, "send_meter_event", default_keys)
    result, steps = run(seeded_sandbox, price["id"], Scenario("succeeds", 10), usage_wait=0.1, poll_interval=0.02)
    assert [r.status for r in seeded_sandbox.requests if r.path == "/v1/billing/meter_events"] == [200]
    assert result.verdict == "INCONCLUSIVE", result.summary_text()
    assert "error reports" in (result.usage_pending or "")
    assert "✗" not in result.summary_text() and final(steps, "compare").status is StepStatus.SKIPPED


def test_the_first_invoice_is_checked_against_the_calculator(seeded_sandbox: Sandbox) -> None:
    """The preview can be right while the invoice charged at sign-up is wrong: skew only the first invoice."""
    seeded_sandbox.invoice_skew = 5

    def unskew(step: Step) -> None:
        if step.key == "subscribe" and step.status is StepStatus.DONE:
            seeded_sandbox.invoice_skew = 0

    gateway = StripeGateway(parse_key(TEST_KEY), api_base=seeded_sandbox.url, retry_delay=0.01)
    plan = Plan("pro", "Pro", price_id(seeded_sandbox, "pro_monthly"))
    result = Walkthrough(gateway, PlanConfig(plans=[plan]), plan, Scenario("succeeds", 2), on_step=unskew).run()
    first = result.lines[-1]
    assert first.description.startswith("First invoice in_") and (first.expected, first.invoiced) == (4000, 4005)
    assert result.lines[0].ok and not first.ok  # the preview matched; the charged invoice did not
    assert result.verdict == "MISMATCH"
    assert "✗ First invoice" in result.summary_text()


@pytest.mark.parametrize("card", ["succeeds", "declined"])
def test_an_amount_below_stripes_minimum_is_not_charged(seeded_sandbox: Sandbox, card: Any) -> None:
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=seeded_sandbox.url, retry_delay=0.01)
    product = gateway.create_product("Tiny", None, idempotency_key="product-1")
    price = gateway.create_price(
        {"product": product["id"], "currency": "gbp", "unit_amount": 10, "recurring": {"interval": "month"}},
        idempotency_key="price-1",
    )
    result, _ = run(seeded_sandbox, price["id"], Scenario(card, 2))  # £0.20 < £0.30
    assert result.verdict == "PASS", result.summary_text()
    assert result.first_payment is not None and result.first_payment.kind == "no_charge"
    assert "below Stripe's minimum" in result.first_payment.text
    assert result.subscription_status == "active"
    assert [line.invoiced for line in result.lines] == [20, 20, 20]


def test_invoice_lines_are_matched_by_pricing_price_details_only() -> None:
    price = {"id": "price_1"}
    current = {"amount": 5, "pricing": {"type": "price_details", "price_details": {"price": "price_1"}}}
    expanded = {"amount": 6, "pricing": {"type": "price_details", "price_details": {"price": {"id": "price_1"}}}}
    legacy = {"amount": 7, "price": {"id": "price_1"}, "pricing": None}  # pre-basil shape: gone from the API
    invoice = {"lines": {"data": [current, expanded, legacy]}}
    assert Walkthrough._price_lines(invoice, price) == [current, expanded]


# ---- the price is checked before anything is created --------------------------------------------------------------


def created_anything(sandbox: Sandbox) -> bool:
    return any(r.method == "POST" for r in sandbox.requests)


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (lambda price, world: price.update(active=False), "is archived: link the price that replaced it in Plans (4)"),
        (
            lambda price, world: world.objects["product"][price["product"]].update(active=False),
            "belongs to the archived product",
        ),
        (lambda price, world: price.update(type="one_time", recurring=None), "is a one-time price"),
        (lambda price, world: price.update(livemode=True), "is a live-mode price"),
    ],
)
def test_an_unusable_price_is_refused_before_anything_is_created(
    seeded_sandbox: Sandbox, spoil: Any, said: str
) -> None:
    pid = price_id(seeded_sandbox, "pro_monthly")
    spoil(seeded_sandbox.test_world.objects["price"][pid], seeded_sandbox.test_world)
    result, steps = run(seeded_sandbox, pid, Scenario("succeeds", 1, False))
    assert result.verdict == "FAILED" and result.error is not None
    assert said in result.error.message and pid in result.error.message, result.error.message
    assert final(steps, "price").status is StepStatus.FAILED
    assert final(steps, "cleanup").detail == "nothing was created"
    assert not created_anything(seeded_sandbox)
    assert "nothing left behind" in result.cleanup_text()


def test_a_missing_price_is_refused_with_what_to_do(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, "price_doesNotExist", Scenario())
    assert result.error is not None
    assert "price_doesNotExist does not exist in this test account" in result.error.message
    assert "Plans (4)" in result.error.message
    assert not created_anything(seeded_sandbox)


# ---- quotas only for a subscription that is paid up ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "scenario", "status"),
    [
        ("pro_monthly", Scenario("declined", 1, False), "incomplete"),
        ("pro_monthly", Scenario("declined", 1, True), "incomplete_expired"),
        ("api_calls", Scenario("declined", 12000, True), "past_due"),
    ],
)
def test_no_quotas_unless_the_subscription_is_active(
    seeded_sandbox: Sandbox, price: str, scenario: Scenario, status: str
) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, price), scenario)
    assert result.final_status == status and result.quotas_withheld == status
    # The card was declined: withholding the quotas is what the portal should do, so the step and verdict pass.
    quotas = final(steps, "quotas")
    assert quotas.status is StepStatus.DONE and quotas.detail == f"none: the subscription is {status}"
    assert result.verdict == "PASS" and result.headline().endswith("quotas withheld ✓")
    summary = result.summary_text()
    assert "Quotas the portal grants" not in summary and "✗" not in summary
    assert f"No quotas: the subscription is {status}, so none are granted (as expected" in summary


def test_active_subscription_grants_the_quotas(seeded_sandbox: Sandbox) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1, True))
    assert result.final_status == "active" and result.quotas_withheld is None
    assert final(steps, "quotas").status is StepStatus.DONE
    assert "Quotas the portal grants: vCPU 4 cores, Instances unlimited" in result.summary_text()


# ---- the summary names metered usage as usage ------------------------------------------------------------------


def test_metered_summary_says_usage_and_names_the_meter(seeded_sandbox: Sandbox) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "api_calls"), Scenario("succeeds", 25000, False))
    summary = result.summary_text()
    assert "Scenario: Visa 4242 · succeeds, usage 25,000 API calls" in summary, summary
    assert "quantity" not in summary.splitlines()[3]
    assert final(steps, "usage").detail == "25,000 API calls reported"


def test_licensed_summary_says_quantity(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "team_seats"), Scenario("succeeds", 8, False))
    assert "Scenario: Visa 4242 · succeeds, quantity 8" in result.summary_text()


# ---- the plan's Verify record --------------------------------------------------------------------------------------


def fingerprint_of(sandbox: Sandbox, pid: str) -> str:
    """The terms fingerprint computed independently of the walkthrough: the price (and meter) as the API has them."""
    from portal_tui.domain.price_terms import price_terms, terms_fingerprint

    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url)
    price = gateway.retrieve_price(pid)
    meter_id = (price.get("recurring") or {}).get("meter")
    event = next((str(m["event_name"]) for m in gateway.list_meters() if m["id"] == meter_id), None)
    return terms_fingerprint(price_terms(price, event))


def test_a_pass_makes_a_record_of_the_price_and_its_terms(seeded_sandbox: Sandbox) -> None:
    from datetime import UTC, datetime

    pid = price_id(seeded_sandbox, "team_seats")
    result, _ = run(seeded_sandbox, pid, Scenario("succeeds", 8))
    assert result.verdict == "PASS" and result.recorded_verdict is True
    assert result.terms == fingerprint_of(seeded_sandbox, pid)
    at = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    record = result.verify_record(at)
    assert record is not None
    assert (record.passed, record.price_id, record.terms) == (True, pid, result.terms)
    assert record.at == at.replace(microsecond=0)
    assert record.summary.startswith(result.headline() + "; Visa 4242 · succeeds, quantity 8; ")
    assert record.summary.startswith("PASS — ") and "\n" not in record.summary


def test_a_metered_record_names_the_meter_by_event_name(seeded_sandbox: Sandbox) -> None:
    from portal_tui.domain.price_terms import price_terms, terms_fingerprint

    pid = price_id(seeded_sandbox, "api_calls")
    result, steps = run(seeded_sandbox, pid, Scenario("succeeds", 12000))
    assert result.verdict == "PASS", result.summary_text()
    # The meter is read once, in the price step, and reused for the usage.
    assert seeded_sandbox.count("GET", "/v1/billing/meters") == 1
    assert result.terms == fingerprint_of(seeded_sandbox, pid)
    assert result.price is not None and result.terms != terms_fingerprint(price_terms(result.price))
    assert final(steps, "usage").status is StepStatus.DONE


def test_a_missing_meter_is_refused_before_anything_is_created(seeded_sandbox: Sandbox) -> None:
    pid = price_id(seeded_sandbox, "api_calls")
    seeded_sandbox.test_world.objects["price"][pid]["recurring"]["meter"] = "mtr_gone"
    result, steps = run(seeded_sandbox, pid, Scenario("succeeds", 10))
    assert result.verdict == "FAILED" and "mtr_gone was not found" in str(result.error)
    assert final(steps, "price").status is StepStatus.FAILED
    assert not created_anything(seeded_sandbox)
    assert result.verify_record() is None


def test_a_mismatch_is_recorded_as_a_fail(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.invoice_skew = 1
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1))
    record = result.verify_record()
    assert result.verdict == "MISMATCH" and record is not None and not record.passed
    assert record.summary.startswith("MISMATCH — invoiced $20.01 ✗ (expected $20.00) · card paid ✓")
    assert "; Visa 4242 · succeeds, quantity 1; " in record.summary


def test_runs_that_prove_nothing_are_not_recorded(seeded_sandbox: Sandbox) -> None:
    pid = price_id(seeded_sandbox, "pro_monthly")
    cancelled, _ = run(seeded_sandbox, pid, Scenario(), is_cancelled=iter([False] * 3 + [True] * 99).__next__)
    assert cancelled.verdict == "CANCELLED" and cancelled.verify_record() is None
    seeded_sandbox.meter_event_lag = 60
    pending, _ = run(seeded_sandbox, price_id(seeded_sandbox, "api_calls"), Scenario("succeeds", 5), usage_wait=0.1)
    assert pending.verdict == "INCONCLUSIVE" and pending.verify_record() is None
    # An error after the price was read (its terms known) still proves nothing about billing.
    seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="500", times=10)
    failed, _ = run(seeded_sandbox, pid, Scenario())
    assert failed.verdict == "FAILED" and failed.terms is not None and failed.verify_record() is None


def test_record_result_writes_the_plan_file(seeded_sandbox: Sandbox, tmp_path: Path) -> None:
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.walkthrough import record_result

    pid = price_id(seeded_sandbox, "pro_monthly")
    store = ConfigStore(tmp_path / "plans.toml")
    # A version-1 file as an older portal-tui wrote it: the record is added and the file becomes version 2.
    store.path.write_text(
        f'schema_version = 1\n[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "{pid}"\n'
        '[plans.quotas]\nvcpu = 4\n[[plans]]\nid = "other"\nname = "Other"\n'
    )
    result, _ = run(seeded_sandbox, pid, Scenario())
    outcome = record_result(store, result)
    assert outcome.text == "Recorded in plans.toml for plan Pro" and outcome.record is not None
    data = tomllib.loads(store.path.read_text())
    assert data["schema_version"] == 2
    verified = data["plans"][0]["verified"]
    assert verified["result"] == "pass" and verified["price_id"] == pid
    assert verified["terms"] == fingerprint_of(seeded_sandbox, pid)
    assert verified["at"] == outcome.record.at
    assert data["plans"][0]["quotas"] == {"vcpu": 4} and "verified" not in data["plans"][1]
    assert store.load().plans[0].verified == outcome.record


def test_record_result_reports_what_it_could_not_record(seeded_sandbox: Sandbox, tmp_path: Path) -> None:
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.walkthrough import record_result

    pid = price_id(seeded_sandbox, "pro_monthly")
    store = ConfigStore(tmp_path / "plans.toml")
    result, _ = run(seeded_sandbox, pid, Scenario())
    # The plan was deleted from the file during the run: nothing is written.
    store.path.write_text('schema_version = 2\n[[plans]]\nid = "basic"\nname = "Basic"\n')
    before = store.path.read_text()
    gone = record_result(store, result)
    assert gone.record is None and gone.text == "Not recorded: plan 'pro' is no longer in plans.toml"
    assert gone.tone == "warn" and store.path.read_text() == before
    # A file broken by a hand edit is reported and left as it is.
    store.path.write_text("[[plans]\n")
    broken = record_result(store, result)
    assert broken.record is None and broken.text.startswith("Not recorded in plans.toml: plans.toml is not valid TOML")
    assert store.path.read_text() == "[[plans]\n"
    # A run that proves nothing says so and writes nothing.
    cancelled, _ = run(seeded_sandbox, pid, Scenario(), is_cancelled=lambda: True)
    said = record_result(store, cancelled)
    assert said.record is None and said.text.startswith("Not recorded in plans.toml: the run was cancelled")


# ---- a price offered in several currencies: verified in the one chosen -------------------------------------------

# Hand-worked bills (not the calculator's): flat × 3 and graduated 1–5 then 6+ at quantity 8, per currency.
MULTI_CURRENCY_BILLS = [
    ("flat", "usd", 3, 6000, "$60.00"),
    ("flat", "eur", 3, 5400, "€54.00"),
    ("flat", "jpy", 3, 9000, "¥9,000"),
    ("graduated", "usd", 8, 5 * 500 + 3 * 400, "$37.00"),
    ("graduated", "eur", 8, 5 * 450 + 3 * 350, "€33.00"),
    ("graduated", "jpy", 8, 5 * 700 + 3 * 600, "¥5,300"),
]


def multi_currency_prices(sandbox: Sandbox) -> dict[str, str]:
    """A flat and a graduated monthly price with USD, EUR and JPY amounts, made through the real client."""
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url, retry_delay=0.01)
    product = gateway.create_product("Worldwide", None, idempotency_key="worldwide")
    monthly = {"interval": "month"}

    def graduated(first: int, rest: int) -> list[dict[str, Any]]:
        return [{"up_to": 5, "unit_amount": first}, {"up_to": "inf", "unit_amount": rest}]

    flat = gateway.create_price(
        {
            "product": product["id"],
            "currency": "usd",
            "unit_amount": 2000,
            "recurring": monthly,
            "currency_options": {"eur": {"unit_amount": 1800}, "jpy": {"unit_amount": 3000}},
        },
        idempotency_key="flat",
    )
    tiered = gateway.create_price(
        {
            "product": product["id"],
            "currency": "usd",
            "recurring": monthly,
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": graduated(500, 400),
            "currency_options": {"eur": {"tiers": graduated(450, 350)}, "jpy": {"tiers": graduated(700, 600)}},
        },
        idempotency_key="graduated",
    )
    return {"flat": str(flat["id"]), "graduated": str(tiered["id"])}


@pytest.fixture
def invoice_currencies() -> Iterator[list[str]]:
    """The currency of every invoice (and invoice preview) the sandbox answers with while the test runs."""
    seen: list[str] = []

    def observe(_request: RecordedRequest, body: dict[str, Any]) -> None:
        for found in (body, body.get("latest_invoice"), *(body.get("data") or [])):
            if isinstance(found, dict) and found.get("object") == "invoice":
                seen.append(str(found["currency"]))

    Sandbox.observers.append(observe)
    yield seen
    Sandbox.observers.remove(observe)


@pytest.mark.parametrize(("model", "currency", "quantity", "expected", "shown"), MULTI_CURRENCY_BILLS)
def test_a_multi_currency_price_is_verified_in_each_currency(
    sandbox: Sandbox, invoice_currencies: list[str], model: str, currency: str, quantity: int, expected: int, shown: str
) -> None:
    pid = multi_currency_prices(sandbox)[model]
    result, steps = run(sandbox, pid, Scenario("succeeds", quantity, True, currency=currency))
    assert result.verdict == "PASS", result.summary_text()
    assert result.currency == currency and result.currencies == ["usd", "eur", "jpy"]
    # the preview's line and subtotal, and the first invoice, each in the chosen currency
    checked = [(line.expected, line.invoiced, line.currency) for line in result.lines]
    assert checked == [(expected, expected, currency)] * 3
    assert result.headline().startswith(f"PASS — invoiced {shown} ✓ · card paid ✓")
    assert f"billed in {currency.upper()}" in result.scenario_text()
    assert f"billed in {currency.upper()}" in final(steps, "price").detail
    subscribe = next(r for r in sandbox.requests if r.method == "POST" and r.path == "/v1/subscriptions")
    assert subscribe.params["currency"] == currency  # the test customer is billed in it from the first invoice
    # every invoice Stripe answered with (first, preview, renewal) was in it
    assert invoice_currencies and set(invoice_currencies) == {currency}
    assert result.invoice_status == "paid"  # the renewal too, in the same currency
    record = result.verify_record()
    assert record is not None and record.passed
    assert record.currency == (None if currency == "usd" else currency)  # None: the price's own, as before
    assert leftovers(sandbox) == CLEAN


def test_the_price_s_own_currency_is_the_default(sandbox: Sandbox) -> None:
    pid = multi_currency_prices(sandbox)["flat"]
    result, _ = run(sandbox, pid, Scenario("succeeds", 1))
    assert result.verdict == "PASS" and result.currency == "usd"
    assert [line.invoiced for line in result.lines] == [2000] * 3 and "invoiced $20.00 ✓" in result.headline()


def test_a_currency_the_price_lacks_is_refused_before_anything_is_written(sandbox: Sandbox) -> None:
    prices = multi_currency_prices(sandbox)
    single_currency = price_id_in(sandbox, "usd")
    before = sandbox.writes()
    result, steps = run(sandbox, prices["graduated"], Scenario("succeeds", 2, currency="GBP"))
    assert result.verdict == "FAILED" and result.error is not None
    assert result.error.message == f"{prices['graduated']} is not offered in GBP: it bills in USD, EUR, JPY"
    assert final(steps, "price").status is StepStatus.FAILED
    assert final(steps, "cleanup").detail == "nothing was created"
    assert sandbox.writes() == before
    # a single-currency price says it has only the one
    single, _ = run(sandbox, single_currency, Scenario(currency="eur"))
    assert single.error is not None and single.error.message.endswith("is not offered in EUR: it bills only in USD")
    assert sandbox.writes() == before


def price_id_in(sandbox: Sandbox, currency: str) -> str:
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url, retry_delay=0.01)
    product = gateway.create_product("Local", None, idempotency_key=f"local-{currency}")
    params = {"product": product["id"], "currency": currency, "unit_amount": 1000, "recurring": {"interval": "month"}}
    return str(gateway.create_price(params, idempotency_key=f"local-price-{currency}")["id"])


def test_the_minimum_charge_is_the_chosen_currency_s(sandbox: Sandbox) -> None:
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url, retry_delay=0.01)
    product = gateway.create_product("Tiny", None, idempotency_key="tiny")
    # $1.00 is above USD's $0.50 minimum; ¥40 is below JPY's ¥50
    params = {
        "product": product["id"],
        "currency": "usd",
        "unit_amount": 100,
        "recurring": {"interval": "month"},
        "currency_options": {"jpy": {"unit_amount": 40}},
    }
    pid = str(gateway.create_price(params, idempotency_key="tiny-price")["id"])
    in_usd, _ = run(sandbox, pid, Scenario("succeeds", 1, currency="usd"))
    assert in_usd.first_payment is not None and in_usd.first_payment.text == "$1.00 paid"
    in_jpy, _ = run(sandbox, pid, Scenario("declined", 1, currency="jpy"))
    assert in_jpy.verdict == "PASS", in_jpy.summary_text()
    assert in_jpy.first_payment is not None and in_jpy.first_payment.kind == "no_charge"
    assert in_jpy.first_payment.text.startswith("¥40: no charge (below Stripe's minimum")


def test_an_invoice_in_another_currency_is_a_mismatch_whatever_its_number() -> None:
    from portal_tui.domain.pricing import Breakdown
    from portal_tui.services.walkthrough import LineCheck, WalkthroughResult

    expected = Breakdown(rows=[], total=5400, currency="eur", quantity=3)
    wrong = LineCheck("Flat × 3", 3, 5400, 5400, "eur", expected, invoiced_currency="usd")
    right = LineCheck("Flat × 3", 3, 5400, 5400, "eur", expected)
    assert not wrong.ok and right.ok
    result = WalkthroughResult(Plan("pro", "Pro"), "price_1", Scenario(currency="eur"), [], lines=[wrong])
    assert result.verdict == "MISMATCH"
    assert result.checks()[0] == "invoiced $54.00 ✗ (expected €54.00)"


def test_the_record_notes_a_currency_other_than_the_price_s_own(sandbox: Sandbox, tmp_path: Path) -> None:
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.walkthrough import record_result

    pid = multi_currency_prices(sandbox)["flat"]
    store = ConfigStore(tmp_path / "plans.toml")
    store.save(PlanConfig(plans=[Plan("pro", "Pro", pid)]))
    in_eur, _ = run(sandbox, pid, Scenario(currency="eur"))
    record_result(store, in_eur)
    verified = tomllib.loads(store.path.read_text())["plans"][0]["verified"]
    assert verified["currency"] == "eur" and "billed in EUR" in verified["summary"] and "€18.00" in verified["summary"]
    loaded = store.load().plans[0].verified
    assert loaded is not None and loaded.currency == "eur"
    # in the price's own currency the record is written as before this field existed: no currency key
    in_usd, _ = run(sandbox, pid, Scenario(currency="usd"))
    record_result(store, in_usd)
    verified = tomllib.loads(store.path.read_text())["plans"][0]["verified"]
    assert "currency" not in verified and "billed in USD" in verified["summary"]
    assert store.load().plans[0].verified.currency is None  # type: ignore[union-attr]
