"""The sandbox's Stripe account as `GET /v1/account` shows it, and the country specs (`GET /v1/country_specs/:id`).

On Stripe an account is one object for both modes: its settings (business profile, statement descriptor,
`charges_enabled`, `details_submitted`, `payouts_enabled`) read the same with a test or a live key. What lives in
one mode only (products, prices, webhook endpoints...) sits in each mode's `World`. So `AccountSettings` is one per
sandbox, shared by both modes, and tests change it to model an account that is not ready to take live payments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from portal_tui.domain.money import CURRENCIES
from portal_tui.sandbox.errors import no_such
from portal_tui.sandbox.params import check_known

Obj = dict[str, Any]

ACCOUNT_ID = "acct_1PortalSandbox01"
ACCOUNT_NAME = "Sandbox Hosting Ltd"
ACCOUNT_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z: the account predates the demo catalog

# What Stripe asks for before it lets an account submit its details / take charges / pay out (a plausible subset
# of the `requirements.currently_due` entries of a UK company).
_DETAILS_DUE = (
    "business_profile.mcc",
    "business_profile.url",
    "company.tax_id",
    "representative.dob.day",
    "representative.first_name",
    "tos_acceptance.date",
)


@dataclass
class AccountSettings:
    """The account's state as tests and the demo set it; `render_account` turns it into Stripe's Account JSON.

    The defaults are an activated UK account that can charge and pay out, with no statement descriptor set (the
    demo's "not ready yet" point, beside having no webhook endpoint). Change the fields freely, between requests.
    """

    display_name: str = ACCOUNT_NAME
    country: str = "GB"
    default_currency: str = "gbp"
    email: str = "billing@hosting.example"
    url: str | None = "https://hosting.example"
    charges_enabled: bool = True
    payouts_enabled: bool = True
    details_submitted: bool = True
    # settings.payments.statement_descriptor (5-22 characters on Stripe) and
    # settings.card_payments.statement_descriptor_prefix (2-10); None = not set
    statement_descriptor: str | None = None
    statement_descriptor_prefix: str | None = None
    # requirements.currently_due; None derives it from the flags above (empty when fully onboarded)
    currently_due: list[str] | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def make_ready(self, descriptor: str = "SANDBOX HOSTING", prefix: str = "SANDBOX") -> None:
        """Every readiness field set: charges, payouts, details submitted, a statement descriptor and prefix."""
        self.charges_enabled = self.payouts_enabled = self.details_submitted = True
        self.statement_descriptor, self.statement_descriptor_prefix = descriptor, prefix
        self.currently_due = None

    def due(self) -> list[str]:
        if self.currently_due is not None:
            return list(self.currently_due)
        due = [] if self.details_submitted else list(_DETAILS_DUE)
        if not self.payouts_enabled:
            due.append("external_account")
        if not self.charges_enabled and not due:
            due.append("business_profile.url")
        return sorted(set(due))


def _requirements(settings: AccountSettings) -> Obj:
    due = settings.due()
    past_due = due if not settings.charges_enabled else []
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": due,
        "disabled_reason": "requirements.past_due" if not settings.charges_enabled else None,
        "errors": [],
        "eventually_due": due,
        "past_due": past_due,
        "pending_verification": [],
    }


def render_account(settings: AccountSettings, account_id: str = ACCOUNT_ID) -> Obj:
    """`GET /v1/account`: the Account object (stripe/_account.py), as Stripe returns an account's own view of it."""
    active = "active" if settings.charges_enabled else "inactive"
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": "7372",
            "minority_owned_business_designation": None,
            "monthly_estimated_revenue": None,
            "name": settings.display_name,
            "product_description": "Virtual servers and managed hosting",
            "support_address": None,
            "support_email": settings.email,
            "support_phone": None,
            "specified_commercial_transactions_act_url": None,
            "support_url": None,
            "url": settings.url,
        },
        "business_type": "company",
        "capabilities": {
            "card_payments": active,
            "transfers": "active" if settings.payouts_enabled else "inactive",
        },
        "charges_enabled": settings.charges_enabled,
        "company": {
            "address": {
                "city": None,
                "country": settings.country,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "address_kana": None,
            "address_kanji": None,
            "administrative_address": None,
            "directors_provided": False,
            "directorship_declaration": None,
            "executives_provided": False,
            "export_license_id": None,
            "export_purpose_code": None,
            "name": settings.display_name,
            "name_kana": None,
            "name_kanji": None,
            "owners_provided": False,
            "ownership_declaration": None,
            "ownership_exemption_reason": None,
            "phone": None,
            "physical_address": None,
            "principal_place_of_business": None,
            "registration_date": None,
            "representative_declaration": None,
            "structure": None,
            "tax_id_provided": settings.details_submitted,
            "tax_id_registrar": None,
            "vat_id_provided": False,
            "verification": None,
        },
        "controller": {
            "fees": None,
            "is_controller": None,
            "losses": None,
            "requirement_collection": None,
            "stripe_dashboard": None,
            "type": "account",
        },
        "country": settings.country,
        "created": ACCOUNT_CREATED,
        "default_currency": settings.default_currency,
        "details_submitted": settings.details_submitted,
        "email": settings.email,
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "future_requirements": _requirements(AccountSettings()),
        "groups": None,
        "metadata": dict(settings.metadata),
        "payouts_enabled": settings.payouts_enabled,
        "requirements": _requirements(settings),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None, "user_agent": None}},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": settings.statement_descriptor_prefix,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": settings.display_name, "timezone": "Europe/London"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": "offer"},
            "payments": {
                "statement_descriptor": settings.statement_descriptor,
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {
                    "delay_days": 7,
                    "interval": "daily",
                    "monthly_anchor": None,
                    "monthly_payout_days": None,
                    "weekly_anchor": None,
                    "weekly_payout_days": None,
                },
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {"creditor_id": None},
        },
        "tos_acceptance": {
            "date": ACCOUNT_CREATED if settings.details_submitted else None,
            "ip": None,
            "service_agreement": "full",
            "user_agent": None,
        },
        "type": "standard",
    }


