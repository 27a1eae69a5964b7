"""Secrets are masked by these two functions, never by care at each print."""

from __future__ import annotations

from portal_tui.domain.secrets import SECRET_KEY as _KEY


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
