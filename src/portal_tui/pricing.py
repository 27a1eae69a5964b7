"""The billing calculator's stable entry point: what Stripe bills for one price at one quantity.

`amount_for(price, quantity) -> int` takes a Stripe Price as the API returns it (a plain dict, tiers
expanded) and the period's quantity, and returns the minor units billed in the price's own currency;
`amount_for(price, quantity, currency="eur")` bills in one of its other currencies (`currency_options`
expanded), raising UnknownCurrencyError (a ValueError) for a currency the price is not offered in.
Other parts of the project build on these signatures.
"""

from portal_tui.domain.pricing import (
    Breakdown,
    BreakdownRow,
    UnknownCurrencyError,
    amount_for,
    breakdown,
    describe_price,
    price_currencies,
)

__all__ = [
    "Breakdown",
    "BreakdownRow",
    "UnknownCurrencyError",
    "amount_for",
    "breakdown",
    "describe_price",
    "price_currencies",
]
