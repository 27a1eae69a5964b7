"""The billing calculator's stable entry point: what Stripe bills for one price at one quantity.

`amount_for(price, quantity) -> int` takes a Stripe Price as the API returns it (a plain dict, tiers
expanded) and the period's quantity, and returns the minor units billed.
Other parts of the project build on this signature.
"""

from portal_tui.domain.pricing import Breakdown, BreakdownRow, amount_for, breakdown, describe_price

__all__ = ["Breakdown", "BreakdownRow", "amount_for", "breakdown", "describe_price"]
