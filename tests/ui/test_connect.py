"""Connect Stripe through the real screen: good, wrong, publishable and live keys, file fallback, disconnect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from keyring.backends.fail import Keyring as FailKeyring
from textual.widgets import Input

from portal_tui.sandbox import Sandbox
from portal_tui.services.keystore import KeySource
from portal_tui.services.memory_keyring import MemoryKeyring
from portal_tui.ui.app import PortalApp
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar
from tests.conftest import LIVE_KEY, TEST_KEY
from tests.support.slow_keyring import SlowKeyring
from tests.ui.helpers import settle, wait_until


async def open_connect(pilot: object, app: PortalApp) -> None:
    await app.switch_mode("connect")
    await settle(pilot)  # type: ignore[arg-type]


async def paste_and_save(pilot: object, app: PortalApp, key: str) -> None:
    field = app.screen.query_one("#secret-key", Input)
    field.value = key
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]


def error_text(app: PortalApp) -> str:
    return app.screen.query_one("#key-error", FieldError).message


async def test_good_key_connects_and_is_kept_in_the_keyring(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, f"  {TEST_KEY}\n")
        assert app.context.connected and app.context.account is not None
        assert memory_keyring.entries[("portal-tui", "secret-key-test")] == TEST_KEY
        account = str(app.screen.query_one("#account").render())
        assert "Sandbox Hosting Ltd" in account and "acct_" in account and "GB" in account
        assert "Mode: TEST" in account and "keyring" in account
        assert TEST_KEY not in account
        assert "TEST MODE" in str(app.screen.query_one(TopBar).render())
        assert app.screen.query_one("#secret-key", Input).value == ""


async def test_wrong_key_shows_the_error_and_keeps_the_input(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    app = make_app(sandbox, key=None)
    wrong = "sk_test_revoked" + "9" * 30
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, wrong)
        assert "Stripe did not accept this key" in error_text(app)
        assert wrong not in error_text(app)
        assert app.screen.query_one("#secret-key", Input).value == wrong
        assert not app.context.connected and memory_keyring.entries == {}


async def test_publishable_key_gets_a_specific_message_as_you_type(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        app.screen.query_one("#secret-key", Input).value = "pk_test_" + "a" * 30
        await pilot.pause()
        assert "publishable key" in error_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "publishable key" in error_text(app)
        assert sandbox.requests == []


async def test_live_key_turns_the_badge_live(
    make_app: Callable[..., PortalApp], live_sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    app = make_app(live_sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, LIVE_KEY)
        assert app.context.livemode
        assert "LIVE MODE" in str(app.screen.query_one(TopBar).render())
        assert "every write will ask" in str(app.screen.query_one("#live-notice").render()).lower()


async def test_disconnect_removes_the_key(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        assert memory_keyring.entries
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert memory_keyring.entries == {} and not app.context.connected
        assert "NOT CONNECTED" in str(app.screen.query_one(TopBar).render())


async def test_headless_machine_offers_the_0600_file(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: object
) -> None:
    app = make_app(sandbox, key=None, keyring_backend=FailKeyring())
    async with app.run_test(size=(100, 40)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, TEST_KEY)
        assert not app.context.connected
        assert app.screen.query_one("#file-choice").has_class("visible")
        await pilot.click("#store-file")
        await settle(pilot)
        assert app.context.connected
        stored = app.context.stored_key
        assert stored is not None and stored.source is KeySource.FILE
        assert "0600" in str(app.screen.query_one("#account").render())


async def test_headless_machine_can_use_the_key_for_this_session_only(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(sandbox, key=None, keyring_backend=FailKeyring())
    async with app.run_test(size=(100, 40)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, TEST_KEY)
        # The key was good: the status says so while the admin chooses where to keep it.
        account = str(app.screen.query_one("#account").render())
        assert "Key verified for Sandbox Hosting Ltd" in account and "choose where to keep it" in account
        assert "Not connected" not in account
        await pilot.click("#session-only")
        await settle(pilot)
        stored = app.context.stored_key
        assert stored is not None and stored.source is KeySource.SESSION
        assert app.context.account is not None
        assert "this session only" in str(app.screen.query_one("#account").render())
        assert not app.screen.query_one("#file-choice").has_class("visible")
        assert list(config_dir.iterdir()) == []  # no key file, not even the state file
        # Disconnect just forgets it: nothing to remove, nothing to confirm.
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert not app.context.connected
        assert "Not connected" in str(app.screen.query_one("#account").render())
        assert list(config_dir.iterdir()) == []


class LockedKeyring(MemoryKeyring):
    """A keyring that is there but refuses, as a locked one does over SSH with no prompter."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("the collection is locked")


