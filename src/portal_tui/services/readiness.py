"""Is the live account ready to bill? Read-only checks, each with the fix in the Dashboard's words.

Checked with the live key: the account is activated and can charge and pay out, card statements carry a
descriptor, an enabled webhook endpoint tells the portal about subscription changes and invoice outcomes, and
the account's country can charge every currency the plans bill in. A restricted key that may not read something
gives `ok=None` ("could not check") naming the permission, never a guess either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from portal_tui.services.errors import NotFoundError, PermissionDeniedError

T = TypeVar("T")

REQUIRED_WEBHOOK_EVENTS: tuple[str, ...] = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)

# Check names (stable: the CLI's JSON and the Go live screen use them).
ACTIVATED: Final = "Account activated"
CHARGES: Final = "Charges enabled"
PAYOUTS: Final = "Payouts enabled"
DESCRIPTOR: Final = "Statement descriptor"
WEBHOOK: Final = "Webhook endpoint"
CURRENCIES: Final = "Currencies"

ACTIVATE_FIX: Final = "Finish activating your account in the Dashboard: Settings → Account details"
WEBHOOKS_PAGE: Final = "Developers → Webhooks"


class ReadinessGateway(Protocol):
    """The reads the checks need (StripeGateway has them)."""

    def retrieve_account(self) -> dict[str, Any]: ...

    def list_webhook_endpoints(self) -> list[dict[str, Any]]: ...

    def retrieve_country_spec(self, country: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ReadinessCheck:
    """One go-live condition: ok True/False, or None when the key could not check it."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class _Denied:
    """A read the restricted key was refused."""

    what: str  # "read the account"
    permission: str | None

    def check(self, name: str) -> ReadinessCheck:
        needs = f"the '{self.permission}' permission" if self.permission else "a permission it lacks"
        grant = f"grant '{self.permission}'" if self.permission else "grant read access"
        return ReadinessCheck(
            name,
            None,
            f"Not checked: the restricted key may not {self.what} (needs {needs})",
            f"In the Dashboard, Developers → API keys, edit the restricted key and {grant}, or check with the "
            "secret key",
        )


def _read(what: str, action: Callable[[], T]) -> T | _Denied:
    try:
        return action()
    except PermissionDeniedError as error:
        return _Denied(what, error.permission)


def check_readiness(gateway: ReadinessGateway, currencies: Iterable[str]) -> list[ReadinessCheck]:
    """Every go-live check, in the order to work through them. Only PermissionDeniedError is absorbed (as
    ok=None); any other PortalError (unreachable, refused key) propagates: then nothing could be checked."""
    wanted = sorted({code.lower() for code in currencies if code})
    account = _read("read the account", gateway.retrieve_account)
    checks: list[ReadinessCheck]
    if isinstance(account, _Denied):
        checks = [account.check(name) for name in (ACTIVATED, CHARGES, PAYOUTS, DESCRIPTOR)]
    else:
        checks = [*account_checks(account), descriptor_check(account)]
    endpoints = _read("list webhook endpoints", gateway.list_webhook_endpoints)
    checks.append(endpoints.check(WEBHOOK) if isinstance(endpoints, _Denied) else webhook_check(endpoints))
    if isinstance(account, _Denied):
        checks.append(account.check(CURRENCIES))
    else:
        checks.append(currency_check(gateway, account, wanted))
    return checks


def _requirements(account: Mapping[str, Any]) -> str:
    requirements = account.get("requirements") or {}
    due = [str(item) for item in requirements.get("currently_due") or []]
    past = [str(item) for item in requirements.get("past_due") or []]
    reason = requirements.get("disabled_reason")
    parts: list[str] = []
    if reason:
        parts.append(f"Stripe's reason: {reason}")
    missing = past or due
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        parts.append(f"still due: {shown}")
    return f" ({'; '.join(parts)})" if parts else ""


def account_checks(account: Mapping[str, Any]) -> list[ReadinessCheck]:
    """Activated (details submitted), can charge, can pay out."""
    submitted = bool(account.get("details_submitted"))
    requirements = _requirements(account)
    checks = [
        ReadinessCheck(ACTIVATED, True, "Account details are submitted")
        if submitted
        else ReadinessCheck(
            ACTIVATED, False, f"The account's activation form is not finished{requirements}", ACTIVATE_FIX
        )
    ]
    if account.get("charges_enabled"):
        checks.append(ReadinessCheck(CHARGES, True, "The account can charge customers"))
    else:
        fix = (
            ACTIVATE_FIX
            if not submitted
            else "Stripe has paused charges: provide what it asks for in the Dashboard: Settings → Account details"
        )
        checks.append(ReadinessCheck(CHARGES, False, f"The account cannot charge customers yet{requirements}", fix))
    if account.get("payouts_enabled"):
        checks.append(ReadinessCheck(PAYOUTS, True, "Payouts to the bank account are enabled"))
    else:
        fix = (
            ACTIVATE_FIX
            if not submitted
            else "Add or verify the bank account for payouts in the Dashboard: Settings → Payouts"
        )
        checks.append(
            ReadinessCheck(PAYOUTS, False, f"Stripe would hold the money: payouts are not enabled{requirements}", fix)
        )
    return checks


