"""How `portal-tui` starts: the demo when no key was ever saved, else the admin's account, key loaded after frame 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal_tui.commands.app import real_context
from portal_tui.sandbox import Sandbox
from portal_tui.services.config_store import ConfigStore
from portal_tui.services.keystore import KeyStore, parse_key
from portal_tui.services.memory_keyring import MemoryKeyring
from portal_tui.ui.app import PortalApp
from portal_tui.ui.context import AppContext
from portal_tui.ui.widgets.top_bar import TopBar
from tests.conftest import TEST_KEY
from tests.support.slow_keyring import SlowKeyring
from tests.ui.helpers import settle, wait_until


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PORTAL_TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("PORTAL_TUI_CONFIG", raising=False)
    return tmp_path / "cfg"


def test_no_saved_key_means_demo(home: Path) -> None:
    assert real_context(None, None) is None
    assert real_context(None, None, force=True) is not None  # --no-demo


def test_saved_key_is_known_from_the_state_file_alone(home: Path) -> None:
    KeyStore(home, env={}, backend=MemoryKeyring()).save(parse_key(TEST_KEY))
    assert TEST_KEY not in (home / "state.toml").read_text()
    assert real_context(None, None) is not None


async def test_key_from_environment_connects_after_the_first_frame(
    home: Path, monkeypatch: pytest.MonkeyPatch, seeded_sandbox: Sandbox
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", TEST_KEY)
    context = real_context(None, seeded_sandbox.url)
    assert context is not None and not context.connected
    app = PortalApp(context, load_key_on_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert app.context.connected and app.context.account is not None
        assert app.context.stored_key is not None and app.context.stored_key.location == "$STRIPE_API_KEY"
        assert "TEST MODE" in str(app.screen.query_one(TopBar).render())


async def test_a_slow_keyring_at_start_up_is_read_off_the_event_loop(home: Path, seeded_sandbox: Sandbox) -> None:
    keyring = SlowKeyring()
    keyring.entries[("portal-tui", "secret-key-test")] = TEST_KEY
    context = AppContext(
        keystore=KeyStore(home, env={}, backend=keyring),
        config_store=ConfigStore(home / "plans.toml"),
        api_base=seeded_sandbox.url,
    )
    app = PortalApp(context, load_key_on_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, keyring.busy.is_set)
        await pilot.press("question_mark")  # answered while the keyring is still being read
        assert type(app.screen).__name__ == "HelpScreen"
        assert keyring.busy.is_set() and not app.context.connected
        await wait_until(pilot, lambda: app.context.connected)
        assert app.context.stored_key is not None and app.context.stored_key.key.reveal() == TEST_KEY
