"""What a Stripe secret looks like inside any text: one pattern for masking keys and for refusing them as data."""

from __future__ import annotations

import re

# sk_/rk_/pk_ test or live keys and webhook secrets.
_PREFIX = r"\b((?:sk|rk|pk)_(?:test|live)_|whsec_)"
# A prefix followed by any body at all, even a fragment: what redaction masks. A bare prefix ("starts with
# sk_test_") holds no secret and is left alone there.
SECRET_KEY = re.compile(_PREFIX + r"([A-Za-z0-9_]+)")
_SECRET_PREFIX = re.compile(_PREFIX)


def looks_like_secret_key(text: str) -> bool:
    """True when `text` holds a key or a key's prefix: pasted where a price ID or a name belongs, it is refused."""
    return _SECRET_PREFIX.search(text) is not None
