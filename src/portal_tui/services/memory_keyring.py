"""A keyring that lives in memory only: the demo never touches the admin's real keyring, and nor do the tests.

Its own module because importing `keyring` costs ~65 ms: only the demo (and tests) pay for it.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from portal_tui.services.keystore import MEMORY_KEYRING_NAME


class MemoryKeyring(KeyringBackend):
    """Keeps passwords in a dict; nothing reaches the disk or the OS keyring."""

    priority = 1
    name = MEMORY_KEYRING_NAME

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(username)
