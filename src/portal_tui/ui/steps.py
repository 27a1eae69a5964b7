"""The six steps of the setup flow: the app binds their keys, Home lists them."""

from __future__ import annotations

# step key, mode name, title, what the admin does there
STEPS: list[tuple[str, str, str, str]] = [
    ("1", "connect", "Connect Stripe", "Paste and verify the secret key; see TEST or LIVE mode"),
    ("2", "builder", "Products & pricing", "Create a product and its recurring price in any pricing model"),
    ("3", "catalog", "Price IDs", "Browse the catalog, preview amounts, copy a price ID"),
    ("4", "plans", "Plans & quotas", "Link each portal plan to its prices and set resource quotas"),
    ("5", "verify", "Verify in test mode", "Subscribe a test customer and check the invoice"),
    ("6", "go_live", "Go live", "Promote verified plans to live mode; see what the live account still needs"),
]
