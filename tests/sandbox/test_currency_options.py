"""Multi-currency prices in the sandbox, through the real `stripe` client over HTTP: `currency_options` accepted,
refused and returned as Stripe does (only when expanded), and a customer billed in the currency they subscribe in."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from portal_tui.sandbox import Sandbox
from tests.conftest import TEST_KEY


@pytest.fixture
def sc(sandbox: Sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(TEST_KEY, base_addresses={"api": sandbox.url}, max_network_retries=0)


def raw(sc: stripe.StripeClient, method: str, path: str, **params: Any) -> dict[str, Any]:
    """The answer's JSON exactly as sent (no SDK objects in between)."""
    return dict(json.loads(sc.raw_request(method, path, **params).body))


def refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    return caught.value


MONTHLY = {"interval": "month"}
GRADUATED_USD = [{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400, "flat_amount": 100}]
GRADUATED_EUR = [{"up_to": 10, "unit_amount": 450}, {"up_to": "inf", "unit_amount": 350, "flat_amount": 90}]
GRADUATED_JPY = [{"up_to": 10, "unit_amount": 700}, {"up_to": "inf", "unit_amount": 600}]


@pytest.fixture
def product(sc: stripe.StripeClient) -> str:
    return sc.v1.products.create(params={"name": "Pro VPS"}).id


def flat_price(sc: stripe.StripeClient, product: str, **extra: Any) -> dict[str, Any]:
    params = {
        "product": product,
        "currency": "usd",
        "unit_amount": 2000,
        "recurring": MONTHLY,
        "currency_options": {"eur": {"unit_amount": 1800, "tax_behavior": "exclusive"}, "jpy": {"unit_amount": 3000}},
        **extra,
    }
    return raw(sc, "post", "/v1/prices", **params)


def graduated_price(sc: stripe.StripeClient, product: str, **extra: Any) -> dict[str, Any]:
    params = {
        "product": product,
        "currency": "usd",
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "recurring": MONTHLY,
        "tiers": GRADUATED_USD,
        "currency_options": {"eur": {"tiers": GRADUATED_EUR}, "jpy": {"tiers": GRADUATED_JPY}},
        **extra,
    }
    return raw(sc, "post", "/v1/prices", **params)


