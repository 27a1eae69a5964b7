"""The Stripe gateway against the sandbox over HTTP: verification, catalog streaming, errors, idempotency."""

from __future__ import annotations

import socket
import subprocess
import sys
import traceback
from decimal import Decimal

import pytest

from portal_tui.domain.pricing import PriceDraft, PricingModel, Tier
from portal_tui.sandbox import Sandbox
from portal_tui.services.errors import (
    IdempotencyConflictError,
    InvalidKeyError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    StripeUnreachableError,
)
from portal_tui.services.gateway import StripeGateway, new_idempotency_key
from portal_tui.services.keystore import parse_key
from tests.conftest import TEST_KEY


def gateway(sandbox: Sandbox, key: str = TEST_KEY, **kwargs: object) -> StripeGateway:
    return StripeGateway(parse_key(key), api_base=sandbox.url, retry_delay=0.01, **kwargs)  # type: ignore[arg-type]


def test_verify_reports_the_account(sandbox: Sandbox) -> None:
    account = gateway(sandbox).verify()
    assert account.id.startswith("acct_") and account.display_name == "Sandbox Hosting Ltd"
    assert account.country == "GB" and account.livemode is False and not account.restricted


def test_restricted_key_falls_back_to_balance(sandbox: Sandbox) -> None:
    account = gateway(sandbox, "rk_test_restricted" + "0" * 30).verify()
    assert account.restricted and account.livemode is False
    assert [r.path for r in sandbox.requests] == ["/v1/account", "/v1/balance"]