def descriptor_check(account: Mapping[str, Any]) -> ReadinessCheck:
    payments = ((account.get("settings") or {}).get("payments")) or {}
    descriptor = str(payments.get("statement_descriptor") or "").strip()
    if descriptor:
        return ReadinessCheck(DESCRIPTOR, True, f"Card statements show '{descriptor}'")
    return ReadinessCheck(
        DESCRIPTOR,
        False,
        "No statement descriptor: customers would not recognise the charge on their card statement",
        "Set a statement descriptor (5–22 characters, e.g. your brand) in the Dashboard: Settings → Public details",
    )


def _events(endpoint: Mapping[str, Any]) -> set[str]:
    return {str(event) for event in endpoint.get("enabled_events") or []}


def _missing(endpoint: Mapping[str, Any]) -> list[str]:
    events = _events(endpoint)
    if "*" in events:
        return []
    return [event for event in REQUIRED_WEBHOOK_EVENTS if event not in events]


def webhook_check(endpoints: Iterable[Mapping[str, Any]]) -> ReadinessCheck:
    """One enabled endpoint must receive every event the portal acts on (or "*")."""
    every = ", ".join(REQUIRED_WEBHOOK_EVENTS)
    found = list(endpoints)
    enabled = [e for e in found if e.get("status", "enabled") == "enabled"]
    complete = [e for e in enabled if not _missing(e)]
    if complete:
        return ReadinessCheck(WEBHOOK, True, f"{complete[0].get('url', complete[0].get('id'))} receives {every}")
    if not found:
        return ReadinessCheck(
            WEBHOOK,
            False,
            "No webhook endpoint: the portal would never hear of new, changed, cancelled or unpaid subscriptions",
            f"Add a webhook endpoint (your portal's URL) for {every} in {WEBHOOKS_PAGE}",
        )
    disabled_complete = [e for e in found if e not in enabled and not _missing(e)]
    if disabled_complete:
        url = disabled_complete[0].get("url", disabled_complete[0].get("id"))
        return ReadinessCheck(
            WEBHOOK,
            False,
            f"The endpoint {url} receives the right events but is disabled",
            f"Enable the endpoint {url} in {WEBHOOKS_PAGE}",
        )
    if not enabled:
        return ReadinessCheck(
            WEBHOOK,
            False,
            f"Every webhook endpoint is disabled ({len(found)})",
            f"Enable an endpoint, or add one, for {every} in {WEBHOOKS_PAGE}",
        )
    best = min(enabled, key=lambda e: len(_missing(e)))
    missing = _missing(best)
    url = best.get("url", best.get("id"))
    return ReadinessCheck(
        WEBHOOK,
        False,
        f"No enabled endpoint receives every event the portal needs: {url} misses {', '.join(missing)}",
        f"Add {', '.join(missing)} to the endpoint {url} in {WEBHOOKS_PAGE} (or add an endpoint for {every})",
    )


def currency_check(gateway: ReadinessGateway, account: Mapping[str, Any], currencies: list[str]) -> ReadinessCheck:
    """Every currency the live prices bill in can be charged by an account of the account's country."""
    if not currencies:
        return ReadinessCheck(
            CURRENCIES,
            None,
            "Not checked: no live prices are linked, so there is no currency to check",
            "Create the catalog in live mode and link it: portal-tui catalog apply --mode live",
        )
    country = account.get("country")
    listed = ", ".join(code.upper() for code in currencies)
    if not country:
        return ReadinessCheck(
            CURRENCIES, None, f"Not checked ({listed}): Stripe did not say the account's country", ACTIVATE_FIX
        )
    try:
        spec = _read("read country specs", lambda: gateway.retrieve_country_spec(str(country)))
    except NotFoundError:
        return ReadinessCheck(CURRENCIES, None, f"Not checked ({listed}): Stripe has no country spec for {country}")
    if isinstance(spec, _Denied):
        return spec.check(CURRENCIES)
    supported = {str(code).lower() for code in spec.get("supported_payment_currencies") or []}
    refused = [code for code in currencies if code not in supported]
    if not refused:
        return ReadinessCheck(CURRENCIES, True, f"An account in {country} can charge {listed}")
    default = account.get("default_currency")
    instead = f" such as {str(default).upper()}" if default else ""
    return ReadinessCheck(
        CURRENCIES,
        False,
        f"An account in {country} cannot charge {', '.join(code.upper() for code in refused)}",
        f"Re-create those prices in a currency your account supports{instead} and link them to the plans",
    )
