"""Go-live readiness against the sandbox's live account over HTTP: each check passing and failing, restricted keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal_tui.sandbox import Sandbox
from portal_tui.services.errors import InvalidKeyError
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from portal_tui.services.readiness import (
    ACTIVATED,
    CHARGES,
    CURRENCIES,
    DESCRIPTOR,
    PAYOUTS,
    REQUIRED_WEBHOOK_EVENTS,
    WEBHOOK,
    ReadinessCheck,
    check_readiness,
)
from tests.conftest import LIVE_KEY

NAMES = [ACTIVATED, CHARGES, PAYOUTS, DESCRIPTOR, WEBHOOK, CURRENCIES]
HOOK_URL = "https://hosting.example/stripe/webhooks"


@pytest.fixture
def live() -> Iterator[Sandbox]:
    with Sandbox(live=True) as server:
        yield server


def gateway(server: Sandbox, key: str = LIVE_KEY) -> StripeGateway:
    return StripeGateway(parse_key(key), api_base=server.url, retry_delay=0.001)


def by_name(checks: list[ReadinessCheck]) -> dict[str, ReadinessCheck]:
    assert [c.name for c in checks] == NAMES
    return {c.name: c for c in checks}


def add_endpoint(server: Sandbox, events: list[str], url: str = HOOK_URL, key: str = LIVE_KEY) -> dict[str, Any]:
    """Through the API, as the admin would in the Dashboard."""
    params: Any = {"url": url, "enabled_events": events}
    endpoint = gateway(server, key).client.v1.webhook_endpoints.create(params=params)
    return dict(endpoint.to_dict())


def test_a_ready_account_passes_every_check(live: Sandbox) -> None:
    live.make_live_ready()
    checks = by_name(check_readiness(gateway(live), ["gbp", "USD"]))
    assert all(c.ok is True for c in checks.values()), checks
    assert all(c.fix is None for c in checks.values())
    assert "SANDBOX HOSTING" in checks[DESCRIPTOR].detail
    assert HOOK_URL in checks[WEBHOOK].detail
    assert "GBP, USD" in checks[CURRENCIES].detail
    # read-only: nothing was written to the live account
    assert live.writes(live=True) == 0


def test_an_account_not_activated_fails_the_account_checks_with_the_fix(live: Sandbox) -> None:
    live.make_live_ready()
    live.account.details_submitted = False
    live.account.charges_enabled = False
    live.account.payouts_enabled = False
    checks = by_name(check_readiness(gateway(live), ["gbp"]))
    for name in (ACTIVATED, CHARGES, PAYOUTS):
        assert checks[name].ok is False
        assert checks[name].fix == "Finish activating your account in the Dashboard: Settings → Account details"
    assert "still due:" in checks[ACTIVATED].detail  # Stripe's requirements are named
    assert checks[DESCRIPTOR].ok is True and checks[WEBHOOK].ok is True


def test_charges_and_payouts_each_fail_on_their_own(live: Sandbox) -> None:
    live.make_live_ready()
    live.account.charges_enabled = False
    checks = by_name(check_readiness(gateway(live), ["gbp"]))
    assert checks[ACTIVATED].ok is True and checks[PAYOUTS].ok is True
    assert checks[CHARGES].ok is False and "requirements.past_due" in checks[CHARGES].detail
    assert checks[CHARGES].fix is not None and "Settings → Account details" in checks[CHARGES].fix

    live.account.charges_enabled = True
    live.account.payouts_enabled = False
    checks = by_name(check_readiness(gateway(live), ["gbp"]))
    assert checks[CHARGES].ok is True
    assert checks[PAYOUTS].ok is False and checks[PAYOUTS].fix is not None
    assert "Settings → Payouts" in checks[PAYOUTS].fix


def test_no_statement_descriptor_fails(live: Sandbox) -> None:
    live.make_live_ready()
    live.account.statement_descriptor = None
    check = by_name(check_readiness(gateway(live), ["gbp"]))[DESCRIPTOR]
    assert check.ok is False
    assert check.fix is not None and "Settings → Public details" in check.fix


def test_no_webhook_endpoint_fails_naming_every_event(live: Sandbox) -> None:
    live.make_live_ready(webhook=False)
    check = by_name(check_readiness(gateway(live), ["gbp"]))[WEBHOOK]
    assert check.ok is False and check.fix is not None
    assert check.fix.startswith("Add a webhook endpoint") and "Developers → Webhooks" in check.fix
    assert all(event in check.fix for event in REQUIRED_WEBHOOK_EVENTS)


def test_an_endpoint_missing_events_names_them(live: Sandbox) -> None:
    live.make_live_ready(webhook=False)
    add_endpoint(live, ["customer.subscription.created", "customer.subscription.updated", "invoice.paid"])
    check = by_name(check_readiness(gateway(live), ["gbp"]))[WEBHOOK]
    assert check.ok is False and check.fix is not None
    assert "customer.subscription.deleted, invoice.payment_failed" in check.detail
    assert f"to the endpoint {HOOK_URL}" in check.fix


def test_a_test_mode_endpoint_does_not_count_for_live(live: Sandbox) -> None:
    from tests.conftest import TEST_KEY

    live.make_live_ready(webhook=False)
    add_endpoint(live, list(REQUIRED_WEBHOOK_EVENTS), key=TEST_KEY)
    assert by_name(check_readiness(gateway(live), ["gbp"]))[WEBHOOK].ok is False


def test_a_wildcard_endpoint_passes_and_a_disabled_one_fails(live: Sandbox) -> None:
    live.make_live_ready(webhook=False)
    endpoint = add_endpoint(live, ["*"])
    assert by_name(check_readiness(gateway(live), ["gbp"]))[WEBHOOK].ok is True
    gateway(live).client.v1.webhook_endpoints.update(endpoint["id"], params={"disabled": True})
    check = by_name(check_readiness(gateway(live), ["gbp"]))[WEBHOOK]
    assert check.ok is False and check.fix == f"Enable the endpoint {HOOK_URL} in Developers → Webhooks"


def test_endpoints_on_a_second_page_are_found(live: Sandbox) -> None:
    live.make_live_ready(webhook=False)
    add_endpoint(live, list(REQUIRED_WEBHOOK_EVENTS), url="https://hosting.example/hooks/0")
    for n in range(1, 12):
        add_endpoint(live, ["invoice.paid"], url=f"https://hosting.example/hooks/{n}")
    api = gateway(live)
    assert len(api.list_webhook_endpoints()) == 12
    assert by_name(check_readiness(api, ["gbp"]))[WEBHOOK].ok is True


def test_a_currency_the_country_cannot_charge_fails(live: Sandbox) -> None:
    live.make_live_ready()
    live.unsupported_currencies.add("usd")
    check = by_name(check_readiness(gateway(live), ["gbp", "usd"]))[CURRENCIES]
    assert check.ok is False and "cannot charge USD" in check.detail and "GB" in check.detail
    assert check.fix is not None and "GBP" in check.fix  # the account's default currency is suggested


def test_no_linked_currency_is_not_checked(live: Sandbox) -> None:
    live.make_live_ready()
    check = by_name(check_readiness(gateway(live), []))[CURRENCIES]
    assert check.ok is None and check.fix is not None and "catalog apply --mode live" in check.fix


def test_a_restricted_key_without_account_access_names_the_permission(live: Sandbox) -> None:
    live.make_live_ready()
    key = "rk_live_restricted" + "0" * 40
    checks = by_name(check_readiness(gateway(live, key), ["gbp"]))
    for name in (ACTIVATED, CHARGES, PAYOUTS, DESCRIPTOR, CURRENCIES):
        assert checks[name].ok is None
        assert "rak_accounts_kyc_basic_read" in checks[name].detail
        assert "rak_accounts_kyc_basic_read" in str(checks[name].fix)
    assert checks[WEBHOOK].ok is True  # what the key may read is still checked
    assert key not in repr(checks)


def test_a_restricted_key_without_webhook_access_names_the_permission(live: Sandbox) -> None:
    live.make_live_ready()
    checks = by_name(check_readiness(gateway(live, "rk_live_nowebhooks" + "0" * 40), ["gbp"]))
    assert checks[WEBHOOK].ok is None and "rak_webhook_read" in checks[WEBHOOK].detail
    assert checks[ACTIVATED].ok is True and checks[CURRENCIES].ok is True


def test_a_refused_key_is_not_a_readiness_result(live: Sandbox) -> None:
    with pytest.raises(InvalidKeyError):
        check_readiness(gateway(live, "sk_live_revoked" + "0" * 40), ["gbp"])
