"""`portal-tui quote PRICE QTY... [--currency EUR]`: what a customer pays for a Stripe price at given quantities.

A multi-currency price bills in its other currencies only from JSON that carries them: Stripe returns
`currency_options` only when asked (`expand[]=currency_options`, and `currency_options.<code>.tiers` for a tiered
price's amounts in that currency).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from portal_tui.domain import money
from portal_tui.domain.money import AmountError, format_money, get_currency
from portal_tui.domain.pricing import UnknownCurrencyError, breakdown, describe_price, in_currency, tiers_problem

USAGE_ERROR = 2


class QuoteInputError(ValueError):
    """Input the quote command cannot use; the message says what to fix."""


def parse_quantity(text: str) -> int:
    """A quantity as people write it: "12000", "12,000", "12_000"."""
    try:
        return money.parse_quantity(text)  # the shared rule; this command words its own error
    except AmountError as error:
        raise QuoteInputError(f"quantity {error.message}") from None


def read_price(source: str, stdin: TextIO) -> dict[str, Any]:
    """The Price JSON from a file path or '-' (standard input), checked enough to compute with."""
    if source == "-":
        text, where = stdin.read(), "standard input"
    else:
        path = Path(source).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise QuoteInputError(f"no such file: {source}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise QuoteInputError(f"cannot read {source}: {error}") from None
        where = source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise QuoteInputError(f"{where} is not valid JSON: {error.msg} at line {error.lineno}") from None
    if isinstance(data, dict) and data.get("object") == "list" and isinstance(data.get("data"), list):
        if len(data["data"]) != 1:
            raise QuoteInputError(f"{where} holds a list of {len(data['data'])} prices: pass exactly one")
        data = data["data"][0]
    if not isinstance(data, dict):
        raise QuoteInputError(f"{where} must hold one Stripe Price object (a JSON object)")
    if data.get("object") not in (None, "price"):
        raise QuoteInputError(f"{where} holds a {data.get('object')!r}, not a price")
    check_price(data)
    return data


def check_price(price: dict[str, Any]) -> None:
    """Refuse, with a message naming the field, any Price JSON the calculator would misread or crash on."""
    currency = price.get("currency")
    if not isinstance(currency, str):
        raise QuoteInputError("the price has no currency")
    try:
        get_currency(currency)
    except AmountError as error:
        raise QuoteInputError(str(error)) from None
    _check_recurring(price.get("recurring"))
    scheme = price.get("billing_scheme")
    if scheme not in (None, "per_unit", "tiered"):
        raise QuoteInputError(f"billing_scheme must be per_unit or tiered, not {scheme!r}")
    if scheme == "tiered":
        tiers = price.get("tiers")
        if not isinstance(tiers, list) or not tiers:
            raise QuoteInputError(
                "this tiered price has no tiers: Stripe omits them unless asked; retrieve it with expand[]=tiers"
            )
        for index, tier in enumerate(tiers):
            if not isinstance(tier, dict):
                raise QuoteInputError(f"tier {index + 1} is not an object")
            _check_number(tier, "unit_amount", f"tier {index + 1}")
            _check_number(tier, "flat_amount", f"tier {index + 1}")
        problem = tiers_problem(tiers)
        if problem:
            raise QuoteInputError(f"these tiers cannot be billed: {problem}")
        if price.get("tiers_mode") not in ("volume", "graduated"):
            raise QuoteInputError("a tiered price needs tiers_mode volume or graduated")
        if price.get("transform_quantity") is not None:
            raise QuoteInputError("transform_quantity cannot be combined with tiers")
    else:
        if price.get("unit_amount") is None and price.get("unit_amount_decimal") is None:
            if price.get("custom_unit_amount"):
                raise QuoteInputError("the customer chooses this price's amount: there is nothing to quote")
            raise QuoteInputError("the price has no unit_amount")
        _check_number(price, "unit_amount", "the price")
        transform = price.get("transform_quantity")
        if transform is not None:
            if not isinstance(transform, dict):
                raise QuoteInputError("transform_quantity must be an object {divide_by, round}")
            divide_by = transform.get("divide_by")
            if isinstance(divide_by, bool) or not isinstance(divide_by, int) or divide_by < 1:
                raise QuoteInputError("transform_quantity.divide_by must be a whole number of at least 1")
            if transform.get("round", "up") not in ("up", "down"):
                raise QuoteInputError(f"transform_quantity.round must be up or down, not {transform.get('round')!r}")


def _check_recurring(recurring: Any) -> None:
    if recurring is None:
        return
    if not isinstance(recurring, dict):
        raise QuoteInputError("recurring must be an object {interval, interval_count, usage_type} or null")
    interval = recurring.get("interval")
    if interval not in ("day", "week", "month", "year"):
        raise QuoteInputError(f"recurring.interval must be day, week, month or year, not {interval!r}")
    count = recurring.get("interval_count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise QuoteInputError(f"recurring.interval_count must be a whole number of at least 1, not {count!r}")
    usage = recurring.get("usage_type", "licensed")
    if usage not in ("licensed", "metered"):
        raise QuoteInputError(f"recurring.usage_type must be licensed or metered, not {usage!r}")


def _check_number(source: dict[str, Any], name: str, owner: str) -> None:
    whole = source.get(name)
    # Stripe's unit_amount / flat_amount are integers; 1.5 would otherwise be truncated to 1.
    if whole is not None and (isinstance(whole, bool) or not isinstance(whole, int)):
        raise QuoteInputError(
            f"{owner}: {name} must be a whole number of minor units, not {whole!r} (fractions go in {name}_decimal)"
        )
    if isinstance(whole, int) and whole < 0:
        raise QuoteInputError(f"{owner}: {name} must be a non-negative number")
    value = source.get(f"{name}_decimal")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuoteInputError(f"{owner}: {name}_decimal is not a number ({value!r})")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise QuoteInputError(f"{owner}: {name}_decimal is not a number ({value!r})") from None
    if not number.is_finite() or number < 0:
        raise QuoteInputError(f"{owner}: {name}_decimal must be a non-negative number")


def billed_in(price: dict[str, Any], currency: str | None) -> dict[str, Any]:
    """The price as billed in `currency` (one of its currency_options), checked like the price itself."""
    if currency is None:
        return price
    try:
        derived = dict(in_currency(price, currency))
    except UnknownCurrencyError as error:
        raise QuoteInputError(str(error)) from None
    except ValueError as error:
        raise QuoteInputError(f"{error} (expand[]=currency_options.{currency.lower()}.tiers)") from None
    check_price(derived)
    return derived


def render(price: dict[str, Any], quantities: Sequence[int], currency: str | None = None) -> str:
    name = price.get("nickname") or price.get("id") or "Price"
    lines = [f"{name}: {describe_price(price)}"]
    if currency is not None:
        price = billed_in(price, currency)
        lines.append(f"Billed in {currency.upper()}")
    currency = str(price["currency"])
    for quantity in quantities:
        result = breakdown(price, quantity)
        lines.append("")
        lines.append(f"Quantity {quantity:,}")
        lines.extend(f"  {row.text}" for row in result.rows)
        lines.append(f"  Total: {format_money(result.total, currency)}")
    return "\n".join(lines) + "\n"


def run_quote(
    price: str,
    quantities: Sequence[str],
    *,
    stdin: TextIO,
    out: TextIO,
    err: TextIO,
    currency: str | None = None,
) -> int:
    """Print the breakdown and total for each quantity (in `currency`, one of the price's, if given); exit code 2
    with a message for unusable input."""
    try:
        counts = [parse_quantity(text) for text in quantities]
        data = read_price(price, stdin)
        text = render(data, counts, currency)
    except QuoteInputError as error:
        err.write(f"portal-tui quote: {error}\n")
        return USAGE_ERROR
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as error:
        # A safety net: check_price should have refused the input with a better message already.
        err.write(f"portal-tui quote: this price cannot be computed: {error}\n")
        return USAGE_ERROR
    out.write(text)
    return 0
