"""The calls a portal's own billing code makes, as the `stripe` client makes them: customers, payment methods,
subscriptions and invoices; unknown and unmodelled parameters refused; faults at random from a seed."""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import stripe

from portal_tui.commands.sandbox import describe, parse_duration, parse_faults
from portal_tui.sandbox import Sandbox
from tests.conftest import TEST_KEY


@pytest.fixture
def sc(seeded_sandbox: Sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_KEY, base_addresses={"api": seeded_sandbox.url}, max_network_retries=0)


def price_of(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


def default_card(sc: stripe.StripeClient, customer_id: str) -> Any:
    return sc.v1.customers.retrieve(customer_id).to_dict()["invoice_settings"]["default_payment_method"]


def refused(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call()
    return caught.value


@pytest.fixture
def subscribed(seeded_sandbox: Sandbox, sc: stripe.StripeClient) -> Iterator[tuple[str, str]]:
    customer = sc.v1.customers.create(
        params={
            "email": "ada@example.com",
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = sc.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price_of(seeded_sandbox, "pro_monthly")}]}
    )
    yield customer.id, sub.id


def test_customers_retrieve_update_and_list(sc: stripe.StripeClient, subscribed: tuple[str, str]) -> None:
    customer_id, _ = subscribed
    updated = sc.v1.customers.update(
        customer_id, params={"name": "Ada Lovelace", "metadata": {"portal_user": "42", "plan": "pro"}}
    )
    assert updated.name == "Ada Lovelace" and updated.to_dict()["metadata"] == {"portal_user": "42", "plan": "pro"}
    again = sc.v1.customers.update(customer_id, params={"metadata": {"plan": ""}, "phone": "+44 20 7946 0000"})
    assert again.to_dict()["metadata"] == {"portal_user": "42"} and again.phone == "+44 20 7946 0000"
    fetched = sc.v1.customers.retrieve(customer_id)
    assert fetched.tax_exempt == "none" and fetched.address is None and fetched.preferred_locales == []
    assert len(fetched.invoice_prefix or "") == 8 and fetched.next_invoice_sequence == 2  # one invoice finalized
    assert [c.id for c in sc.v1.customers.list(params={"email": "ada@example.com"}).data] == [customer_id]
    assert sc.v1.customers.list(params={"email": "Ada@example.com"}).data == []
    error = refused(lambda: sc.v1.customers.update(customer_id, params={"tax_exempt": "exempt"}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "tax_exempt"
    assert "does not model" in str(error)
    error = refused(lambda: sc.v1.customers.update(customer_id, params=cast("Any", {"colour": "red"})))
    assert "Received unknown parameter: colour" in str(error)


def test_payment_methods_attach_list_detach_and_test_ids(sc: stripe.StripeClient, subscribed: tuple[str, str]) -> None:
    customer_id, _ = subscribed
    magic = sc.v1.payment_methods.retrieve("pm_card_visa")
    assert magic.id == "pm_card_visa" and magic.customer is None and magic.card is not None
    assert magic.card.last4 == "4242"
    spare = sc.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer_id})
    assert spare.id.startswith("pm_") and spare.id != "pm_card_mastercard" and spare.customer == customer_id
    listed = sc.v1.payment_methods.list(params={"customer": customer_id, "type": "card"}).data
    assert {pm.card.brand for pm in listed if pm.card} == {"visa", "mastercard"}
    default = default_card(sc, customer_id)
    sc.v1.payment_methods.detach(str(default))
    assert default_card(sc, customer_id) is None
    assert [pm.id for pm in sc.v1.payment_methods.list(params={"customer": customer_id}).data] == [spare.id]
    error = refused(lambda: sc.v1.payment_methods.detach(str(default)))
    assert "not attached to a customer" in str(error)
    declined = refused(lambda: sc.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": customer_id}))
    assert isinstance(declined, stripe.CardError) and declined.code == "card_declined"
    sc.v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": spare.id}})
    assert default_card(sc, customer_id) == spare.id


def test_subscriptions_retrieve_list_update_and_cancel(
    seeded_sandbox: Sandbox, sc: stripe.StripeClient, subscribed: tuple[str, str]
) -> None:
    customer_id, sub_id = subscribed
    sub = sc.v1.subscriptions.retrieve(sub_id)
    assert sub.status == "active" and sub.billing_mode.type == "flexible" and sub.items.data[0].plan.id
    at_end = sc.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True, "metadata": {"seat": "7"}})
    assert at_end.cancel_at_period_end and at_end.cancel_at == at_end.items.data[0].current_period_end
    assert at_end.metadata.to_dict() == {"seat": "7"} and at_end.status == "active"
    resumed = sc.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": False})
    assert resumed.cancel_at is None and resumed.canceled_at is None
    team = price_of(seeded_sandbox, "team_seats")
    error = refused(lambda: sc.v1.subscriptions.update(sub_id, params={"items": [{"price": team}]}))
    assert "does not model `items`" in str(error)
    assert [s.id for s in sc.v1.subscriptions.list(params={"customer": customer_id}).data] == [sub_id]
    canceled = sc.v1.subscriptions.cancel(sub_id)
    assert canceled.status == "canceled" and canceled.ended_at == canceled.canceled_at
    assert canceled.cancellation_details and canceled.cancellation_details.reason == "cancellation_requested"
    assert sc.v1.subscriptions.list(params={"customer": customer_id}).data == []  # canceled ones left out
    assert len(sc.v1.subscriptions.list(params={"customer": customer_id, "status": "canceled"}).data) == 1
    assert "canceled" in str(refused(lambda: sc.v1.subscriptions.cancel(sub_id)))


