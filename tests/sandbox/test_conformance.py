"""Every object the sandbox returns has exactly the fields the installed `stripe` package declares for it.

The SDK's resource classes are generated from Stripe's OpenAPI spec for the pinned API version, so after an SDK
upgrade this file names each field Stripe added or dropped. Two checks: the answers of a request tour that returns
every object type issue 10 lists, and every answer any test of the session received (these tests run last).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from portal_tui.sandbox import RecordedRequest, Sandbox
from tests.conftest import SEEN_SHAPES, TEST_KEY
from tests.sandbox.shapes import COVERED, Mismatch, check, objects_in, skeleton

pytestmark = pytest.mark.conformance


def mismatches(label: str, body: Any) -> list[Mismatch]:
    absent = frozenset({"id"}) if label.endswith("/create_preview") else frozenset()  # a preview has no id
    return list(check(body, "", absent=absent))


def report(found: dict[str, list[Mismatch]]) -> str:
    return "\n".join(f"{label}: {problem}" for label, problems in found.items() for problem in problems)


def tour(sandbox: Sandbox) -> None:
    """One request of each kind a portal makes, so every object type is returned at least once."""
    sc = stripe.StripeClient(TEST_KEY, base_addresses={"api": sandbox.url})

    def call(method: str, path: str, **params: Any) -> Any:
        return json.loads(sc.raw_request(method, path, **params).body)

    call("get", "/v1/account")
    prices = call("get", "/v1/prices", limit=100, expand=["data.tiers"])
    call("get", "/v1/prices", limit=100, expand=["data.product"])
    call("get", "/v1/products", limit=100, expand=["data.default_price"])
    call("get", "/v1/billing/meters")
    packaged = next(p for p in prices["data"] if p.get("transform_quantity"))
    call("get", f"/v1/prices/{packaged['id']}", expand=["product"])
    # one customer's subscriptions share a currency (Stripe refuses to combine them): both in USD
    recurring = [p for p in prices["data"] if p["recurring"] and p["currency"] == "usd"]
    licensed = next(p for p in recurring if p["recurring"]["usage_type"] == "licensed" and p["unit_amount"])
    metered = next(p for p in recurring if p["recurring"]["usage_type"] == "metered")
    multi_currency(call, licensed["product"])
    now = int(time.time())
    clock = call("post", "/v1/test_helpers/test_clocks", frozen_time=now, name="conformance")
    customer = call(
        "post",
        "/v1/customers",
        name="Ada",
        email="ada@example.com",
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
        test_clock=clock["id"],
    )
    call("post", f"/v1/customers/{customer['id']}", metadata={"tier": "pro"})
    call("get", "/v1/customers", email="ada@example.com")
    spare = call("post", "/v1/payment_methods/pm_card_mastercard/attach", customer=customer["id"])
    call("get", "/v1/payment_methods", customer=customer["id"])
    call("get", "/v1/payment_methods/pm_card_visa")
    call("post", f"/v1/payment_methods/{spare['id']}/detach")
    sub = call(
        "post",
        "/v1/subscriptions",
        customer=customer["id"],
        items=[{"price": licensed["id"], "quantity": 2}],
        expand=["latest_invoice", "customer"],
    )
    usage = call("post", "/v1/subscriptions", customer=customer["id"], items=[{"price": metered["id"]}])
    call("post", f"/v1/subscriptions/{sub['id']}", cancel_at_period_end="true")
    call("get", "/v1/subscriptions", customer=customer["id"], expand=["data.latest_invoice"])
    call("post", "/v1/invoices/create_preview", customer=customer["id"], subscription=usage["id"])
    invoices = call("get", "/v1/invoices", customer=customer["id"])
    call("get", f"/v1/invoices/{invoices['data'][0]['id']}")
    payments = call(
        "get", "/v1/invoice_payments", invoice=sub["latest_invoice"]["id"], expand=["data.payment.payment_intent"]
    )
    call("get", "/v1/invoice_payments", invoice=sub["latest_invoice"]["id"], expand=["data.invoice"])
    intent = payments["data"][0]["payment"]["payment_intent"]["id"]
    call("get", f"/v1/payment_intents/{intent}", expand=["customer", "payment_method"])
    call("post", f"/v1/test_helpers/test_clocks/{clock['id']}/advance", frozen_time=now + 40 * 86_400)
    call("get", f"/v1/test_helpers/test_clocks/{clock['id']}")
    call("get", "/v1/invoices", customer=customer["id"], limit=100)
    call("delete", f"/v1/subscriptions/{usage['id']}")
    call("get", "/v1/test_helpers/test_clocks")


def multi_currency(call: Any, product: str) -> None:
    """A flat and a graduated price in USD, EUR and JPY, returned with their currency_options expanded."""
    flat = call(
        "post",
        "/v1/prices",
        product=product,
        currency="usd",
        unit_amount=2000,
        recurring={"interval": "month"},
        currency_options={"eur": {"unit_amount": 1800, "tax_behavior": "exclusive"}, "jpy": {"unit_amount": 3000}},
        expand=["currency_options"],
    )
    tiered = call(
        "post",
        "/v1/prices",
        product=product,
        currency="usd",
        billing_scheme="tiered",
        tiers_mode="graduated",
        recurring={"interval": "month"},
        tiers=[{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400, "flat_amount": 100}],
        currency_options={
            "eur": {"tiers": [{"up_to": 10, "unit_amount": 450}, {"up_to": "inf", "unit_amount": 350}]},
            "jpy": {"tiers": [{"up_to": 10, "unit_amount": 700}, {"up_to": "inf", "flat_amount": 1000}]},
        },
    )
    assert "currency_options" not in tiered  # only when expanded
    expand = ["tiers", "currency_options", "currency_options.eur.tiers", "currency_options.jpy.tiers"]
    call("get", f"/v1/prices/{tiered['id']}", expand=expand)
    call(
        "post", f"/v1/prices/{flat['id']}", currency_options={"gbp": {"unit_amount": 1600}}, expand=["currency_options"]
    )
    call("get", "/v1/prices", limit=100, expand=["data.currency_options", "data.currency_options.eur.tiers"])


def test_every_object_type_has_the_fields_the_sdk_declares() -> None:
    bodies: list[tuple[str, Any]] = []

    def keep(request: RecordedRequest, body: dict[str, Any]) -> None:
        bodies.append((f"{request.method} {request.path}", body))

    Sandbox.observers.append(keep)
    try:
        with Sandbox(seed=True) as sandbox:
            tour(sandbox)
    finally:
        Sandbox.observers.remove(keep)
    seen = {name for _label, body in bodies for name in objects_in(body)}
    assert set(COVERED) <= seen, f"the tour returned no {sorted(set(COVERED) - seen)}"
    found = {label: problems for label, body in bodies if (problems := mismatches(label, body))}
    assert not found, "fields differ from the stripe package's declarations:\n" + report(found)


def test_every_answer_the_test_session_saw_has_the_sdk_fields() -> None:
    """Whatever the other tests asked (run before this one), in every state they drove objects to."""
    found = {label: problems for label, shape in SEEN_SHAPES.values() if (problems := mismatches(label, shape))}
    assert not found, "fields differ from the stripe package's declarations:\n" + report(found)


def test_the_check_names_a_missing_and_an_unknown_field() -> None:
    """The comparison can fail: a subscription without `cancel_at` and with a made-up field is reported."""
    with Sandbox(seed=True) as sandbox:
        sc = stripe.StripeClient(TEST_KEY, base_addresses={"api": sandbox.url})
        price = next(p for p in sc.v1.prices.list(params={"limit": 100}).data if p.recurring)
        customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa"})
        body = json.loads(
            sc.raw_request("post", "/v1/subscriptions", customer=customer.id, items=[{"price": price.id}]).body
        )
    assert mismatches("POST /v1/subscriptions", body) == []
    del body["cancel_at"]
    body["items"]["data"][0]["price"]["recurring"]["surprise"] = 1
    problems = [str(problem) for problem in mismatches("POST /v1/subscriptions", skeleton(body))]
    assert problems == [
        "subscription: missing cancel_at",
        "subscription.items.data[](subscription_item).price(price).recurring: not in the SDK surprise",
    ]
