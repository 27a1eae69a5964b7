"""The key store: parsing pastes, where keys come from, and where they are (never) written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailKeyring
from keyring.errors import KeyringLocked

from portal_tui.services.errors import KeyFormatError, KeyStorageError
from portal_tui.services.keystore import KeySource, KeyStore, check_partial, parse_key
from portal_tui.services.memory_keyring import MemoryKeyring
from tests.conftest import LIVE_KEY, TEST_KEY

RESTRICTED = "rk_live_" + "A1b2" * 10


class LockedKeyring(MemoryKeyring):
    """A keyring that exists (positive priority) but refuses every call, like a locked one over SSH."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked and no prompter is available")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked and no prompter is available")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the collection is locked and no prompter is available")


@pytest.mark.parametrize(
    ("text", "mode", "restricted"),
    [
        (TEST_KEY, "test", False),
        (f"  {LIVE_KEY}\n", "live", False),
        (RESTRICTED, "live", True),
        (TEST_KEY[:30] + "\n" + TEST_KEY[30:], "test", False),
    ],
)
def test_parse_accepts_secret_and_restricted_keys(text: str, mode: str, restricted: bool) -> None:
    key = parse_key(text)
    assert key.mode == mode and key.restricted is restricted
    assert key.reveal() == "".join(text.split())
    assert key.reveal() not in repr(key) and key.reveal() not in str(key)
    assert key.masked.endswith(key.reveal()[-4:]) and "…" in key.masked


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Paste your secret key"),
        ("pk_test_" + "a" * 30, "publishable key"),
        ("whsec_" + "a" * 30, "webhook signing secret"),
        ("sk_test_abc", "too short"),
        ("sk_test_" + "a" * 23, "too short"),  # one short of a legacy key's 24-character body
        ("sk_test_…a1b2", "masked form"),
        ("sk_test_****************a1b2", "masked form"),
        ("rk_live_...a1b2", "masked form"),
        ("sk_test_" + "a" * 20 + "-x", "characters"),
        ("sk_foo_" + "a" * 30, "should start with"),
        ("hello there", "does not look like a Stripe key"),
    ],
)
def test_parse_refuses_with_specific_messages(text: str, words: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_key(text)
    assert words in caught.value.message
    assert caught.value.field == "key"


def test_legacy_length_keys_are_accepted() -> None:
    # Stripe's documented legacy test key shape: a 24-character body
    assert parse_key("sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc").mode == "test"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("pk_live_" + "a" * 30, "STRIPE_API_KEY holds a publishable key"),
        ("whsec_" + "a" * 30, "STRIPE_API_KEY holds a webhook signing secret"),
        ("sk_test_abc", "The key in STRIPE_API_KEY is too short"),
    ],
)
def test_a_wrong_environment_key_names_the_variable(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        store(tmp_path, env={"STRIPE_API_KEY": text}).current()
    assert words in caught.value.message
    assert "STRIPE_API_KEY" in str(caught.value.hint)
    assert text not in caught.value.message + str(caught.value.hint)


def test_messages_keep_bare_prefixes_as_written() -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_key("whsec_" + "a" * 30)
    assert "(whsec_…), not an API key" in caught.value.message
    with pytest.raises(KeyFormatError) as caught:
        parse_key("")
    assert "starts with sk_test_ or sk_live_." in caught.value.message


def test_check_partial_is_quiet_while_typing_the_prefix() -> None:
    assert check_partial("sk_te") is None
    assert check_partial("") is None
    assert check_partial(TEST_KEY) is None
    assert "publishable" in (check_partial("pk_live_x") or "")


def store(tmp_path: Path, backend: object | None = None, env: dict[str, str] | None = None) -> KeyStore:
    return KeyStore(tmp_path, env=env or {}, backend=backend if backend is not None else MemoryKeyring())  # type: ignore[arg-type]


def test_save_in_keyring_one_entry_per_mode(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    keys = store(tmp_path, keyring)
    saved = keys.save(parse_key(TEST_KEY))
    assert saved.source is KeySource.KEYRING
    keys.save(parse_key(LIVE_KEY))
    assert keyring.entries == {("portal-tui", "secret-key-test"): TEST_KEY, ("portal-tui", "secret-key-live"): LIVE_KEY}
    current = keys.current()
    assert current is not None and current.key.mode == "live"  # the last saved mode is active
    keys.active_mode = "test"
    assert keys.current().key.mode == "test"  # type: ignore[union-attr]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TEST_KEY not in path.read_text() and LIVE_KEY not in path.read_text()
    keys.remove("live")
    assert ("portal-tui", "secret-key-live") not in keyring.entries
    assert keys.get("live") is None


def test_environment_variable_comes_first_and_is_never_stored(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    keys = store(tmp_path, keyring, env={"STRIPE_API_KEY": LIVE_KEY})
    keys.save(parse_key(TEST_KEY))
    current = keys.current()
    assert current is not None and current.source is KeySource.ENVIRONMENT and current.location == "$STRIPE_API_KEY"
    assert LIVE_KEY not in keyring.entries.values()


def test_headless_machine_needs_an_explicit_file_choice(tmp_path: Path) -> None:
    keys = store(tmp_path, FailKeyring())
    assert not keys.keyring_available()
    with pytest.raises(KeyStorageError, match="No system keyring"):
        keys.save(parse_key(TEST_KEY))
    assert list(tmp_path.glob("secret-key*")) == []
    saved = keys.save(parse_key(TEST_KEY), allow_file=True)
    assert saved.source is KeySource.FILE
    path = Path(saved.location)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == TEST_KEY
    again = store(tmp_path, FailKeyring()).current()
    assert again is not None and again.key.reveal() == TEST_KEY and again.source is KeySource.FILE
    keys.remove("test")
    assert not path.exists() and keys.current() is None


def test_file_is_never_world_readable_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        saved = store(tmp_path, FailKeyring()).save(parse_key(TEST_KEY), allow_file=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(saved.location).st_mode) == 0o600


def test_saving_to_keyring_removes_an_old_file(tmp_path: Path) -> None:
    store(tmp_path, FailKeyring()).save(parse_key(TEST_KEY), allow_file=True)
    keys = store(tmp_path, MemoryKeyring())
    keys.save(parse_key(TEST_KEY))
    assert list(tmp_path.glob("secret-key*")) == []


def test_a_failing_keyring_falls_back_to_the_chosen_file(tmp_path: Path) -> None:
    keys = store(tmp_path, LockedKeyring())
    assert keys.keyring_available()
    with pytest.raises(KeyStorageError, match="KeyringLocked") as caught:
        keys.save(parse_key(TEST_KEY))
    assert TEST_KEY not in str(caught.value) and "0600 file" in str(caught.value.hint)
    assert list(tmp_path.glob("secret-key*")) == []
    saved = keys.save(parse_key(TEST_KEY), allow_file=True)
    assert saved.source is KeySource.FILE and Path(saved.location).read_text() == TEST_KEY
    found = store(tmp_path, LockedKeyring()).current()
    assert found is not None and found.key.reveal() == TEST_KEY and found.source is KeySource.FILE


def test_a_failing_keyring_with_no_file_is_reported_not_taken_for_no_key(tmp_path: Path) -> None:
    with pytest.raises(KeyStorageError, match="could not be read"):
        store(tmp_path, LockedKeyring()).get("test")


def test_remove_deletes_the_file_even_when_the_keyring_fails(tmp_path: Path) -> None:
    keys = store(tmp_path, LockedKeyring())
    path = Path(keys.save(parse_key(TEST_KEY), allow_file=True).location)
    with pytest.raises(KeyStorageError, match="was removed") as caught:
        keys.remove("test")
    assert TEST_KEY not in str(caught.value)
    assert not path.exists()
    assert store(tmp_path, FailKeyring()).current() is None


def test_a_session_key_is_written_nowhere(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    store = KeyStore(tmp_path / "config", env={}, backend=keyring)
    stored = store.session(parse_key(TEST_KEY))
    assert stored.source is KeySource.SESSION and stored.key.reveal() == TEST_KEY
    assert stored.description == "for this session only (not saved)"
    assert keyring.entries == {} and not (tmp_path / "config").exists()
    assert store.current() is None and not store.has_saved_key()


def test_the_demo_keyring_is_named_once(tmp_path: Path) -> None:
    stored = KeyStore(tmp_path, env={}, backend=MemoryKeyring()).save(parse_key(TEST_KEY))
    assert stored.description == "in the demo keyring (memory only)"


# ---- a test and a live key side by side (Go live) --------------------------------------------------------------


def test_save_without_activating_keeps_the_active_mode(tmp_path: Path) -> None:
    keyring = MemoryKeyring()
    keys = store(tmp_path, keyring)
    keys.save(parse_key(TEST_KEY))
    stored = keys.save(parse_key(LIVE_KEY), activate=False)
    assert stored.source is KeySource.KEYRING and stored.key.mode == "live"
    assert keys.active_mode == "test"
    current = keys.current()
    assert current is not None and current.key.reveal() == TEST_KEY
    live = keys.get("live")
    assert live is not None and live.key.reveal() == LIVE_KEY
    assert sorted(keys.saved_modes()) == ["live", "test"]
    # A fresh store (the next start) sees the same: test active, both kept.
    again = store(tmp_path, keyring)
    assert again.active_mode == "test" and again.current().key.reveal() == TEST_KEY  # type: ignore[union-attr]
    # Saving with activate (the default) switches, as before.
    keys.save(parse_key(LIVE_KEY))
    assert store(tmp_path, keyring).active_mode == "live"


def test_the_first_key_saved_without_activating_does_not_become_active(tmp_path: Path) -> None:
    keys = store(tmp_path)
    keys.save(parse_key(LIVE_KEY), activate=False)
    assert keys.active_mode == "test" and keys.has_saved_key()
    # No test key: current() still finds the saved one, as it always looked in the other mode too.
    current = keys.current()
    assert current is not None and current.key.mode == "live"


@pytest.mark.parametrize("backend", [FailKeyring(), LockedKeyring()], ids=["no-keyring", "locked-keyring"])
def test_save_without_activating_keeps_the_file_fallback_rules(tmp_path: Path, backend: object) -> None:
    keys = store(tmp_path, backend)
    keys.save(parse_key(TEST_KEY), allow_file=True)
    with pytest.raises(KeyStorageError):
        keys.save(parse_key(LIVE_KEY), activate=False)  # no file unless the admin chose it
    assert not keys.file_path("live").exists() and keys.saved_modes() == ["test"]
    stored = keys.save(parse_key(LIVE_KEY), allow_file=True, activate=False)
    path = Path(stored.location)
    assert stored.source is KeySource.FILE and path == keys.file_path("live")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.read_text() == LIVE_KEY
    assert keys.active_mode == "test"
    current = keys.current()
    assert current is not None and current.key.reveal() == TEST_KEY
    assert sorted(keys.saved_modes()) == ["live", "test"]
