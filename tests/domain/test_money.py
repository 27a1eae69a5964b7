"""Money: parsing what people type into minor units, and formatting minor units for people."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_tui.domain.money import (
    CURRENCIES,
    AmountError,
    format_amount_input,
    format_money,
    get_currency,
    parse_amount,
    parse_quantity,
    parse_unit_amount,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,234.50", "usd", 123450),
        ("12", "usd", 1200),
        (" 0.5 ", "usd", 50),
        ("$5", "usd", 500),
        ("1234.5", "eur", 123450),
        ("1235", "jpy", 1235),
        ("1,000", "krw", 1000),
        ("1.230", "bhd", 1230),
        ("1.23", "kwd", 1230),
        ("0", "gbp", 0),
        (".5", "usd", 50),
        ("999999.99", "usd", 99_999_999),
        ("AED 1,234.50", "aed", 123450),  # a currency without a symbol: its code, any case, either side
        ("aed 5", "aed", 500),
        ("12 eur", "eur", 1200),
        ("€12", "eur", 1200),
        ("CN¥5", "cny", 500),
        ("CHF 5", "chf", 500),
    ],
)
def test_parse_amount_accepts_what_people_type(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "usd", "Enter an amount"),
        ("abc", "usd", "'abc' is not a number"),
        ("-5", "usd", "cannot be negative"),
        ("1.234", "usd", "Use at most 2 decimals for USD"),
        ("1.5", "jpy", "JPY has no decimals"),
        ("1.2345", "bhd", "Use at most 3 decimals"),
        ("1.235", "bhd", "end in 0"),
        ("1000000", "usd", "more than Stripe accepts"),
        ("1,23.4", "usd", "use a dot for decimals"),
        ("1e5", "usd", "is not a number"),
        ("5", "xyz", "Unknown currency 'xyz'"),
        # Another currency's symbol or code used to be dropped silently: "¥5" for USD billed $5.00.
        ("¥5", "usd", "'¥' is not the symbol for USD"),
        ("€5", "usd", "'€' is not the symbol for USD"),
        ("$5", "eur", "'$' is not the symbol for EUR"),
        ("¥5", "cny", "'¥' is not the symbol for CNY"),
        ("EUR 5", "usd", "This price is in USD, not EUR"),
        ("5 gbp", "usd", "This price is in USD, not GBP"),
        # Non-ASCII digits used to parse: "١٢" (Arabic-Indic) and "１２" (full width) billed 12.
        ("١٢", "usd", "use the digits 0-9"),
        ("１２", "usd", "use the digits 0-9"),
        ("$１２", "usd", "use the digits 0-9"),
        ("1,٢٣٤", "usd", "use the digits 0-9"),
    ],
)
def test_parse_amount_refuses_with_a_precise_message(text: str, currency: str, message: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency)
    assert message in str(caught.value)


def test_unit_amount_allows_fractions_of_a_cent() -> None:
    assert parse_unit_amount("0.0004", "usd") == Decimal("0.04")
    assert parse_unit_amount("0.000000000001", "usd") == Decimal("1E-10")
    assert parse_unit_amount("2", "usd") == Decimal(200)
    assert parse_unit_amount("0.5", "jpy") == Decimal("0.5")
    with pytest.raises(AmountError, match="Too many decimals"):
        parse_unit_amount("0.000000000000001", "usd")  # 13 decimals of a cent: one too many


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123450, "usd", "$1,234.50"),
        (1235, "jpy", "¥1,235"),
        (1230, "bhd", "BHD 1.230"),
        (Decimal("0.04"), "usd", "$0.0004"),
        (0, "eur", "€0.00"),
        (-500, "gbp", "-£5.00"),
        (100000, "sek", "SEK 1,000.00"),
    ],
)
def test_format_money(minor: int | Decimal, currency: str, text: str) -> None:
    assert format_money(minor, currency) == text


def test_currency_table_exponents() -> None:
    assert get_currency("JPY").exponent == 0
    assert get_currency("bhd").exponent == 3
    assert get_currency("usd").exponent == 2
    assert len(CURRENCIES) > 130
    assert all(c.exponent in (0, 2, 3) for c in CURRENCIES.values())


@given(st.integers(min_value=0, max_value=99_999_999), st.sampled_from(["usd", "jpy", "eur", "krw", "chf"]))
def test_format_input_round_trips(minor: int, currency: str) -> None:
    assert parse_amount(format_amount_input(minor, currency), currency) == minor


@given(st.integers(min_value=0, max_value=99_999_99).map(lambda n: n * 10))
def test_three_decimal_round_trip(minor: int) -> None:
    assert parse_amount(format_amount_input(minor, "bhd"), "bhd") == minor


@given(st.sampled_from(sorted(CURRENCIES)), st.integers(min_value=0, max_value=99_999_999))
def test_format_money_parses_back_in_every_currency(currency: str, minor: int) -> None:
    if get_currency(currency).exponent == 3:
        minor -= minor % 10  # Stripe only takes three-decimal amounts ending in 0
    assert parse_amount(format_money(minor, currency), currency) == minor


@given(
    st.sampled_from(sorted(CURRENCIES)),
    st.decimals(min_value=0, max_value=99_999_999, places=12, allow_nan=False, allow_infinity=False),
)
def test_format_money_of_unit_prices_parses_back(currency: str, unit: Decimal) -> None:
    assert parse_unit_amount(format_money(unit, currency), currency) == unit


@pytest.mark.parametrize(("text", "quantity"), [("12000", 12000), (" 12,000 ", 12000), ("12_000", 12000), ("0", 0)])
def test_quantities_as_people_write_them(text: str, quantity: int) -> None:
    assert parse_quantity(text) == quantity


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("-3", "is negative"),
        ("lots", "not a whole number"),
        ("2.5", "not a whole number"),
        ("²", "not a whole number"),
        ("１２", "not a whole number"),
        ("", "not a whole number"),
    ],
)
def test_quantities_that_are_not_whole_non_negative_numbers_are_refused(text: str, words: str) -> None:
    with pytest.raises(AmountError, match=words):
        parse_quantity(text)
