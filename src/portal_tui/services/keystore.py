"""Where the admin's Stripe secret key lives: $STRIPE_API_KEY, the OS keyring, or (only if chosen) a 0600 file.

The raw key leaves a `SecretKey` only through `reveal()`, which the gateway calls to talk to Stripe. Everything
else sees the masked form. The non-secret state file remembers which mode (test/live) is active.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from portal_tui import locations
from portal_tui.services.errors import KeyFormatError, KeyStorageError
from portal_tui.services.redact import mask_key

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

Mode = Literal["test", "live"]
ENV_VAR = "STRIPE_API_KEY"
SERVICE = "portal-tui"
# The part after `sk_test_` etc.: 99 characters in today's keys, 24 in legacy keys (Stripe's own docs example
# `sk_test_4eC39HqLyjWDarjtT1zdp7dc` included). Stripe does not promise a fixed length, so only the legacy length
# is a floor: anything shorter is certainly a truncated paste.
MIN_BODY_LENGTH = 24
_PREFIX = re.compile(r"^(sk|rk)_(test|live)_")
_BODY = re.compile(r"^[A-Za-z0-9_]+$")
# What masked displays look like: ours (`sk_test_…a1b2`), an ASCII rendering of it, and Stripe's (`sk_test_****a1b2`).
_MASKED = re.compile(r"…|\.\.\.|\*{3,}")
# The in-memory keyring's name (services/memory_keyring.py); here so StoredKey can word it without importing keyring.
MEMORY_KEYRING_NAME = "demo keyring (memory only)"


class KeySource(StrEnum):
    ENVIRONMENT = "environment"
    KEYRING = "keyring"
    FILE = "file"
    # Verified and in use until quit, written nowhere: for a machine where the admin wants neither keyring nor file.
    SESSION = "session"


@dataclass(frozen=True)
class SecretKey:
    """A validated Stripe secret or restricted key. Its repr and str are masked."""

    _raw: str = field(repr=False)
    mode: Mode = "test"
    restricted: bool = False

    def reveal(self) -> str:
        return self._raw

    @property
    def masked(self) -> str:
        return mask_key(self._raw)

    def __repr__(self) -> str:
        return f"SecretKey({self.masked}, mode={self.mode})"

    def __str__(self) -> str:
        return self.masked


def _clean(text: str) -> str:
    # A paste may carry a newline, spaces, or a wrap in the middle of a long key.
    return "".join(text.split())


def parse_key(text: str, *, source: str | None = None) -> SecretKey:
    """A SecretKey from what the admin pasted; KeyFormatError with a specific message otherwise.

    `source` names where the text came from (an environment variable) when it was not pasted, so the message can
    say which setting to fix.
    """
    raw = _clean(text)
    that = f"{source} holds" if source else "That is"
    the_key = f"The key in {source}" if source else "The key"
    hint = f"Set {source} to the secret key, or unset it to use a saved key." if source else None
    if not raw:
        raise KeyFormatError("Paste your secret key: it starts with sk_test_ or sk_live_.", hint=hint)
    if raw.startswith("pk_"):
        raise KeyFormatError(
            f"{that} a publishable key (pk_…). portal-tui needs the secret key (sk_…), "
            "shown under Dashboard → Developers → API keys → Secret key.",
            hint=hint,
        )
    if raw.startswith("whsec_"):
        raise KeyFormatError(
            f"{that} a webhook signing secret (whsec_…), not an API key. "
            "Use the secret key (sk_…) from Dashboard → Developers → API keys.",
            hint=hint,
        )
    match = _PREFIX.match(raw)
    if match and _MASKED.search(raw):
        raise KeyFormatError(
            f"{that} the masked form of a key, with the middle left out. "
            "Copy the full key from Dashboard → Developers → API keys.",
            hint=hint,
        )
    if not match:
        if raw.startswith(("sk_", "rk_")):
            raise KeyFormatError(f"{the_key} should start with sk_test_, sk_live_, rk_test_ or rk_live_.", hint=hint)
        raise KeyFormatError(
            f"{source or 'This'} does not look like a Stripe key: secret keys start with sk_test_ or sk_live_.",
            hint=hint,
        )
    if not _BODY.match(raw):
        raise KeyFormatError(
            f"{the_key} contains characters Stripe keys never have: copy it again.",
            hint=hint,
        )
    if len(raw) - match.end() < MIN_BODY_LENGTH:
        raise KeyFormatError(
            f"{the_key} is too short: it looks cut off. Copy the whole key again.",
            hint=hint,
        )
    return SecretKey(raw, mode="live" if match.group(2) == "live" else "test", restricted=match.group(1) == "rk")


def check_partial(text: str) -> str | None:
    """A hint while the admin is still typing or pasting; None when the text is (so far) plausible."""
    raw = _clean(text)
    if not raw:
        return None
    for start in ("sk_test_", "sk_live_", "rk_test_", "rk_live_"):
        if start.startswith(raw):
            return None  # still typing the prefix
    try:
        parse_key(raw)
    except KeyFormatError as error:
        return error.message
    return None


@dataclass(frozen=True)
class StoredKey:
    """A key and where it is kept: "$STRIPE_API_KEY", the keyring's name, the file's path, or nowhere (session)."""

    key: SecretKey
    source: KeySource
    location: str

    @property
    def description(self) -> str:
        if self.source is KeySource.ENVIRONMENT:
            return f"from the environment variable {self.location}"
        if self.source is KeySource.KEYRING:
            if self.location == MEMORY_KEYRING_NAME:
                return f"in the {self.location}"
            return f"in the system keyring ({self.location})"
        if self.source is KeySource.SESSION:
            return "for this session only (not saved)"
        return f"in the file {self.location} (mode 0600)"


def _username(mode: Mode) -> str:
    return f"secret-key-{mode}"


class KeyStore:
    """Finds, saves and removes the secret key; one keyring entry per mode."""

    def __init__(
        self,
        config_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        service: str = SERVICE,
        backend: KeyringBackend | None = None,
    ) -> None:
        self.config_dir = config_dir
        self.env = os.environ if env is None else env
        self.service = service
        self._backend = backend

    # ---- backend ----------------------------------------------------------------------------------------

    @property
    def backend(self) -> KeyringBackend:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def keyring_available(self) -> bool:
        """False for keyring's fail/null backends (headless servers) or when the backend cannot be used."""
        try:
            backend = self.backend
            name = type(backend).__module__ + "." + type(backend).__name__
            if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
                return False
            priority = getattr(backend, "priority", 1)
            return bool(priority is None or priority > 0)
        except Exception:
            return False

    def keyring_name(self) -> str:
        backend = self.backend
        return str(getattr(backend, "name", type(backend).__name__))

    def file_path(self, mode: Mode) -> Path:
        return locations.key_file(self.config_dir, mode)

    # ---- active mode (non-secret state) -----------------------------------------------------------------

    def _state(self) -> dict[str, object]:
        try:
            text = locations.state_file(self.config_dir).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        import tomllib  # only once there is a file: most start-ups have none to read before the first frame

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {}

    def _write_state(self, **changes: object) -> None:
        import tomli_w

        state = {**self._state(), **changes}
        path = locations.state_file(self.config_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(tomli_w.dumps(state), encoding="utf-8")
        os.replace(tmp, path)

    @property
    def active_mode(self) -> Mode:
        return "live" if self._state().get("active_mode") == "live" else "test"

    @active_mode.setter
    def active_mode(self, mode: Mode) -> None:
        self._write_state(active_mode=mode)

    def saved_modes(self) -> list[str]:
        """Modes with a saved key, from the non-secret state file: known without touching the keyring."""
        saved = self._state().get("saved_modes", [])
        return [str(mode) for mode in saved] if isinstance(saved, list) else []

    def has_saved_key(self) -> bool:
        """Cheap start-up check: is there any key to load (environment, saved, or a fallback file)?"""
        return bool(
            self.env.get(ENV_VAR, "").strip()
            or self.saved_modes()
            or any(self.file_path(mode).exists() for mode in ("test", "live"))
        )

    # ---- lookup -------------------------------------------------------------------------------------------

    def from_environment(self) -> StoredKey | None:
        value = self.env.get(ENV_VAR, "").strip()
        if not value:
            return None
        return StoredKey(parse_key(value, source=ENV_VAR), KeySource.ENVIRONMENT, f"${ENV_VAR}")

    def get(self, mode: Mode) -> StoredKey | None:
        """The key saved for `mode` in the keyring or the fallback file (not the environment).

        A keyring that exists but fails (locked, no prompter over SSH) does not hide a key kept in the file.
        """
        keyring_error: Exception | None = None
        if self.keyring_available():
            try:
                value = self.backend.get_password(self.service, _username(mode))
            except Exception as error:
                keyring_error, value = error, None
            if value:
                return StoredKey(parse_key(value), KeySource.KEYRING, self.keyring_name())
        path = self.file_path(mode)
        if path.exists():
            try:
                value = path.read_text(encoding="utf-8")
            except OSError as error:
                raise KeyStorageError(f"Cannot read {path}: {error.strerror}") from None
            return StoredKey(parse_key(value), KeySource.FILE, str(path))
        if keyring_error is not None:
            raise KeyStorageError(f"The keyring could not be read: {type(keyring_error).__name__}") from None
        return None

    def current(self) -> StoredKey | None:
        """$STRIPE_API_KEY first, then the active mode's saved key, then the other mode's."""
        env = self.from_environment()
        if env is not None:
            return env
        active = self.active_mode
        other: Mode = "live" if active == "test" else "test"
        return self.get(active) or self.get(other)

    # ---- changes ------------------------------------------------------------------------------------------

    def save(self, key: SecretKey, *, allow_file: bool = False, activate: bool = True) -> StoredKey:
        """Keep the key in the keyring; in a 0600 file only when no keyring works and the admin chose it.

        "No keyring works" includes a keyring that exists but refuses (locked, no prompter over SSH). Each mode has
        its own entry, so a test and a live key are kept side by side. `activate=False` keeps the key without
        making its mode the active one (Go live saves the live key while the app stays in test mode).
        """
        keyring_error: Exception | None = None
        if self.keyring_available():
            try:
                self.backend.set_password(self.service, _username(key.mode), key.reveal())
            except Exception as error:
                keyring_error = error
            else:
                self.file_path(key.mode).unlink(missing_ok=True)
                stored = StoredKey(key, KeySource.KEYRING, self.keyring_name())
                self._saved(key.mode, activate)
                return stored
        if not allow_file:
            if keyring_error is not None:
                raise KeyStorageError(f"The keyring refused the key: {type(keyring_error).__name__}")
            raise KeyStorageError(
                "No system keyring is available on this machine.",
                hint="Choose 'store in a file' to keep the key in a file only you can read (mode 0600).",
            )
        stored = StoredKey(key, KeySource.FILE, str(self._write_file(key)))
        self._saved(key.mode, activate)
        return stored

    def _saved(self, mode: Mode, activate: bool) -> None:
        """Note in the state file that `mode` has a saved key and, when asked, make it the active mode."""
        changes: dict[str, object] = {"saved_modes": sorted({*self.saved_modes(), mode})}
        if activate:
            changes["active_mode"] = mode
        self._write_state(**changes)

    def session(self, key: SecretKey) -> StoredKey:
        """The key for this run only: nothing is written, not even the active mode, and quitting forgets it."""
        return StoredKey(key, KeySource.SESSION, "this session only")

    def _write_file(self, key: SecretKey) -> Path:
        path = self.file_path(key.mode)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        try:
            # Created 0600 from the first byte: never readable by others, not even for an instant.
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key.reveal())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise KeyStorageError(f"Cannot write {path}: {error.strerror}") from None
        return path

    def remove(self, mode: Mode) -> None:
        """Forget the key for `mode` wherever it was saved (the environment variable is not ours to remove).

        The file goes even when the keyring fails; the failure is still reported, since the keyring may hold a key.
        """
        path = self.file_path(mode)
        had_file = path.exists()
        path.unlink(missing_ok=True)
        keyring_error: Exception | None = None
        if self.keyring_available():
            try:
                if self.backend.get_password(self.service, _username(mode)) is not None:
                    self.backend.delete_password(self.service, _username(mode))
            except Exception as error:
                keyring_error = error
        if keyring_error is not None:
            removed = f"The key file {path} was removed, but the" if had_file else "The"
            raise KeyStorageError(
                f"{removed} keyring could not be reached to remove a key kept there: {type(keyring_error).__name__}",
                hint="Unlock the keyring and disconnect again, or remove the portal-tui entry with your keyring tool.",
            )
        self._write_state(saved_modes=[m for m in self.saved_modes() if m != mode])
