"""Masking keys in any text, and recognising key-shaped text where it does not belong."""

from __future__ import annotations

import pytest

from portal_tui.domain.secrets import looks_like_secret_key
from portal_tui.services.redact import mask_key, redact
from tests.conftest import TEST_KEY

RESTRICTED = "rk_live_" + "A1b2" * 10


def test_redact_masks_every_key_in_text() -> None:
    text = f"failed with {TEST_KEY} and {RESTRICTED}, also pk_test_{'z' * 20}"
    cleaned = redact(text)
    assert TEST_KEY not in cleaned and RESTRICTED not in cleaned and "z" * 20 not in cleaned
    assert mask_key(TEST_KEY) in cleaned


def test_mask_key_keeps_the_mode_and_the_last_four_only() -> None:
    assert mask_key(TEST_KEY) == "sk_test_…0001"
    assert mask_key("sk_live_short") == "sk_live_…"
    assert mask_key("not a key at all") == "… all"


def test_bare_prefixes_stay_as_written_and_any_body_is_masked() -> None:
    assert redact("keys start with sk_test_, rk_live_ or whsec_.") == "keys start with sk_test_, rk_live_ or whsec_."
    assert redact("cut: sk_test_a1 and whsec_b") == "cut: sk_test_… and whsec_…"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (TEST_KEY, True),
        ("sk_live_", True),  # a prefix alone is still no price ID
        (f"price {RESTRICTED}", True),
        ("whsec_abc", True),
        ("price_1PortalPro", False),
        ("task_test_plan", False),  # the prefix must start a word
        ("", False),
    ],
)
def test_looks_like_secret_key(text: str, secret: bool) -> None:
    assert looks_like_secret_key(text) is secret
