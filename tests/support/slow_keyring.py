"""A keyring that answers slowly, to show the event loop never waits on it."""

from __future__ import annotations

import threading
import time

from portal_tui.services.memory_keyring import MemoryKeyring


class SlowKeyring(MemoryKeyring):
    """A keyring that takes half a second per call, like gnome-keyring waiting on its unlock prompt."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.busy = threading.Event()
        self.held = False
        self.released = threading.Event()

    def hold(self) -> None:
        """Calls wait until `let_go()` (at most 30 s) instead of half a second: no race with a busy machine."""
        self.held = True
        self.released.clear()

    def let_go(self) -> None:
        self.released.set()

    def _slow(self, call: str) -> None:
        self.calls.append(call)
        self.busy.set()
        if self.held:
            self.released.wait(30)
        else:
            time.sleep(0.5)
        self.busy.clear()

    def get_password(self, service: str, username: str) -> str | None:
        self._slow("get")
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._slow("set")
        super().set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self._slow("delete")
        super().delete_password(service, username)