def customer(sc: stripe.StripeClient) -> str:
    return sc.v1.customers.create(
        params={"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}}
    ).id


def subscribe(sc: stripe.StripeClient, customer_id: str, price_id: str, **extra: Any) -> dict[str, Any]:
    return raw(sc, "post", "/v1/subscriptions", customer=customer_id, items=[{"price": price_id}], **extra)


# ---- accepted and returned ----------------------------------------------------------------------------------------


def test_currency_options_come_back_only_when_expanded_with_the_default_currency_among_them(
    sc: stripe.StripeClient, product: str
) -> None:
    created = flat_price(sc, product)
    assert "currency_options" not in created
    assert "currency_options" not in raw(sc, "get", f"/v1/prices/{created['id']}")
    options = raw(sc, "get", f"/v1/prices/{created['id']}", expand=["currency_options"])["currency_options"]
    assert {code: option["unit_amount"] for code, option in options.items()} == {"usd": 2000, "eur": 1800, "jpy": 3000}
    assert options["eur"]["unit_amount_decimal"] == "1800"
    assert (options["eur"]["tax_behavior"], options["jpy"]["tax_behavior"]) == ("exclusive", "unspecified")
    listed = raw(sc, "get", "/v1/prices", expand=["data.currency_options"])["data"]
    assert listed[0]["currency_options"] == options
    assert "currency_options" not in raw(sc, "get", "/v1/prices")["data"][0]
    # a list expands inside `data.` only, as on Stripe
    error = refused(lambda: sc.v1.prices.list(params={"expand": ["currency_options"]}))
    assert "data.currency_options" in error.user_message


def test_a_tiered_price_keeps_each_currency_s_tiers_returned_only_when_expanded_by_currency(
    sc: stripe.StripeClient, product: str
) -> None:
    created = graduated_price(sc, product, expand=["currency_options"])
    assert set(created["currency_options"]) == {"usd", "eur", "jpy"}
    assert all("tiers" not in option for option in created["currency_options"].values())
    price = raw(sc, "get", f"/v1/prices/{created['id']}", expand=["currency_options.eur.tiers"])
    eur = price["currency_options"]["eur"]["tiers"]
    assert [(t["up_to"], t["unit_amount"], t["flat_amount"]) for t in eur] == [(10, 450, None), (None, 350, 90)]
    assert "tiers" not in price["currency_options"]["jpy"] and eur[1]["flat_amount_decimal"] == "90"
    listed = raw(sc, "get", "/v1/prices", expand=["data.currency_options.jpy.tiers"])["data"][0]
    assert [t["unit_amount"] for t in listed["currency_options"]["jpy"]["tiers"]] == [700, 600]
    assert refused(lambda: sc.v1.prices.retrieve(created["id"], params={"expand": ["currency_options.eur.flat"]}))


@pytest.mark.parametrize(
    ("options", "param", "words"),
    [
        ({"xyz": {"unit_amount": 100}}, "currency_options[xyz]", "Invalid currency: xyz"),
        ({"usd": {"unit_amount": 100}}, "currency_options[usd]", "own currency"),
        ({"eur": {"tax_behavior": "exclusive"}}, "currency_options[eur][unit_amount]", "unit_amount"),
        (
            {"eur": {"unit_amount": 5, "unit_amount_decimal": "5"}},
            "currency_options[eur][unit_amount]",
            "only specify one",
        ),
        ({"bhd": {"unit_amount": 1235}}, "currency_options[bhd][unit_amount]", "multiple of 10"),
        ({"eur": {"unit_amount": -1}}, "currency_options[eur][unit_amount]", "non-negative"),
        ({"eur": {"tiers": [{"up_to": "inf", "unit_amount": 5}]}}, "currency_options[eur][tiers]", "tiered"),
        ({"eur": {"unit_amount": 100, "tax_behavior": "sometimes"}}, "currency_options[eur][tax_behavior]", "one of"),
    ],
)
def test_a_flat_price_s_bad_currency_options_are_refused_at_the_field(
    sc: stripe.StripeClient, product: str, options: dict[str, Any], param: str, words: str
) -> None:
    error = refused(
        lambda: sc.v1.prices.create(
            params={"product": product, "currency": "usd", "unit_amount": 100, "currency_options": options}
        )
    )
    assert error.param == param and words in error.user_message
    assert sc.v1.prices.list().data == []  # nothing half-made


@pytest.mark.parametrize(
    ("eur", "param", "words"),
    [
        ({"unit_amount": 450}, "currency_options[eur][unit_amount]", "set its `tiers`"),
        ({"tax_behavior": "inclusive"}, "currency_options[eur][tiers]", "needs its own `tiers`"),
        ({"tiers": [{"up_to": "inf", "unit_amount": 350}]}, "currency_options[eur][tiers]", "2 tiers, not 1"),
        (
            {"tiers": [{"up_to": 20, "unit_amount": 450}, {"up_to": "inf", "unit_amount": 350}]},
            "currency_options[eur][tiers][0][up_to]",
            "must be up to 10",
        ),
        (
            {"tiers": [{"up_to": 10, "unit_amount": 450}, {"up_to": "inf"}]},
            "currency_options[eur][tiers][1]",
            "Each tier must have",
        ),
    ],
)
def test_a_tiered_price_s_currencies_need_tiers_on_the_same_bounds(
    sc: stripe.StripeClient, product: str, eur: dict[str, Any], param: str, words: str
) -> None:
    error = refused(lambda: graduated_price(sc, product, currency_options={"eur": eur}))
    assert error.param == param and words in error.user_message


def test_an_update_adds_a_currency_keeps_the_others_and_an_empty_value_removes_them(
    sc: stripe.StripeClient, product: str
) -> None:
    price = flat_price(sc, product)
    updated = raw(
        sc,
        "post",
        f"/v1/prices/{price['id']}",
        currency_options={"gbp": {"unit_amount": 1600}},
        expand=["currency_options"],
    )
    assert sorted(updated["currency_options"]) == ["eur", "gbp", "jpy", "usd"]
    assert updated["unit_amount"] == 2000  # the default currency's amount stays
    error = refused(
        lambda: sc.v1.prices.update(
            price["id"], params={"currency_options": {"eur": {"unit_amount": 1800, "tax_behavior": "inclusive"}}}
        )
    )
    assert error.param == "currency_options[eur][tax_behavior]" and "cannot be changed" in error.user_message
    error = refused(lambda: sc.v1.prices.update(price["id"], params={"currency_options": {"usd": {"unit_amount": 1}}}))
    assert error.param == "currency_options[usd]"
    cleared = raw(sc, "post", f"/v1/prices/{price['id']}", currency_options="", expand=["currency_options"])
    assert list(cleared["currency_options"]) == ["usd"]


# ---- a customer billed in their currency --------------------------------------------------------------------------


def test_a_subscription_in_eur_bills_the_eur_tiers_on_the_invoice_its_lines_preview_and_payment(
    sc: stripe.StripeClient, product: str
) -> None:
    price = graduated_price(sc, product)
    buyer = customer(sc)
    assert raw(sc, "get", f"/v1/customers/{buyer}")["currency"] is None
    sub = raw(
        sc,
        "post",
        "/v1/subscriptions",
        customer=buyer,
        items=[{"price": price["id"], "quantity": 12}],
        currency="eur",
        expand=["latest_invoice"],
    )
    # graduated in EUR: 10 × €4.50, then 2 × €3.50 plus the second tier's €0.90 flat fee
    expected = 10 * 450 + 2 * 350 + 90
    invoice = sub["latest_invoice"]
    assert (sub["currency"], invoice["currency"], invoice["amount_due"], invoice["amount_paid"]) == (
        "eur",
        "eur",
        expected,
        expected,
    )
    assert [(line["currency"], line["amount"]) for line in invoice["lines"]["data"]] == [("eur", expected)]
    payment = raw(sc, "get", "/v1/invoice_payments", invoice=invoice["id"], expand=["data.payment.payment_intent"])
    intent = payment["data"][0]["payment"]["payment_intent"]
    assert (intent["currency"], intent["amount"], intent["status"]) == ("eur", expected, "succeeded")
    preview = raw(sc, "post", "/v1/invoices/create_preview", subscription=sub["id"])
    assert (preview["currency"], preview["amount_due"]) == ("eur", expected)
    assert raw(sc, "get", f"/v1/customers/{buyer}")["currency"] == "eur"


def test_a_flat_price_in_jpy_bills_the_jpy_amount(sc: stripe.StripeClient, product: str) -> None:
    price = flat_price(sc, product)
    sub = subscribe(sc, customer(sc), price["id"], currency="jpy", expand=["latest_invoice"])
    line = sub["latest_invoice"]["lines"]["data"][0]
    assert (line["currency"], line["amount"], line["pricing"]["unit_amount_decimal"]) == ("jpy", 3000, "3000")


def test_usage_is_billed_in_the_customer_s_currency(sc: stripe.StripeClient) -> None:
    meter = sc.v1.billing.meters.create(
        params={"display_name": "API calls", "event_name": "api_call", "default_aggregation": {"formula": "sum"}}
    )
    price = raw(
        sc,
        "post",
        "/v1/prices",
        product_data={"name": "API"},
        currency="usd",
        unit_amount_decimal="0.5",
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
        currency_options={"jpy": {"unit_amount": 1}, "eur": {"unit_amount_decimal": "0.4"}},
    )
    buyer = customer(sc)
    sub = subscribe(sc, buyer, price["id"], currency="jpy")
    sc.v1.billing.meter_events.create(
        params={"event_name": "api_call", "payload": {"stripe_customer_id": buyer, "value": "1234"}}
    )
    preview = raw(sc, "post", "/v1/invoices/create_preview", subscription=sub["id"])
    assert (preview["currency"], preview["lines"]["data"][0]["amount"]) == ("jpy", 1234)


def test_the_customer_s_currency_is_kept_and_another_is_refused_while_a_subscription_runs(
    sc: stripe.StripeClient, product: str
) -> None:
    price = flat_price(sc, product)
    buyer = customer(sc)
    first = subscribe(sc, buyer, price["id"], currency="eur")
    # no currency asked: the customer's own, since the price offers it
    assert subscribe(sc, buyer, price["id"])["currency"] == "eur"
    error = refused(lambda: subscribe(sc, buyer, price["id"], currency="jpy"))
    assert error.param == "currency"
    assert "You cannot combine currencies on a single customer" in error.user_message and "eur" in error.user_message
    for sub in sc.v1.subscriptions.list(params={"customer": buyer}).data:
        sc.v1.subscriptions.cancel(sub.id)
    assert first["status"] == "active"
    # with nothing running, a subscription in another currency moves the customer to it (Stripe's rule)
    assert subscribe(sc, buyer, price["id"], currency="jpy")["currency"] == "jpy"
    assert raw(sc, "get", f"/v1/customers/{buyer}")["currency"] == "jpy"


def test_a_currency_the_price_does_not_offer_is_refused_at_the_item(sc: stripe.StripeClient, product: str) -> None:
    price = flat_price(sc, product)
    error = refused(lambda: subscribe(sc, customer(sc), price["id"], currency="gbp"))
    assert error.param == "items[0][price]" and "not available in gbp" in error.user_message
    error = refused(lambda: subscribe(sc, customer(sc), price["id"], currency="abc"))
    assert error.param == "currency" and "Invalid currency" in error.user_message


def test_the_minimum_charge_is_the_invoice_currency_s(sc: stripe.StripeClient, product: str) -> None:
    """40 minor units: below Stripe's €0.50 minimum (carried to the balance, no payment) but above £0.30."""
    price = raw(
        sc,
        "post",
        "/v1/prices",
        product=product,
        currency="usd",
        unit_amount=1000,
        recurring=MONTHLY,
        currency_options={"eur": {"unit_amount": 40}, "gbp": {"unit_amount": 40}},
    )
    in_eur, in_gbp = customer(sc), customer(sc)
    eur_invoice = subscribe(sc, in_eur, price["id"], currency="eur", expand=["latest_invoice"])["latest_invoice"]
    gbp_invoice = subscribe(sc, in_gbp, price["id"], currency="gbp", expand=["latest_invoice"])["latest_invoice"]
    assert (eur_invoice["status"], eur_invoice["amount_paid"]) == ("paid", 0)
    assert raw(sc, "get", f"/v1/customers/{in_eur}")["balance"] == 40
    assert raw(sc, "get", "/v1/invoice_payments", invoice=eur_invoice["id"])["data"] == []
    assert (gbp_invoice["status"], gbp_invoice["amount_paid"], gbp_invoice["currency"]) == ("paid", 40, "gbp")