# ---- country specs ---------------------------------------------------------------------------------------------

_EEA_CODES = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK"
_EEA = frozenset(_EEA_CODES.split())
# country -> (default currency, payout currencies): the countries whose specs the sandbox can answer
COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "GB": ("gbp", ("gbp", "eur", "usd")),
    "IE": ("eur", ("eur", "gbp", "usd")),
    "DE": ("eur", ("eur", "gbp", "usd")),
    "FR": ("eur", ("eur", "gbp", "usd")),
    "NL": ("eur", ("eur", "gbp", "usd")),
    "US": ("usd", ("usd",)),
    "CA": ("cad", ("cad", "usd")),
    "AU": ("aud", ("aud",)),
    "JP": ("jpy", ("jpy",)),
}


def supported_payment_currencies(removed: Iterable[str] = ()) -> list[str]:
    """Every currency a card payment can be in (Stripe's ~135 for GB and most countries), less `removed`."""
    gone = {code.lower() for code in removed}
    return sorted(code for code in CURRENCIES if code not in gone)


def country_spec(country: str, params: dict[str, Any], removed: Iterable[str] = ()) -> Obj:
    """`GET /v1/country_specs/:country`, by upper-case ISO code as Stripe names them."""
    check_known(params, "CountrySpecRetrieveParams")
    known = COUNTRIES.get(country)
    if known is None:
        raise no_such("country_spec", country)
    default, payout = known
    transfer = sorted({*_EEA, "GB", "US", "CA", "AU", "JP", "CH"} - {country}) if country != "US" else [country]
    return {
        "id": country,
        "object": "country_spec",
        "default_currency": default,
        "supported_bank_account_currencies": {currency: [country] for currency in payout},
        "supported_payment_currencies": supported_payment_currencies(removed),
        "supported_payment_methods": ["ach_credit_transfer", "bacs_debit", "card", "sepa_debit", "stripe"],
        "supported_transfer_countries": transfer,
        "verification_fields": {
            "company": {
                "minimum": [
                    "business_profile.mcc",
                    "business_profile.url",
                    "company.name",
                    "company.tax_id",
                    "external_account",
                    "representative.first_name",
                    "tos_acceptance.date",
                ],
                "additional": ["company.verification.document"],
            },
            "individual": {
                "minimum": [
                    "business_profile.mcc",
                    "business_profile.url",
                    "external_account",
                    "individual.dob.day",
                    "individual.first_name",
                    "individual.last_name",
                    "tos_acceptance.date",
                ],
                "additional": ["individual.verification.document"],
            },
        },
    }
