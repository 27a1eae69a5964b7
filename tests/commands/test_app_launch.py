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
    keyring.hold()  # the read stays in progress until the test lets it go
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
        keyring.let_go()
        await wait_until(pilot, lambda: app.context.connected)
        assert app.context.stored_key is not None and app.context.stored_key.key.reveal() == TEST_KEY


def launched(monkeypatch: pytest.MonkeyPatch, **options: object) -> PortalApp:
    """Run `run_app` up to the point the app would take the terminal; the app it built."""
    from portal_tui.commands.app import run_app

    apps: list[PortalApp] = []
    monkeypatch.setattr(PortalApp, "run", lambda self, *args, **kwargs: apps.append(self))
    assert run_app(**options) == 0  # type: ignore[arg-type]
    return apps[0]


def test_demo_with_config_keeps_its_plans_in_that_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = tmp_path / "kept" / "plans.toml"
    app = launched(monkeypatch, config=str(plans), api_base=None, demo=True)
    assert app.context.config_store.path == plans
    assert not app.context.plans_are_throwaway and app.context.plans_note is None
    assert app.start_notice is None
    # The key store stays throwaway: the in-memory keyring, not the admin's config folder.
    assert isinstance(app.context.keystore.backend, MemoryKeyring)
    assert app.context.keystore.config_dir != home and not home.exists()


def test_demo_says_its_plans_are_thrown_away(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = launched(monkeypatch, config=None, api_base=None, demo=True)
    path = app.context.config_store.path
    assert app.context.demo and app.context.plans_are_throwaway
    assert not path.is_relative_to(home)
    assert app.start_notice is not None
    assert str(path) in app.start_notice and "thrown away when you quit" in app.start_notice
    assert "--demo --config PATH" in app.start_notice


async def test_quitting_a_demo_with_saved_plans_says_they_are_thrown_away(
    tmp_path: Path, seeded_sandbox: Sandbox
) -> None:
    from portal_tui.commands.app import demo_context
    from portal_tui.domain.plans import PlanConfig
    from portal_tui.ui.widgets.confirm import ConfirmModal

    context = demo_context(tmp_path, seeded_sandbox.url)
    app = PortalApp(context)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        context.config_store.save(PlanConfig())  # as the plan editor's ctrl+s does
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        details = str(app.screen.query_one("#confirm-details").render())
        assert "demo plans are thrown away" in details and str(context.config_store.path) in details
        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running


async def test_quitting_a_demo_without_saved_plans_asks_nothing(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    from portal_tui.commands.app import demo_context

    app = PortalApp(demo_context(tmp_path, seeded_sandbox.url))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert not app.is_running


async def test_saving_plans_in_the_demo_says_where_they_go(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    from portal_tui.commands.app import demo_context

    context = demo_context(tmp_path, seeded_sandbox.url)
    app = PortalApp(context)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert context.config_store.path.exists()
        notes = [n.message for n in app._notifications if n.title == "Demo"]
        assert notes and "thrown away when you quit" in notes[0] and "--demo --config PATH" in notes[0]