@pytest.mark.parametrize("key", ["sk_test_revoked" + "1" * 30, "sk_live_revoked" + "1" * 30])
def test_refused_keys(sandbox: Sandbox, key: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        gateway(sandbox, key).verify()
    text = "".join(traceback.format_exception(caught.value)) + repr(caught.value) + str(caught.value.hint)
    assert key not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_catalog_of_ten_thousand_prices_costs_one_hundred_requests(sandbox: Sandbox) -> None:
    sandbox.bulk_prices(10_000)
    g = gateway(sandbox)
    sizes = [len(page) for page in g.iter_catalog_pages()]
    assert sizes == [100] * 100
    assert g.request_count == 100
    assert len([r for r in sandbox.requests if r.path.startswith("/v1/prices")]) == 100
    assert all(r.params["expand"] == ["data.product", "data.tiers", "data.currency_options"] for r in sandbox.requests)


def test_catalog_pages_arrive_one_at_a_time(seeded_sandbox: Sandbox) -> None:
    g = gateway(seeded_sandbox)
    pages = g.iter_catalog_pages(include_archived=True)
    first = next(pages)
    # one page, and one more read for the tiered multi-currency price's tiers per currency
    assert g.request_count == 2 and len(first) == 14
    assert isinstance(first[0]["product"], dict)
    tiered = [p for p in first if p["billing_scheme"] == "tiered"]
    assert tiered and all(p["tiers"] for p in tiered)
    active_only = [p for page in g.iter_catalog_pages() for p in page]
    assert len(active_only) == 13


def test_create_with_idempotency_survives_a_lost_response(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    key = new_idempotency_key("create")
    product = g.create_product("Pro VPS", "4 vCPU", idempotency_key=f"{key}-product")
    sandbox.faults.add(method="POST", path="/v1/prices", kind="drop", when="after")
    draft = PriceDraft(unit_amount=Decimal(2000))
    price = g.create_price(draft.to_stripe_params(product["id"]), idempotency_key=f"{key}-price")
    assert price["unit_amount"] == 2000 and price["product"]["id"] == product["id"]
    assert sandbox.count("POST", "/v1/prices") == 2
    assert len(sandbox.test_world.objects["price"]) == 1
    # the same action retried again replays instead of creating another
    again = g.create_price(draft.to_stripe_params(product["id"]), idempotency_key=f"{key}-price")
    assert again["id"] == price["id"] and len(sandbox.test_world.objects["price"]) == 1


def test_server_errors_and_rate_limits_are_retried_then_reported(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    sandbox.faults.add(path="/v1/products", kind="500", times=1)
    assert g.list_products() == []
    sandbox.faults.add(path="/v1/products", kind="429", times=5)
    with pytest.raises(RateLimitedError):
        g.list_products()
    assert sandbox.faults.faults[-1].times == 1  # one call and three retries, then the error
    sandbox.faults.clear()
    sandbox.faults.add(path="/v1/products", kind="500", times=5)
    with pytest.raises(StripeUnreachableError, match="internal error"):
        g.list_products()


def test_unreachable_stripe_never_shows_the_key() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    g = StripeGateway(parse_key(TEST_KEY), api_base=f"http://127.0.0.1:{port}", max_retries=1, retry_delay=0.01)
    with pytest.raises(StripeUnreachableError) as caught:
        g.verify()
    text = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert TEST_KEY not in text and f"127.0.0.1:{port}" in caught.value.message
    assert g.request_count == 2


def test_invalid_requests_name_the_parameter(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    product = g.create_product("P", None, idempotency_key="p1")
    bad = {
        "currency": "usd",
        "product": product["id"],
        "billing_scheme": "tiered",
        "tiers_mode": "volume",
        "recurring": {"interval": "month"},
        "tiers": [{"up_to": 5, "unit_amount": 1}],
    }
    with pytest.raises(InvalidRequestError) as caught:
        g.create_price(bad, idempotency_key="p2")
    assert caught.value.param == "tiers[0][up_to]"
    with pytest.raises(NotFoundError):
        g.retrieve_price("price_missing")


def test_every_model_round_trips_through_stripe(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    product = g.create_product("All models", None, idempotency_key="p")
    meter = g.create_meter("API", "api", "sum", idempotency_key="m")
    drafts = [
        PriceDraft(unit_amount=Decimal(2000), lookup_key="flat"),
        PriceDraft(model=PricingModel.VOLUME, tiers=[Tier(10, Decimal(500)), Tier(None, Decimal(400))]),
        PriceDraft(model=PricingModel.GRADUATED, tiers=[Tier(10, Decimal(0), 1000), Tier(None, Decimal(400))]),
        PriceDraft(model=PricingModel.USAGE_PER_UNIT, unit_amount=Decimal("0.04"), meter_id=meter["id"]),
        PriceDraft(model=PricingModel.USAGE_PACKAGE, unit_amount=Decimal(10), package_size=60, meter_id=meter["id"]),
        PriceDraft(
            model=PricingModel.USAGE_PER_TIER,
            tiers_mode="graduated",
            meter_id=meter["id"],
            tiers=[Tier(1000, Decimal(0)), Tier(None, Decimal("1.5"))],
        ),
        PriceDraft(unit_amount=Decimal(4900), recurring=False),
    ]
    for index, draft in enumerate(drafts):
        assert draft.validate() == []
        created = g.create_price(draft.to_stripe_params(product["id"]), idempotency_key=f"price-{index}")
        back = PriceDraft.from_stripe(g.retrieve_price(created["id"]))
        assert back.model is draft.model and back.summary() == draft.summary()


def test_permission_errors_name_the_permission(sandbox: Sandbox) -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        gateway(sandbox, "rk_test_restricted" + "0" * 30)._call(
            lambda: gateway(sandbox, "rk_test_restricted" + "0" * 30).client.v1.accounts.retrieve_current()
        )
    assert caught.value.permission == "rak_accounts_kyc_basic_read"


def test_rate_limits_are_retried_with_jittered_exponential_backoff(sandbox: Sandbox) -> None:
    delays: list[float] = []
    g = gateway(sandbox, rate_limit_retries=3, sleep=delays.append)
    g.retry_delay = 1.0
    # Stripe's rate-limit 429 carries no Stripe-Should-Retry header: the SDK gives up at once, the gateway retries
    sandbox.faults.add(path="/v1/products", kind="429", times=2)
    assert g.list_products() == []
    assert g.request_count == 3 and len(delays) == 2
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    sandbox.faults.add(path="/v1/products", kind="429", times=10)
    with pytest.raises(RateLimitedError) as caught:
        g.list_products()
    assert g.request_count == 3 + 4 and len(delays) == 2 + 3 and 2.0 <= delays[-1] <= 4.0
    assert "retries" in caught.value.message


def test_lock_timeouts_are_retried_by_the_sdk(sandbox: Sandbox) -> None:
    delays: list[float] = []
    g = gateway(sandbox, sleep=delays.append)
    sandbox.faults.add(path="/v1/products", kind="lock_timeout", times=2)
    assert g.list_products() == []
    assert g.request_count == 3 and delays == []  # the SDK's own retries, on Stripe-Should-Retry: true


def test_find_by_lookup_key_ignores_archived_prices(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    product = g.create_product("P", None, idempotency_key="p")
    params = {**PriceDraft(unit_amount=Decimal(500), lookup_key="pro").to_stripe_params(product["id"])}
    price = g.create_price(params, idempotency_key="price")
    found = g.find_price_by_lookup_key("pro")
    assert found is not None and found["id"] == price["id"]
    g.update_price(price["id"], {"active": False})
    assert g.find_price_by_lookup_key("pro") is None
    holder = g.find_lookup_key_holder("pro")  # the key stays on the archived price: a new price must transfer it
    assert holder is not None and holder["id"] == price["id"] and holder["active"] is False


def test_update_product_sets_the_default_price(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    product = g.create_product("P", None, idempotency_key="p2")
    price = g.create_price(
        {**PriceDraft(unit_amount=Decimal(500)).to_stripe_params(product["id"])}, idempotency_key="price2"
    )
    updated = g.update_product(product["id"], {"default_price": price["id"]}, idempotency_key="default")
    assert updated["default_price"] == price["id"]


def test_importing_the_gateway_does_not_import_stripe() -> None:
    code = "import sys, portal_tui.services.gateway; print('stripe' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "False"


def test_a_changed_retry_under_the_same_key_gets_its_own_message(sandbox: Sandbox) -> None:
    g = gateway(sandbox)
    g.create_product("Pro", None, idempotency_key="action-1")
    with pytest.raises(IdempotencyConflictError) as caught:
        g.create_product("Pro plus", None, idempotency_key="action-1")
    assert "action-1" not in caught.value.message and "Nothing new was created" in caught.value.message
    assert len(sandbox.test_world.objects["product"]) == 1


def test_invoice_payments_come_with_their_payment_intent(seeded_sandbox: Sandbox) -> None:
    g = gateway(seeded_sandbox)
    clock = g.create_test_clock(1_767_225_600, name="gateway payments", idempotency_key="clock-1")
    assert [c["name"] for c in g.list_test_clocks()] == ["gateway payments"]
    customer = g.create_customer(
        name="T", email="t@example.com", payment_method="pm_card_chargeCustomerFail", test_clock=clock["id"]
    )
    price = next(p for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"] == "pro_monthly")
    sub = g.create_subscription(customer["id"], price["id"], 1)
    assert sub["status"] == "incomplete" and isinstance(sub["latest_invoice"], dict)
    payments = g.list_invoice_payments(sub["latest_invoice"]["id"])
    intent = payments[0]["payment"]["payment_intent"]
    assert isinstance(intent, dict) and intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "card_declined"
    assert g.retrieve_subscription(sub["id"])["status"] == "incomplete"
    g.delete_test_clock(clock["id"])
    assert g.list_test_clocks() == []
    with pytest.raises(NotFoundError):
        g.retrieve_subscription(sub["id"])  # the clock took its customer and subscription with it


def test_a_decline_card_fails_when_attached_to_the_customer(seeded_sandbox: Sandbox) -> None:
    from portal_tui.services.errors import CardError

    g = gateway(seeded_sandbox)
    with pytest.raises(CardError) as caught:
        g.create_customer(name="T", email="t@example.com", payment_method="pm_card_chargeDeclined", test_clock=None)
    assert caught.value.decline_code == "generic_decline"
    assert seeded_sandbox.test_world.objects["customer"] == {}


def test_a_retrieved_price_has_the_same_json_shape_as_a_catalog_page(seeded_sandbox: Sandbox) -> None:
    """Decimal amounts stay strings as Stripe sends them, whichever call read the price."""
    g = gateway(seeded_sandbox)
    listed = {p["id"]: p for page in g.iter_catalog_pages() for p in page}
    api_calls = next(p for p in listed.values() if p["lookup_key"] == "api_calls")
    retrieved = g.retrieve_price(api_calls["id"])
    assert retrieved["unit_amount_decimal"] == "0.04"
    assert all(g.retrieve_price(price_id) == price for price_id, price in listed.items())


def test_multi_currency_prices_arrive_with_every_currency_and_a_tiered_one_with_its_tiers_per_currency(
    sandbox: Sandbox,
) -> None:
    g = gateway(sandbox)
    product = g.create_product("Pro VPS", None, idempotency_key=new_idempotency_key("product"))["id"]
    flat = g.create_price(
        {
            "product": product,
            "currency": "usd",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
            "currency_options": {"eur": {"unit_amount": 1800}, "jpy": {"unit_amount": 3000}},
        },
        idempotency_key=new_idempotency_key("flat"),
    )
    tiered = g.create_price(
        {
            "product": product,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "recurring": {"interval": "month"},
            "tiers": [{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400}],
            "currency_options": {
                "eur": {"tiers": [{"up_to": 10, "unit_amount": 450}, {"up_to": "inf", "unit_amount": 350}]}
            },
        },
        idempotency_key=new_idempotency_key("tiered"),
    )
    single = g.create_price(
        {"product": product, "currency": "usd", "unit_amount": 900, "recurring": {"interval": "month"}},
        idempotency_key=new_idempotency_key("single"),
    )
    before = g.request_count
    listed = {p["id"]: p for page in g.iter_catalog_pages() for p in page}
    # one list request, plus one retrieve for the tiered multi-currency price only (its tiers per currency)
    assert g.request_count - before == 2
    assert sorted(listed[flat["id"]]["currency_options"]) == ["eur", "jpy", "usd"]
    assert listed[flat["id"]]["currency_options"]["jpy"]["unit_amount"] == 3000
    assert list(listed[single["id"]]["currency_options"]) == ["usd"]
    eur_tiers = listed[tiered["id"]]["currency_options"]["eur"]["tiers"]
    assert [tier["unit_amount"] for tier in eur_tiers] == [450, 350]
    assert isinstance(listed[tiered["id"]]["product"], dict) and listed[tiered["id"]]["tiers"]
    retrieved = g.retrieve_price(tiered["id"])
    assert retrieved == listed[tiered["id"]]
    last = sandbox.requests[-1].params["expand"]
    assert "currency_options.eur.tiers" in last and "currency_options.usd.tiers" in last
    assert g.retrieve_price(flat["id"])["currency_options"] == listed[flat["id"]]["currency_options"]