def test_invoices_retrieve_and_list_with_their_full_shape(sc: stripe.StripeClient, subscribed: tuple[str, str]) -> None:
    customer_id, sub_id = subscribed
    listed = sc.v1.invoices.list(params={"customer": customer_id}).data
    assert len(listed) == 1
    invoice = sc.v1.invoices.retrieve(str(listed[0].id))
    assert invoice.status == "paid" and invoice.customer_email == "ada@example.com"
    assert invoice.number and invoice.number.endswith("-0001") and invoice.hosted_invoice_url
    assert invoice.payment_settings.payment_method_types is None and invoice.total_pretax_credit_amounts == []
    preview = sc.v1.invoices.create_preview(params={"subscription": sub_id})
    assert "id" not in preview.to_dict() and preview.hosted_invoice_url is None and preview.number is None
    assert "No such invoice" in str(refused(lambda: sc.v1.invoices.retrieve("in_missing")))


def test_meter_and_test_clock_creates_refuse_what_they_do_not_know(sc: stripe.StripeClient) -> None:
    meter: dict[str, Any] = {"display_name": "Calls", "event_name": "calls", "default_aggregation": {"formula": "sum"}}
    meters = sc.v1.billing.meters
    error = refused(lambda: meters.create(params=cast("Any", {**meter, "event_time_window": "hour"})))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "event_time_window"
    error = refused(lambda: meters.create(params=cast("Any", {**meter, "colour": "red"})))
    assert "Received unknown parameter: colour" in str(error)
    clock = {"frozen_time": int(time.time()), "speed": "2"}
    error = refused(lambda: sc.v1.test_helpers.test_clocks.create(params=cast("Any", clock)))
    assert "Received unknown parameter: speed" in str(error)
    assert meters.create(params=cast("Any", meter)).event_time_window is None  # nothing was made before
    error = refused(lambda: sc.raw_request("get", "/v1/balance", colour="red"))
    assert "Received unknown parameter: colour" in str(error)


