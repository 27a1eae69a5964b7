"""One sandbox, both modes, through the real `stripe` client over HTTP: separate worlds, the live account's
readiness, webhook endpoints, country specs, restricted-key permissions and the write counter."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from portal_tui.domain.money import CURRENCIES
from portal_tui.sandbox import DEMO_KEY, DEMO_LIVE_KEY, Sandbox
from tests.conftest import LIVE_KEY, TEST_KEY

NO_WEBHOOKS_KEY = "rk_live_nowebhooks" + "0" * 30
RESTRICTED_LIVE_KEY = "rk_live_restricted" + "0" * 30
HOOK = "https://hosting.example/stripe/webhooks"


def client(sandbox: Sandbox, key: str = LIVE_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": sandbox.url}, max_network_retries=0)


@pytest.fixture
def live(sandbox: Sandbox) -> stripe.StripeClient:
    return client(sandbox, LIVE_KEY)


@pytest.fixture
def test(sandbox: Sandbox) -> stripe.StripeClient:
    return client(sandbox, TEST_KEY)


def refused(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call()
    return caught.value


def endpoint(sc: stripe.StripeClient, **extra: Any) -> dict[str, Any]:
    params: Any = {"url": HOOK, "enabled_events": ["invoice.paid"], **extra}
    return sc.v1.webhook_endpoints.create(params=params).to_dict()


# ---- two worlds ----------------------------------------------------------------------------------------------


def test_test_and_live_keys_open_separate_worlds(
    sandbox: Sandbox, live: stripe.StripeClient, test: stripe.StripeClient
) -> None:
    live_product = live.v1.products.create(params={"name": "Pro VPS"})
    test_product = test.v1.products.create(params={"name": "Pro VPS"})
    assert live_product.livemode is True and test_product.livemode is False
    assert live_product.id != test_product.id
    live_price = live.v1.prices.create(params={"product": live_product.id, "currency": "usd", "unit_amount": 2000})
    assert live_price.livemode is True
    assert [p.id for p in live.v1.products.list().data] == [live_product.id]
    assert [p.id for p in test.v1.products.list().data] == [test_product.id]
    assert test.v1.prices.list().data == []
    # Asking one mode for the other's object: 404, worded like Stripe's cross-mode miss.
    error = refused(lambda: test.v1.prices.retrieve(live_price.id))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 404
    assert "a similar object exists in live mode, but a test mode key was used" in str(error.user_message)
    error = refused(lambda: live.v1.products.retrieve(test_product.id))
    assert "a similar object exists in test mode, but a live mode key was used" in str(error.user_message)
    # A price in one mode cannot use the other mode's product.
    error = refused(
        lambda: test.v1.prices.create(params={"product": live_product.id, "currency": "usd", "unit_amount": 1})
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "product"
    assert set(sandbox.live_world.objects["product"]) == {live_product.id}


def test_the_same_idempotency_key_is_separate_per_mode(live: stripe.StripeClient, test: stripe.StripeClient) -> None:
    options: Any = {"idempotency_key": "create-pro"}
    first = live.v1.products.create(params={"name": "Pro"}, options=options)
    other = test.v1.products.create(params={"name": "Pro"}, options=options)
    again = live.v1.products.create(params={"name": "Pro"}, options=options)
    assert first.id == again.id and other.id != first.id and other.livemode is False


def test_seeding_fills_the_live_world_only_when_asked() -> None:
    with Sandbox(seed=True) as plain, Sandbox(seed=True, live=True) as both:
        assert client(plain).v1.prices.list().data == []
        assert len(client(plain, TEST_KEY).v1.prices.list(params={"limit": 100}).data) == 14
        live_prices = client(both).v1.prices.list(params={"limit": 100}).data
        assert len(live_prices) == 14 and all(p.livemode for p in live_prices)
        test_ids = {p.id for p in client(both, TEST_KEY).v1.prices.list(params={"limit": 100}).data}
        assert test_ids.isdisjoint(p.id for p in live_prices)


def test_demo_keys_open_both_modes(sandbox: Sandbox) -> None:
    assert DEMO_LIVE_KEY.startswith("sk_live_") and DEMO_KEY.startswith("sk_test_")
    assert client(sandbox, DEMO_LIVE_KEY).v1.balance.retrieve().livemode is True
    assert client(sandbox, DEMO_KEY).v1.balance.retrieve().livemode is False


def test_test_helpers_are_refused_in_live_mode(sandbox: Sandbox, live: stripe.StripeClient) -> None:
    error = refused(lambda: live.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600}))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 400
    assert error.code == "livemode_mismatch" and "test mode" in str(error.user_message)
    assert isinstance(refused(lambda: live.v1.test_helpers.test_clocks.list()), stripe.InvalidRequestError)
    assert sandbox.live_world.objects["test_helpers.test_clock"] == {}
    assert sandbox.test_world.objects["test_helpers.test_clock"] == {}


@pytest.mark.parametrize("card", ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_authenticationRequired"])
def test_magic_test_cards_are_declined_in_live_mode(sandbox: Sandbox, live: stripe.StripeClient, card: str) -> None:
    error = refused(lambda: live.v1.customers.create(params={"name": "Ada", "payment_method": card}))
    assert isinstance(error, stripe.CardError) and error.http_status == 402 and error.code == "card_declined"
    assert error.user_message == "Your card was declined. Your request was in live mode, but used a known test card."
    assert error.error is not None and error.error.decline_code == "live_mode_test_card"
    assert sandbox.live_world.objects["customer"] == {} and sandbox.live_world.objects["payment_method"] == {}
    # The same card attaches in test mode (or fails there for its own test reason, not the live-mode one).
    try:
        client(sandbox, TEST_KEY).v1.customers.create(params={"name": "Ada", "payment_method": card})
    except stripe.CardError as test_error:
        assert test_error.error is not None and test_error.error.decline_code != "live_mode_test_card"


# ---- the account ---------------------------------------------------------------------------------------------


def test_account_shape_follows_the_sdk(live: stripe.StripeClient, test: stripe.StripeClient) -> None:
    account = live.v1.accounts.retrieve_current().to_dict()
    known = set(stripe.Account.__annotations__)
    assert set(account) <= known, set(account) - known
    for name in ("id", "object", "business_profile", "settings", "country", "default_currency", "email",
                 "charges_enabled", "payouts_enabled", "details_submitted", "capabilities", "type", "created",
                 "metadata"):  # fmt: skip
        assert name in account, name
    assert set(account["settings"]) <= set(stripe.Account.Settings.__annotations__)
    assert set(account["settings"]["payments"]) <= set(stripe.Account.Settings.Payments.__annotations__)
    assert set(account["settings"]["card_payments"]) <= set(stripe.Account.Settings.CardPayments.__annotations__)
    assert set(account["business_profile"]) <= set(stripe.Account.BusinessProfile.__annotations__)
    assert set(account["requirements"]) <= set(stripe.Account.Requirements.__annotations__)
    assert account["object"] == "account" and account["id"].startswith("acct_")
    assert account["settings"]["dashboard"]["display_name"] == "Sandbox Hosting Ltd"
    assert account["country"] == "GB" and account["default_currency"] == "gbp"
    # One account, two modes: the same id and settings whichever key reads it.
    assert test.v1.accounts.retrieve_current().to_dict() == account


def test_the_default_live_account_can_charge_but_has_no_statement_descriptor(live: stripe.StripeClient) -> None:
    account = live.v1.accounts.retrieve_current().to_dict()
    assert account["charges_enabled"] and account["payouts_enabled"] and account["details_submitted"]
    assert account["capabilities"]["card_payments"] == "active"
    assert account["requirements"]["currently_due"] == [] and account["requirements"]["disabled_reason"] is None
    assert account["settings"]["payments"]["statement_descriptor"] is None
    assert account["settings"]["card_payments"]["statement_descriptor_prefix"] is None
    assert live.v1.webhook_endpoints.list().data == []


def test_readiness_settings_change_what_the_account_reports(sandbox: Sandbox, live: stripe.StripeClient) -> None:
    settings = sandbox.live_account
    assert settings is sandbox.account and sandbox.account_settings(live=False) is settings
    settings.charges_enabled = False
    settings.details_submitted = False
    settings.payouts_enabled = False
    account = live.v1.accounts.retrieve_current().to_dict()
    assert not account["charges_enabled"] and not account["details_submitted"] and not account["payouts_enabled"]
    assert account["capabilities"]["card_payments"] == "inactive"
    assert account["requirements"]["disabled_reason"] == "requirements.past_due"
    assert "external_account" in account["requirements"]["currently_due"]
    assert account["requirements"]["past_due"] == account["requirements"]["currently_due"]
    assert account["tos_acceptance"]["date"] is None

    settings.statement_descriptor, settings.statement_descriptor_prefix = "HOSTING LTD", "HOSTING"
    settings.charges_enabled = True
    account = live.v1.accounts.retrieve_current().to_dict()
    assert account["charges_enabled"] and account["requirements"]["disabled_reason"] is None
    assert account["settings"]["payments"]["statement_descriptor"] == "HOSTING LTD"
    assert account["settings"]["card_payments"]["statement_descriptor_prefix"] == "HOSTING"


def test_make_live_ready_sets_everything_a_launch_check_reads(sandbox: Sandbox, live: stripe.StripeClient) -> None:
    sandbox.account.charges_enabled = False
    created = sandbox.make_live_ready()
    assert created is not None and created["secret"].startswith("whsec_")
    account = live.v1.accounts.retrieve_current().to_dict()
    assert account["charges_enabled"] and account["settings"]["payments"]["statement_descriptor"]
    [hook] = live.v1.webhook_endpoints.list().data
    assert hook.status == "enabled" and hook.livemode is True and "invoice.paid" in hook.enabled_events
    assert {"customer.subscription.created", "invoice.payment_failed"} <= set(hook.enabled_events)
    assert client(sandbox, TEST_KEY).v1.webhook_endpoints.list().data == []
    assert sandbox.writes() == 0  # set up directly, not through requests


# ---- webhook endpoints ---------------------------------------------------------------------------------------


def test_webhook_endpoint_lifecycle(live: stripe.StripeClient) -> None:
    created = endpoint(live, description="Billing events", metadata={"owner": "ops"})
    known = set(stripe.WebhookEndpoint.__annotations__)
    assert set(created) <= known, set(created) - known
    assert created["id"].startswith("we_") and created["object"] == "webhook_endpoint"
    assert created["livemode"] is True and created["status"] == "enabled" and created["url"] == HOOK
    assert created["enabled_events"] == ["invoice.paid"] and created["secret"].startswith("whsec_")
    assert created["description"] == "Billing events" and created["metadata"] == {"owner": "ops"}
    assert created["api_version"] is None and created["application"] is None

    fetched = live.v1.webhook_endpoints.retrieve(created["id"]).to_dict()
    assert "secret" not in fetched and fetched["url"] == HOOK  # the secret comes with the create answer only

    disabled = live.v1.webhook_endpoints.update(created["id"], params={"disabled": True})
    assert disabled.status == "disabled"
    events: Any = ["customer.subscription.updated", "invoice.payment_failed"]
    enabled = live.v1.webhook_endpoints.update(created["id"], params={"disabled": False, "enabled_events": events})
    assert enabled.status == "enabled" and enabled.enabled_events == events
    assert live.v1.webhook_endpoints.update(created["id"], params={"metadata": ""}).metadata.to_dict() == {}

    deleted = live.v1.webhook_endpoints.delete(created["id"])
    assert deleted.deleted is True and deleted.id == created["id"]
    error = refused(lambda: live.v1.webhook_endpoints.retrieve(created["id"]))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 404
    assert error.code == "resource_missing"


def test_webhook_endpoints_list_like_other_lists_and_per_mode(
    live: stripe.StripeClient, test: stripe.StripeClient
) -> None:
    ids = [endpoint(live)["id"] for _ in range(3)]
    test_hook = endpoint(test, url="http://hosting.example/hooks")  # plain http is fine in test mode
    first = live.v1.webhook_endpoints.list(params={"limit": 2})
    assert [e.id for e in first.data] == ids[::-1][:2] and first.has_more
    assert all("secret" not in e.to_dict() for e in first.data)
    rest = live.v1.webhook_endpoints.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert [e.id for e in rest.data] == [ids[0]] and not rest.has_more
    assert [e.id for e in test.v1.webhook_endpoints.list().data] == [test_hook["id"]]
    assert isinstance(refused(lambda: test.v1.webhook_endpoints.retrieve(ids[0])), stripe.InvalidRequestError)


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"enabled_events": ["invoice.paid"]}, "url", "Missing required param: url."),
        ({"url": HOOK}, "enabled_events", "Missing required param: enabled_events."),
        ({"url": "http://hosting.example/hooks", "enabled_events": ["*"]}, "url", 'must begin with "https://"'),
        ({"url": "hosting.example/hooks", "enabled_events": ["*"]}, "url", "Invalid URL"),
        ({"url": "https://localhost:8000/hooks", "enabled_events": ["*"]}, "url", "publicly accessible"),
        ({"url": "https://10.0.0.7/hooks", "enabled_events": ["*"]}, "url", "publicly accessible"),
        ({"url": HOOK, "enabled_events": ["invoice.paid", "invoice.teleported"]}, "enabled_events[1]", "must be one"),
        ({"url": HOOK, "enabled_events": ["*"], "secret": "whsec_x"}, "secret", "Received unknown parameter: secret"),
        ({"url": HOOK, "enabled_events": ["*"], "api_version": "1999-01-01"}, "api_version", "1999-01-01"),
        ({"url": HOOK, "enabled_events": ["*"], "connect": True}, "connect", "does not model"),
    ],
)
def test_webhook_endpoint_create_refusals(
    sandbox: Sandbox, live: stripe.StripeClient, params: dict[str, Any], param: str, message: str
) -> None:
    sent: Any = params
    error = refused(lambda: live.v1.webhook_endpoints.create(params=sent))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 400
    assert error.param == param and message in str(error.user_message)
    assert sandbox.live_world.objects["webhook_endpoint"] == {}


def test_webhook_endpoint_update_is_all_or_nothing(live: stripe.StripeClient) -> None:
    created = endpoint(live)
    bad: Any = {"disabled": True, "enabled_events": ["invoice.paid", "not.an.event"]}
    error = refused(lambda: live.v1.webhook_endpoints.update(created["id"], params=bad))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "enabled_events[1]"
    assert live.v1.webhook_endpoints.retrieve(created["id"]).status == "enabled"
    not_updatable: Any = {"api_version": "2020-08-27"}
    error = refused(lambda: live.v1.webhook_endpoints.update(created["id"], params=not_updatable))
    assert "Received unknown parameter: api_version" in str(error.user_message)


def test_an_account_holds_at_most_sixteen_endpoints_per_mode(
    sandbox: Sandbox, live: stripe.StripeClient, test: stripe.StripeClient
) -> None:
    for _ in range(16):
        endpoint(live)
    error = refused(lambda: endpoint(live))
    assert isinstance(error, stripe.InvalidRequestError) and "16" in str(error.user_message)
    assert len(sandbox.live_world.objects["webhook_endpoint"]) == 16
    assert endpoint(test)["livemode"] is False


# ---- country specs -------------------------------------------------------------------------------------------


def test_country_spec_lists_the_currencies_an_account_can_charge(sandbox: Sandbox, live: stripe.StripeClient) -> None:
    spec = live.v1.country_specs.retrieve("GB").to_dict()
    known = set(stripe.CountrySpec.__annotations__)
    assert set(spec) <= known, set(spec) - known
    assert spec["id"] == "GB" and spec["object"] == "country_spec" and spec["default_currency"] == "gbp"
    currencies = spec["supported_payment_currencies"]
    assert len(currencies) >= 135 and {"gbp", "usd", "eur", "jpy", "bhd"} <= set(currencies)
    assert set(currencies) <= set(CURRENCIES) and currencies == sorted(currencies)
    assert spec["supported_bank_account_currencies"]["gbp"] == ["GB"]

    sandbox.unsupported_currencies.add("jpy")
    again = live.v1.country_specs.retrieve("GB").supported_payment_currencies
    assert "jpy" not in again and len(again) == len(currencies) - 1
    assert live.v1.country_specs.retrieve("US").default_currency == "usd"

    error = refused(lambda: live.v1.country_specs.retrieve("XX"))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 404
    not_a_list: Any = {"limit": 3}
    error = refused(lambda: live.v1.country_specs.retrieve("GB", params=not_a_list))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "limit"


# ---- restricted keys -----------------------------------------------------------------------------------------


def test_a_key_without_webhook_permissions_gets_stripes_403(sandbox: Sandbox) -> None:
    restricted = client(sandbox, NO_WEBHOOKS_KEY)
    error = refused(lambda: restricted.v1.webhook_endpoints.list())
    assert isinstance(error, stripe.PermissionError) and error.http_status == 403
    message = str(error.user_message)
    assert "does not have the required permissions for this endpoint on account 'acct_" in message
    assert "Having the 'rak_webhook_read' permission would allow this request to continue." in message
    assert NO_WEBHOOKS_KEY not in message and "rk_live_" in message
    error = refused(lambda: endpoint(restricted))
    assert "'rak_webhook_write'" in str(error.user_message)
    assert sandbox.live_world.objects["webhook_endpoint"] == {}
    # Everything else the key may do.
    assert restricted.v1.accounts.retrieve_current().charges_enabled
    assert restricted.v1.products.list().data == []
    assert client(sandbox, "rk_test_nowebhooks" + "0" * 30).v1.balance.retrieve().livemode is False


def test_a_restricted_live_key_cannot_read_the_account(sandbox: Sandbox) -> None:
    restricted = client(sandbox, RESTRICTED_LIVE_KEY)
    error = refused(lambda: restricted.v1.accounts.retrieve_current())
    assert isinstance(error, stripe.PermissionError)
    assert "Having the 'rak_accounts_kyc_basic_read' permission" in str(error.user_message)
    assert restricted.v1.balance.retrieve().livemode is True
    assert restricted.v1.webhook_endpoints.list().data == []


# ---- recorded requests and the write counter -------------------------------------------------------------------


def test_writes_count_post_and_delete_requests_that_reached_a_world(
    sandbox: Sandbox, live: stripe.StripeClient, test: stripe.StripeClient
) -> None:
    assert sandbox.writes() == 0
    product = live.v1.products.create(params={"name": "Pro"})
    live.v1.products.update(product.id, params={"description": "Fast"})
    live.v1.products.list()
    hook = endpoint(live)
    live.v1.webhook_endpoints.delete(hook["id"])
    test.v1.products.create(params={"name": "Pro"})
    refused(lambda: live.v1.prices.create(params={"product": product.id, "currency": "usd"}))  # 400, still sent
    refused(lambda: client(sandbox, "sk_live_revoked" + "0" * 30).v1.products.create(params={"name": "X"}))
    assert sandbox.writes(live=True) == 5
    assert sandbox.writes(live=False) == 1
    assert sandbox.writes() == 6
    modes = [(r.method, r.path, r.livemode) for r in sandbox.requests]
    assert modes[0] == ("POST", "/v1/products", True)
    assert ("POST", "/v1/products", False) in modes
    assert modes[-1] == ("POST", "/v1/products", None)  # the revoked key reached no world
    # A read-only pass afterwards sends no writes at all.
    before = sandbox.writes()
    live.v1.products.list()
    live.v1.accounts.retrieve_current()
    live.v1.webhook_endpoints.list()
    assert sandbox.writes() == before
