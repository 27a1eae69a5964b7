"""Secrets are masked by these two functions, never by care at each print."""

from __future__ import annotations

import re

# sk_/rk_/pk_ test or live keys and webhook secrets, as they appear inside any text. A bare prefix ("starts with
# sk_test_", "whsec_…") has no secret in it and is left alone; any body at all is masked, even a fragment.
_KEY = re.compile(r"\b((?:sk|rk|pk)_(?:test|live)_|whsec_)([A-Za-z0-9_]+)")


def mask_key(key: str) -> str:
    """ "sk_test_51H…a1b2": the prefix that tells the mode and the last four characters, nothing else."""
    match = _KEY.match(key.strip())
    if not match:
        return "…" + key.strip()[-4:] if len(key.strip()) > 8 else "…"
    prefix, body = match.group(1), match.group(2)
    return f"{prefix}…{body[-4:]}" if len(body) > 8 else f"{prefix}…"


def redact(text: str) -> str:
    """`text` with every key-shaped substring masked."""
    return _KEY.sub(lambda m: mask_key(m.group(0)), text)