def test_random_faults_repeat_from_a_seed_and_strike_before_or_after(sandbox: Sandbox) -> None:
    def run(seed: int) -> tuple[list[int], int, dict[str, int]]:
        with Sandbox() as fresh:
            fresh.faults.randomly({"429": 0.2, "500": 0.2, "reset": 0.1}, seed=seed)
            client = stripe.StripeClient(TEST_KEY, base_addresses={"api": fresh.url}, max_network_retries=0)
            outcomes = []
            for index in range(40):
                try:
                    client.v1.products.create(params={"name": f"P{index}"})
                    outcomes.append(200)
                except stripe.APIConnectionError:
                    outcomes.append(0)
                except stripe.StripeError as error:
                    outcomes.append(error.http_status or -1)
            return outcomes, len(fresh.test_world.objects["product"]), dict(fresh.faults.injected)

    first, made, injected = run(3)
    assert run(3) == (first, made, injected)  # the same seed, the same bad day
    assert run(4)[0] != first
    assert {429, 500, 0} <= set(first) and injected["drop"] and injected["429"] and injected["500"]
    # a fault after the request ran loses the answer of a product that exists: more products than 200 answers
    assert made > first.count(200)
    with pytest.raises(ValueError, match="unknown fault"):
        sandbox.faults.randomly({"418": 0.1})
    with pytest.raises(ValueError, match="more than 1"):
        sandbox.faults.randomly({"429": 0.7, "500": 0.6})


def test_fault_options_parse_as_an_admin_writes_them() -> None:
    assert parse_faults("429=0.1,500=0.05,reset=0.02") == {"429": 0.1, "500": 0.05, "reset": 0.02}
    assert parse_faults("500=5%, lock_timeout=1%") == {"500": 0.05, "lock_timeout": 0.01}
    assert parse_duration("150ms") == pytest.approx(0.15) and parse_duration("30s") == 30.0
    assert parse_duration("2m") == 120.0 and parse_duration("1.5") == 1.5
    for bad in ("429", "teapot=0.1", "500=lots", "500=1.5", "429=0.6,500=0.6"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_faults(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
        parse_duration("soon")
    text = describe({"429": 0.1, "reset": 0.02}, 0.15, 30.0, 7)
    assert text == "Bad network day: 429 10%, reset 2%, 150 ms latency, meter events count after 30 s (seed 7)\n"


def test_the_sandbox_command_serves_a_bad_network_day() -> None:
    """`portal-tui sandbox --faults … --latency … --meter-event-lag …` through the real parser and server."""
    import threading

    from portal_tui.cli import build_parser
    from portal_tui.commands.sandbox import run_sandbox

    args = build_parser().parse_args(
        ["sandbox", "--port", "0", "--faults", "500=1", "--fault-seed", "1", "--latency", "10ms",
         "--meter-event-lag", "30s"]
    )  # fmt: skip
    assert args.faults == {"500": 1.0} and args.latency == pytest.approx(0.01) and args.meter_event_lag == 30.0
    out = io.StringIO()
    started: list[Sandbox] = []
    original = Sandbox.start

    def start(self: Sandbox) -> Sandbox:
        started.append(self)
        return original(self)

    Sandbox.start = start  # type: ignore[method-assign]
    try:
        thread = threading.Thread(
            target=run_sandbox,
            kwargs={
                "port": 0,
                "seed": True,
                "out": out,
                "faults": args.faults,
                "latency": args.latency,
                "meter_event_lag": args.meter_event_lag,
                "fault_seed": args.fault_seed,
            },
            daemon=True,
        )
        thread.start()
        # Generous: under a parallel run on two busy cores, seeding and starting can take a few seconds.
        deadline = time.monotonic() + 30
        while "Press Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        Sandbox.start = original  # type: ignore[method-assign]
    sandbox = started[0]
    try:
        assert "Bad network day: 500 100%, 10 ms latency, meter events count after 30 s (seed 1)" in out.getvalue()
        assert sandbox.meter_event_lag == 30.0 and sandbox.latency == pytest.approx(0.01)
        client = stripe.StripeClient(TEST_KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)
        error = refused(lambda: client.v1.products.list())
        assert error.http_status == 500
    finally:
        sandbox.stop()
        thread.join(5)