async def test_a_keyring_that_refuses_offers_the_file_too(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox, key=None, keyring_backend=LockedKeyring())
    async with app.run_test(size=(100, 40)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, TEST_KEY)
        assert not app.context.connected
        assert "keyring refused" in error_text(app)
        assert app.screen.query_one("#file-choice").has_class("visible")
        await pilot.click("#store-file")
        await settle(pilot)
        stored = app.context.stored_key
        assert stored is not None and stored.source is KeySource.FILE


async def test_escape_leaves_the_key_field_so_step_keys_work(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        await settle(pilot)
        field = app.screen.query_one("#secret-key", Input)
        assert app.focused is field
        bar = str(app.screen.query_one(KeyBar).render())
        assert "F1-F6" in bar and "F7" in bar  # the keys that still switch steps while typing
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is None
        assert "F1-F6" not in str(app.screen.query_one(KeyBar).render())
        await pilot.press("4")
        await settle(pilot)
        assert app.current_mode == "plans" and field.value == ""


async def test_a_revealed_key_is_masked_again_after_saving(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        await pilot.press("ctrl+r")
        assert not app.screen.query_one("#secret-key", Input).password
        await paste_and_save(pilot, app, TEST_KEY)
        assert app.context.connected
        assert app.screen.query_one("#secret-key", Input).password


async def test_the_demo_accepts_a_live_key(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    # The demo's sandbox plays both modes: a live key opens its (local) live world.
    app = make_app(sandbox, key=None)
    app.context.demo = True
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, LIVE_KEY)
        assert app.context.livemode and "revoked" not in error_text(app)


async def test_a_slow_keyring_does_not_freeze_the_screen(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    keyring = SlowKeyring()
    app = make_app(sandbox, key=None, keyring_backend=keyring)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        app.screen.query_one("#secret-key", Input).value = TEST_KEY
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "set" in keyring.calls)
        # While the keyring holds on to the key, the spinner shows and key presses are handled.
        assert app.screen.query_one("#checking").has_class("visible")
        await pilot.press("ctrl+r")
        assert not app.screen.query_one("#secret-key", Input).password
        assert keyring.busy.is_set() and keyring.entries == {}
        await wait_until(pilot, lambda: app.context.connected)
        assert keyring.entries[("portal-tui", "secret-key-test")] == TEST_KEY
        assert not app.screen.query_one("#checking").has_class("visible")
        # Disconnect reads and deletes the entry: the same holds.
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: keyring.busy.is_set())
        assert app.screen.query_one("#secret-key", Input).password  # masked again once the key was saved
        await pilot.press("ctrl+r")
        assert not app.screen.query_one("#secret-key", Input).password
        assert keyring.busy.is_set() and app.context.connected
        await wait_until(pilot, lambda: not app.context.connected)
        assert keyring.entries == {}


async def test_stripe_errors_retry_without_sleeping_in_tests(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox, key=None)
    sandbox.faults.add(method="GET", path="/v1/account", kind="500", times=3, when="after")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        await paste_and_save(pilot, app, TEST_KEY)
        assert "internal error" in error_text(app)
        tries = [r for r in sandbox.requests if r.path == "/v1/account"]
        assert len(tries) == 3  # the first try and two retries
        # Measured between the sandbox's arrivals, so a busy machine's UI overhead does not count: Stripe's own
        # back-off would put 0.5 s + 1 s between them.
        assert tries[-1].received - tries[0].received < 0.5


async def test_a_key_pasted_across_wrapped_lines_is_kept_whole(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    from textual import events

    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_connect(pilot, app)
        field = app.screen.query_one("#secret-key", Input)
        # A terminal that wrapped the long key pastes it as two lines (with the wrap's indent).
        field.post_message(events.Paste(f"{TEST_KEY[:30]}\n  {TEST_KEY[30:]}\n"))
        await pilot.pause()
        assert field.value == TEST_KEY
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.context.connected
        assert memory_keyring.entries[("portal-tui", "secret-key-test")] == TEST_KEY
