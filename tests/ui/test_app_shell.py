"""The app shell: home steps and their state, mode badge, step keys, help, command palette, live confirmations."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input

from portal_tui.domain.pricing import PriceDraft
from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.widgets.price_table import PriceTable
from portal_tui.ui.widgets.top_bar import TopBar
from tests.conftest import LIVE_KEY, TEST_KEY
from tests.ui.helpers import settle, text_of, type_text, wait_until

# Part of the key's body: no fragment of it may show, however the text is wrapped or masked.
KEY_BODY = TEST_KEY.removeprefix("sk_test_")[:12]


async def test_home_shows_each_step_state(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rows = [str(row.render()) for row in app.screen.query("StepRow")]
        assert "connected to Sandbox Hosting Ltd, test mode" in rows[0]
        assert "13 active prices" in rows[1]
        assert "no plans yet" in rows[3]
        bar = str(app.screen.query_one(TopBar).render())
        assert "TEST MODE" in bar and "Sandbox Hosting Ltd" in bar


async def test_step_keys_and_function_keys_switch_screens(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, mode in [
            ("3", "catalog"),
            ("h", "home"),
            ("4", "plans"),
            ("f1", "connect"),
            ("f2", "builder"),
            ("f5", "verify"),
            ("f7", "home"),
            ("6", "go_live"),
            ("f6", "go_live"),
        ]:
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode, key


async def test_help_lists_bindings_and_closes(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "portal-tui keys" in text
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"


async def test_help_lists_every_binding_of_every_screen(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    from textual.binding import Binding

    from portal_tui.ui.app import SCREEN_CLASSES, screen_class
    from portal_tui.ui.screens.help import key_text
    from portal_tui.ui.screens.price_picker import PricePickerModal
    from portal_tui.ui.widgets.catalog_view import CatalogView
    from portal_tui.ui.widgets.confirm import ConfirmModal
    from portal_tui.ui.widgets.live_key_modal import LiveKeyModal
    from portal_tui.ui.widgets.lookup_key_modal import LookupKeyModal
    from portal_tui.ui.widgets.price_table import PriceTable

    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = "\n".join(text_of(w) for w in app.screen.query(".help-section"))
        owners = [PortalApp, PriceTable, CatalogView, PricePickerModal, ConfirmModal, LiveKeyModal, LookupKeyModal]
        owners += [screen_class(mode) for mode in SCREEN_CLASSES]
        for owner in owners:
            for binding in owner.BINDINGS:
                assert isinstance(binding, Binding)
                for key in binding.key.split(","):
                    assert key_text(key) in text, (owner.__name__, key)
                assert binding.description in text, (owner.__name__, binding.description)
        for gone in ("ctrl+delete", "ctrl+u"):  # keys the plan editor never had / no longer uses
            assert gone not in text
        for wanted in ("ctrl+l", "ctrl+g", "ctrl+d", "Delete plan", "f1", "f6", "f7", "Details", "6 Go live"):
            assert wanted in text


async def test_palette_offers_other_screens_actions_and_goes_there(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Plans: new plan", "Price IDs: refresh the catalog", "Connect: verify and save the key"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Plans: new plan")
        await wait_until(pilot, lambda: palette_top(app) == "Plans: new plan")
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "plans"
        assert [plan.name for plan in app.screen.config.plans] == ["New plan"]  # type: ignore[attr-defined]


async def test_palette_entries_name_their_keys(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    from portal_tui.ui.app import screen_class

    app = make_app(sandbox, key=None)
    async with app.run_test(size=(100, 30)):
        helps = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert helps["Plans: save the plan file"] == "Write the TOML atomically — ctrl+s"
        assert helps["Price IDs: copy the highlighted ID"].endswith("— c")
        assert helps["1 Connect Stripe"].endswith("— 1 or F1")
        assert helps["Help: every key binding"].endswith("— ?")
        # Every step action offered in the palette has a key, and its entry names it.
        for mode in ("home", "connect", "builder", "catalog", "plans", "verify", "go_live"):
            for title, _help, _action in getattr(screen_class(mode), "PALETTE_ACTIONS", []):
                assert " — " in helps[title], title


def palette_top(app: PortalApp) -> str | None:
    """The command the palette has highlighted (what enter runs), once its search has listed it."""
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    if not lists or lists.first().highlighted is None:
        return None
    command_list = lists.first()
    option = command_list.get_option_at_index(command_list.highlighted or 0)
    return str(option.prompt).split("\n")[0]


async def test_command_palette_offers_every_step(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in [
            "1 Connect Stripe",
            "2 Products & pricing",
            "3 Price IDs",
            "4 Plans & quotas",
            "5 Verify in test mode",
            "6 Go live",
            "Help: every key binding",
        ]:
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Price IDs")
        await wait_until(pilot, lambda: palette_top(app) == "3 Price IDs")
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "catalog"


async def test_not_connected_badge(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "NOT CONNECTED" in str(app.screen.query_one(TopBar).render())
        assert "not connected" in str(app.screen.query("StepRow").first().render())


async def test_live_mode_asks_before_every_write(make_app: Callable[..., PortalApp], live_sandbox: Sandbox) -> None:
    app = make_app(live_sandbox, key=LIVE_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "LIVE MODE" in str(app.screen.query_one(TopBar).render())
        answers: list[bool] = []

        async def ask() -> None:
            answers.append(await app.confirm_write("Create a price"))

        app.run_worker(ask())
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("escape")
        await settle(pilot)
        assert answers == [False]
        app.run_worker(ask())
        await pilot.pause()
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert answers == [False, True]


async def test_screens_not_on_view_follow_connect_and_disconnect(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "13 active prices" in str(app.screen.query("StepRow")[1].render())
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.click("#confirm-button")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.query_one("#not-connected").display
        await pilot.press("h")
        await settle(pilot)
        assert "NOT CONNECTED" in str(app.screen.query_one(TopBar).render())
        assert "active prices" not in str(app.screen.query("StepRow")[1].render())
        await pilot.press("1")
        await settle(pilot)
        app.screen.query_one("#secret-key", Input).value = TEST_KEY
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert not app.screen.query_one("#not-connected").display
        assert len(app.screen.query_one(PriceTable).rows) == 13
        # A price created elsewhere (step 2, or the Dashboard) shows on Home when it is next opened.
        gateway = app.context.gateway()
        product = gateway.create_product("Extra", None, idempotency_key="test-extra-product")
        draft = PriceDraft(unit_amount=Decimal(500))
        gateway.create_price(draft.to_stripe_params(product["id"]), idempotency_key="test-extra-price")
        await pilot.press("h")
        await settle(pilot)
        assert "14 active prices" in str(app.screen.query("StepRow")[1].render())


async def test_the_key_bar_keeps_help_visible_at_80_and_100_columns(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    from portal_tui.ui.widgets.key_bar import KeyBar

    for width in (80, 100):
        app = make_app(sandbox, key=None)
        async with app.run_test(size=(width, 24)) as pilot:
            await settle(pilot)
            bar = app.screen.query_one(KeyBar)
            text = str(bar.render())
            assert "? Help" in text and "^q Quit" in text, width
            assert len(text) <= width


async def test_a_crashing_worker_is_reported_without_the_key_and_the_app_stays_up(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal_tui.services.gateway import StripeGateway

    def broken_verify(self: StripeGateway) -> object:
        raise KeyError(f"no account for {self.key.reveal()}")

    monkeypatch.setattr(StripeGateway, "verify", broken_verify)
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await app.switch_mode("connect")
        await settle(pilot)
        field = app.screen.query_one("#secret-key", Input)
        field.value = TEST_KEY
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.is_running and app.return_code is None
        notes = [(n.title, n.message) for n in app._notifications]
        assert any("KeyError" in message for _title, message in notes), notes
        assert all(KEY_BODY not in title + message for title, message in notes)
        assert field.value == TEST_KEY  # what the admin pasted is still there
        assert not app.screen.query_one("#checking").has_class("visible")  # and Save works again
        assert not app.screen.query_one("#save").disabled
        await pilot.press("f3")  # and the app still answers keys
        await settle(pilot)
        assert app.current_mode == "catalog"


async def test_a_fatal_error_prints_no_locals_and_no_key(
    make_app: Callable[..., PortalApp],
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from portal_tui.ui.screens.connect import ConnectScreen

    def broken_reveal(self: ConnectScreen) -> None:
        secret = TEST_KEY  # a frame local, as KeyStore.get's `value` is
        raise ValueError(secret)

    monkeypatch.setattr(ConnectScreen, "action_reveal", broken_reveal)
    app = make_app(sandbox, key=None)
    rendered: list[str] = []
    original = app._print_error_renderables

    def keep_renderables() -> None:
        console = Console(width=400, file=io.StringIO(), record=True)
        for renderable in app._exit_renderables:
            console.print(renderable)
        rendered.append(console.export_text())
        original()

    monkeypatch.setattr(app, "_print_error_renderables", keep_renderables)
    with pytest.raises(ValueError):
        async with app.run_test(size=(120, 30)) as pilot:
            await app.switch_mode("connect")
            await settle(pilot)
            await pilot.press("ctrl+r")
            await settle(pilot)
    printed = "".join(rendered) + capsys.readouterr().err
    assert "ValueError" in printed and "broken_reveal" in printed
    assert KEY_BODY not in printed
    assert "secret = 'sk_test" not in printed  # no locals panel


async def test_screenshots_never_show_a_revealed_key(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, tmp_path: Path
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(120, 30)) as pilot:
        assert "Screenshot" not in [command.title for command in app.get_system_commands(app.screen)]
        await app.switch_mode("connect")
        await settle(pilot)
        field = app.screen.query_one("#secret-key", Input)
        field.value = TEST_KEY
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not field.password and KEY_BODY in text_of_screen(app)  # revealed on screen: the test can see it
        svg = Path(app.save_screenshot(path=str(tmp_path))).read_text()
        assert KEY_BODY not in svg.replace("&#160;", " ")
        assert field.password and field.value == TEST_KEY
        assert KEY_BODY not in app.export_screenshot()


def text_of_screen(app: PortalApp) -> str:
    """The characters on screen now, row by row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_catalog_changed_reaches_screens_not_on_view(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        for key in ("3", "4", "h"):  # build the catalog and the plan editor, then leave both
            await pilot.press(key)
            await settle(pilot)
        plans = app._unsaved_screen("plans")
        plans.form.checks[("price_stale", "monthly")] = (True, "cached")  # type: ignore[attr-defined]
        listed = seeded_sandbox.count("GET", "/v1/prices")
        app.catalog_changed()
        await settle(pilot)
        assert app.current_mode == "home"
        assert plans.form.checks == {}  # type: ignore[attr-defined]
        assert seeded_sandbox.count("GET", "/v1/prices") > listed  # the catalog re-read Stripe
