"""`portal-tui quote` as an admin runs it: a real subprocess, files and stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portal_tui.commands.quote import run_quote
from portal_tui.domain.pricing import CurrencyAmounts, PriceDraft
from portal_tui.pricing import amount_for
from portal_tui.sandbox import Sandbox
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from tests.conftest import TEST_KEY

API_CALLS = {
    "id": "price_api",
    "object": "price",
    "currency": "usd",
    "billing_scheme": "per_unit",
    "unit_amount": None,
    "unit_amount_decimal": "0.04",
    "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_1"},
    "nickname": "API calls",
}
GRADUATED = {
    "object": "price",
    "currency": "usd",
    "billing_scheme": "tiered",
    "tiers_mode": "graduated",
    "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
    "tiers": [
        {"up_to": 10, "unit_amount": 0, "flat_amount": 2000},
        {"up_to": 25, "unit_amount": 100, "flat_amount": 500},
        {"up_to": None, "unit_amount": 50},
    ],
}


def quote(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal_tui", "quote", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_quote_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "price.json"
    path.write_text(json.dumps(API_CALLS))
    result = quote(str(path), "12,000", "13")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "API calls: $0.0004 per unit / month · metered\n"
        "\n"
        "Quantity 12,000\n"
        "  12,000 units: 12,000 × $0.0004 = $4.80\n"
        "  Total: $4.80\n"
        "\n"
        "Quantity 13\n"
        "  13 units: 13 × $0.0004 = $0.01\n"
        "  Total: $0.01\n"
    )


def test_quote_from_stdin_shows_every_tier() -> None:
    result = quote("-", "30", stdin=json.dumps(GRADUATED))
    assert result.returncode == 0, result.stderr
    assert "  11–25: 15 × $1.00 + $5.00 flat = $20.00\n" in result.stdout
    assert result.stdout.endswith("  Total: $42.50\n")


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("{not json", ["5"], "is not valid JSON"),
        ("[1, 2]", ["5"], "must hold one Stripe Price object"),
        (json.dumps({**GRADUATED, "tiers": None}), ["5"], "expand[]=tiers"),
        (json.dumps({**API_CALLS, "currency": "xyz"}), ["5"], "Unknown currency 'xyz'"),
        (json.dumps({**API_CALLS, "unit_amount_decimal": None}), ["5"], "no unit_amount"),
        (json.dumps({"object": "product", "currency": "usd"}), ["5"], "not a price"),
        (json.dumps(API_CALLS), ["-3"], "is negative"),
        (json.dumps(API_CALLS), ["lots"], "not a whole number"),
        (json.dumps({**API_CALLS, "transform_quantity": {"divide_by": 0}}), ["5"], "divide_by"),
        # Shapes that used to crash with a traceback or be silently misread.
        (json.dumps({"currency": "usd", "unit_amount": 100, "recurring": "x"}), ["5"], "recurring must be an object"),
        (
            json.dumps({"currency": "usd", "unit_amount": 100, "recurring": {"interval": "fortnight"}}),
            ["5"],
            "interval",
        ),
        (
            json.dumps(
                {"currency": "usd", "unit_amount": 100, "recurring": {"interval": "month", "interval_count": "2"}}
            ),
            ["5"],
            "interval_count",
        ),
        (json.dumps({"currency": "usd", "unit_amount": 1.5}), ["5"], "unit_amount must be a whole number"),
        (json.dumps({"currency": "usd", "unit_amount": 100, "billing_scheme": "banana"}), ["5"], "billing_scheme"),
        (
            json.dumps({**API_CALLS, "transform_quantity": {"divide_by": 10, "round": "sideways"}}),
            ["5"],
            "round must be up or down",
        ),
        (json.dumps({**API_CALLS, "unit_amount_decimal": "NaN"}), ["5"], "non-negative number"),
        (json.dumps({**GRADUATED, "tiers": [{"up_to": 5, "unit_amount": 100}]}), ["9"], "last tier must be unbounded"),
        (
            json.dumps({**GRADUATED, "tiers": [{"up_to": 9, "unit_amount": 1}, {"up_to": 5}, {"up_to": None}]}),
            ["9"],
            "greater than 9",
        ),
        (json.dumps({**GRADUATED, "tiers": [{"up_to": None, "unit_amount": 1}, {"up_to": None}]}), ["9"], "unbounded"),
        (json.dumps({**GRADUATED, "tiers": [{"up_to": None, "flat_amount": 2.5}]}), ["9"], "flat_amount must be"),
    ],
)
def test_quote_refuses_malformed_input(stdin: str, args: list[str], message: str) -> None:
    result = quote("-", *args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_quote_missing_file() -> None:
    result = quote("/nonexistent/price.json", "1")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_quote_in_process_matches_calculator() -> None:
    out, err = io.StringIO(), io.StringIO()
    price: dict[str, Any] = {**GRADUATED}
    assert run_quote("-", ["12"], stdin=io.StringIO(json.dumps(price)), out=out, err=err) == 0
    assert f"Total: ${amount_for(price, 12) / 100:.2f}" in out.getvalue()


def test_quote_in_another_currency_of_a_sandbox_price(sandbox: Sandbox, tmp_path: Path) -> None:
    """A flat USD/EUR/JPY price made through the real client, retrieved with its currency options expanded (as
    `stripe prices retrieve … -d expand[]=currency_options` gives it) and quoted in EUR and JPY."""
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url)
    product = gateway.create_product("Pro", None, idempotency_key="quote-product")
    the_draft = PriceDraft(
        unit_amount=Decimal(2000),
        nickname="Pro",
        currency_options={"eur": CurrencyAmounts(Decimal(1800)), "jpy": CurrencyAmounts(Decimal(3000))},
    )
    created = gateway.create_price(the_draft.to_stripe_params(product["id"]), idempotency_key="quote-price")
    path = tmp_path / "price.json"
    path.write_text(json.dumps(gateway.retrieve_price(created["id"], expand=["currency_options"])))

    eur = quote(str(path), "3", "--currency", "EUR")
    assert eur.returncode == 0, eur.stderr
    assert eur.stdout == (
        "Pro: $20.00 / month · +2 currencies\n"
        "Billed in EUR\n"
        "\n"
        "Quantity 3\n"
        "  3 units: 3 × €18.00 = €54.00\n"
        "  Total: €54.00\n"
    )
    jpy = quote(str(path), "3", "--currency", "jpy")
    assert jpy.returncode == 0, jpy.stderr
    assert jpy.stdout.endswith("  3 units: 3 × ¥3,000 = ¥9,000\n  Total: ¥9,000\n")
    usd = quote(str(path), "3")
    assert usd.stdout.endswith("  Total: $60.00\n")

    gbp = quote(str(path), "3", "--currency", "GBP")
    assert gbp.returncode == 2
    assert "not offered in GBP: its currencies are USD, EUR, JPY" in gbp.stderr
    assert gbp.stdout == "" and "Traceback" not in gbp.stderr


def test_quote_tiers_in_another_currency_in_process() -> None:
    price: dict[str, Any] = {
        **GRADUATED,
        "currency_options": {
            "eur": {
                "tax_behavior": "unspecified",
                "unit_amount": None,
                "unit_amount_decimal": None,
                "tiers": [
                    {"up_to": 10, "unit_amount": 0, "flat_amount": 1800},
                    {"up_to": 25, "unit_amount": 90, "flat_amount": 450},
                    {"up_to": None, "unit_amount": 45},
                ],
            }
        },
    }
    out, err = io.StringIO(), io.StringIO()
    assert run_quote("-", ["30"], stdin=io.StringIO(json.dumps(price)), out=out, err=err, currency="eur") == 0, err
    # 1–10: €18.00 flat; 11–25: 15 × €0.90 + €4.50; 26+: 5 × €0.45 = €18.00 + €18.00 + €2.25
    assert "  11–25: 15 × €0.90 + €4.50 flat = €18.00\n" in out.getvalue()
    assert out.getvalue().endswith(f"  Total: €{amount_for(price, 30, currency='eur') / 100:.2f}\n")
    assert amount_for(price, 30, currency="eur") == 3825

    # A tiered price's currency option without its tiers (not expanded) is named, not billed as zero.
    bare = {**price, "currency_options": {"eur": {"unit_amount": None, "tiers": None}}}
    out, err = io.StringIO(), io.StringIO()
    assert run_quote("-", ["30"], stdin=io.StringIO(json.dumps(bare)), out=out, err=err, currency="eur") == 2
    assert "EUR tiers were not returned" in err.getvalue() and "currency_options.eur.tiers" in err.getvalue()
