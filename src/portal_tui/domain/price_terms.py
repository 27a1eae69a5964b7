"""A price's terms: what a customer is billed, without the account-bound parts (IDs, dates, mode).

Test and live mode hold separate objects with different IDs, so "is the live price the one that was verified?"
is answered by comparing terms: currency, pricing model, amounts, tiers, package, interval, meter (by its event
name, the meter's identity in both modes), tax behaviour and the amounts in each extra currency (`currency_options`,
compared currency by currency: "EUR amount: €18.00 → €19.00"). A fingerprint of the terms lets a Verify result go
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
from portal_tui.domain.pricing import CurrencyAmounts, PriceDraft, PricingModel, Tier, interval_label

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
    "currency_options": "other currencies",
}
# A difference in one extra currency has the field "currency_options.<code>[.<term>]"; its label names the currency.
OPTION_LABELS: dict[str, str] = {
    "": "amounts",
    "unit_amount": "amount",
    "tiers": "tiers",
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
        if self.field.startswith("currency_options."):
            code, _, term = self.field.removeprefix("currency_options.").partition(".")
            return f"{code.upper()} {OPTION_LABELS.get(term, term)}"
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
        terms["tiers"] = {"mode": draft.effective_tiers_mode, "rows": _tier_rows(draft.tiers)}
    else:
        terms["unit_amount"] = _amount(draft.unit_amount or Decimal(0))
        if draft.package_size is not None:
            terms["package"] = [draft.package_size, draft.package_round]
    if draft.currency_options:
        # Only when there are some: a single-currency price keeps the fingerprint it had before they were compared.
        terms["currency_options"] = {
            code.lower(): _option_terms(amounts, draft.model.is_tiered)
            for code, amounts in sorted(draft.currency_options.items())
        }
    return terms


def _tier_rows(tiers: list[Tier]) -> list[list[Any]]:
    return [[tier.up_to, _amount(tier.unit_amount), _amount(tier.flat_amount)] for tier in tiers]


def _option_terms(amounts: CurrencyAmounts, tiered: bool) -> dict[str, Any]:
    return {
        "unit_amount": None if tiered else _amount(amounts.unit_amount or Decimal(0)),
        "tiers": _tier_rows(amounts.tiers) if tiered else None,
        "tax_behavior": amounts.tax_behavior or "unspecified",
    }


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
        return f"{value['mode']} · " + _rows_words(value["rows"], currency)
    if field == "currency":
        return str(value).upper()
    return str(value)


def _rows_words(rows: list[list[Any]], currency: str) -> str:
    words = []
    for up_to, unit, flat in rows:
        parts = [format_money(Decimal(unit), currency) if unit is not None else None]
        if flat is not None:
            parts.append(f"+ {format_money(Decimal(flat), currency)}")
        words.append(f"{'∞' if up_to is None else up_to}: {' '.join(p for p in parts if p) or '0'}")
    return " · ".join(words)


def _option_words(option: Mapping[str, Any] | None, term: str, code: str) -> str:
    """One extra currency's term in words; `term` "" is the whole option (its amount or tiers)."""
    if option is None:
        return "none"
    if term == "":
        term = "tiers" if option.get("tiers") is not None else "unit_amount"
    value = option.get(term)
    if value is None:
        return "none"
    if term == "unit_amount":
        return format_money(Decimal(value), code)
    if term == "tiers":
        return _rows_words(value, code)
    return str(value)


def _option_differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[TermDifference]:
    """Currency by currency: one missing on a side is one difference; otherwise one per differing term."""
    mine, theirs = expected.get("currency_options") or {}, actual.get("currency_options") or {}
    found = []
    for code in sorted(set(mine) | set(theirs)):
        left, right = mine.get(code), theirs.get(code)
        if left == right:
            continue
        if left is None or right is None:
            found.append(
                TermDifference(
                    f"currency_options.{code}", _option_words(left, "", code), _option_words(right, "", code)
                )
            )
            continue
        for term in ("unit_amount", "tiers", "tax_behavior"):
            if left.get(term) != right.get(term):
                found.append(
                    TermDifference(
                        f"currency_options.{code}.{term}",
                        _option_words(left, term, code),
                        _option_words(right, term, code),
                    )
                )
    return found


def compare_terms(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[TermDifference]:
    """Every term on which `actual` differs from `expected`, in TERM_LABELS order (empty when they agree); the
    extra currencies one by one ("EUR amount: €18.00 → €19.00")."""
    return [
        TermDifference(field, _words(field, expected), _words(field, actual))
        for field in TERM_LABELS
        if field != "currency_options" and expected.get(field) != actual.get(field)
    ] + _option_differences(expected, actual)
