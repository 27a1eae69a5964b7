"""A price's terms: what a customer is billed, without the account-bound parts (IDs, dates, mode).

Test and live mode hold separate objects with different IDs, so "is the live price the one that was verified?"
is answered by comparing terms: currency, pricing model, amounts, tiers, package, interval, meter (by its event
name, the meter's identity in both modes) and tax behaviour. A fingerprint of the terms lets a Verify result go
stale when the price it checked is no longer what a plan links.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from portal_tui.domain.money import format_money
from portal_tui.domain.pricing import PriceDraft, PricingModel, interval_label

# The fields compared, in the order a difference is reported, with the words a person reads.
TERM_LABELS: dict[str, str] = {
    "currency": "currency",
    "model": "pricing model",
    "type": "type",
    "unit_amount": "amount",
    "tiers": "tiers",
    "package": "package",
    "interval": "billing period",
    "meter": "meter",
    "tax_behavior": "tax behaviour",
}


@dataclass(frozen=True)
class TermDifference:
    """One term on which two prices disagree, each side in words ("$20.00", "month")."""

    field: str  # a key of TERM_LABELS
    expected: str  # the side that is the reference (the test price, the catalog file)
    actual: str  # the side being checked (the live price)

    @property
    def label(self) -> str:
        return TERM_LABELS.get(self.field, self.field)

    def text(self) -> str:
        return f"{self.label}: {self.expected} → {self.actual}"


def _amount(value: Decimal | int | None) -> str | None:
    if value is None:
        return None
    return format(Decimal(value).normalize(), "f")


def terms_of_draft(draft: PriceDraft, meter_event_name: str | None = None) -> dict[str, Any]:
    """The comparable terms of a draft; `meter_event_name` stands in for the (mode-bound) meter ID."""
    terms: dict[str, Any] = {
        "currency": draft.currency.lower(),
        "model": draft.model.value,
        "type": "recurring" if draft.recurring else "one_time",
        "unit_amount": None,
        "tiers": None,
        "package": None,
        "interval": [draft.interval, draft.interval_count] if draft.recurring else None,
        "meter": meter_event_name if draft.model.is_usage_based else None,
        "tax_behavior": draft.tax_behavior or "unspecified",
    }
    if draft.model.is_tiered:
        terms["tiers"] = {
            "mode": draft.effective_tiers_mode,
            "rows": [[tier.up_to, _amount(tier.unit_amount), _amount(tier.flat_amount)] for tier in draft.tiers],
        }
    else:
        terms["unit_amount"] = _amount(draft.unit_amount or Decimal(0))
        if draft.package_size is not None:
            terms["package"] = [draft.package_size, draft.package_round]
    return terms


def price_terms(price: Mapping[str, Any], meter_event_name: str | None = None) -> dict[str, Any]:
    """The comparable terms of a Stripe Price JSON (tiers expanded). Pass the meter's `event_name` for a metered
    price: its `recurring.meter` is an ID that differs between modes."""
    return terms_of_draft(PriceDraft.from_stripe(price), meter_event_name)


def terms_fingerprint(terms: Mapping[str, Any]) -> str:
    """A short stable hash of terms (16 hex digits): equal terms, equal fingerprint, in any account or mode."""
    canonical = json.dumps(terms, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _words(field: str, terms: Mapping[str, Any]) -> str:
    value = terms.get(field)
    currency = str(terms.get("currency") or "usd")
    if value is None:
        return "none"
    if field == "model":
        return PricingModel(value).label if value in PricingModel._value2member_map_ else str(value)
    if field == "unit_amount":
        return format_money(Decimal(value), currency)
    if field == "interval":
        return interval_label(str(value[0]), int(value[1]))
    if field == "package":
        return f"per {value[0]} units, rounded {value[1]}"
    if field == "tiers":
        rows = []
        for up_to, unit, flat in value["rows"]:
            parts = [format_money(Decimal(unit), currency) if unit is not None else None]
            if flat is not None:
                parts.append(f"+ {format_money(Decimal(flat), currency)}")
            rows.append(f"{'∞' if up_to is None else up_to}: {' '.join(p for p in parts if p) or '0'}")
        return f"{value['mode']} · " + " · ".join(rows)
    if field == "currency":
        return str(value).upper()
    return str(value)


def compare_terms(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[TermDifference]:
    """Every term on which `actual` differs from `expected`, in TERM_LABELS order (empty when they agree)."""
    return [
        TermDifference(field, _words(field, expected), _words(field, actual))
        for field in TERM_LABELS
        if expected.get(field) != actual.get(field)
    ]
