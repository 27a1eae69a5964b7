"""The plan editor's wiring: keys, fields, lookups, questions and focus bound to its form model.

The rules themselves (field checks, unsaved changes, the file on disk, Verify records, price slots) are tested
without Textual in tests/forms/test_plan_form.py.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.screens.plans import PlansScreen
from portal_tui.ui.widgets.field_error import FieldError
from tests.conftest import LIVE_KEY
from tests.forms.test_plan_form import replace_price, seed_price
from tests.ui.helpers import settle, type_text


async def open_plans(pilot: object, app: PortalApp) -> None:
    await app.switch_mode("plans")
    await settle(pilot)  # type: ignore[arg-type]


async def checked(pilot: Pilot[None]) -> None:
    """Wait out the price lookup's typing pause, then the lookup."""
    await pilot.pause(PlansScreen.lookup_delay + 0.1)
    await settle(pilot)


async def test_create_link_quota_save_and_reload(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(seeded_sandbox)
    price = seed_price(seeded_sandbox, "pro_monthly")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        name = app.screen.query_one("#plan-name", Input)
        name.value = ""
        await type_text(pilot, "Pro VPS")
        assert app.screen.query_one("#plan-id", Input).value == "pro-vps"  # a new plan's ID follows its name
        app.screen.query_one("#price-test", Input).value = price
        await checked(pilot)
        state = str(app.screen.query_one("#state-price-test").render())
        assert "✓ Pro VPS · $20.00 / month" in state
        app.screen.query_one("#quota-vcpu", Input).value = "4"
        app.screen.query_one("#quota-instances", Input).value = "unlimited"
        await pilot.pause()
        assert "modified" in str(app.screen.query_one("#plans-header").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "modified" not in str(app.screen.query_one("#plans-header").render())
    data = tomllib.loads((config_dir / "plans.toml").read_text())
    assert data["plans"] == [
        {"id": "pro-vps", "name": "Pro VPS", "test_price_id": price, "quotas": {"vcpu": 4, "instances": "unlimited"}}
    ]
    again = make_app(seeded_sandbox, key=None)
    async with again.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, again)
        assert again.screen.query_one("#plan-name", Input).value == "Pro VPS"
        assert again.screen.query_one("#quota-vcpu", Input).value == "4"
        assert "connect Stripe to check" in str(again.screen.query_one("#state-price-test").render())


async def test_a_secret_key_pasted_as_a_price_id_is_never_echoed(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    pasted = "sk_live_" + "51HsecretBodyThatMustNotShow0123456789"
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        field = app.screen.query_one("#price-live", Input)
        field.focus()
        app.copy_to_clipboard(pasted)
        await pilot.press("ctrl+v")  # pasted, as an admin would
        await pilot.pause()
        assert field.value == ""  # not left on screen in clear
        assert app.screen.query_one("#error-price-live", FieldError).message == (
            "That was a secret API key — removed from this field; price IDs start with price_"
        )
        assert app.screen.form.plan.live_price_id is None  # type: ignore[attr-defined]
        assert "51Hsecret" not in str(app.screen.query_one("#state-price-live").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
    saved = (config_dir / "plans.toml").read_text() if (config_dir / "plans.toml").exists() else ""
    assert "51Hsecret" not in saved


async def test_broken_file_is_reported_and_left_untouched(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    path = config_dir / "plans.toml"
    path.write_text('schema_version = 1\n[[plans]]\nid = "pro\n')
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, app)
        broken = str(app.screen.query_one("#broken").render())
        assert "line 3" in broken
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert path.read_text() == 'schema_version = 1\n[[plans]]\nid = "pro\n'


async def test_leaving_with_unsaved_changes_asks(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("f7")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "plans"
        await pilot.press("f7")
        await pilot.pause()
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.current_mode == "home"


async def test_reload_after_save_rebuilds_the_quota_rows(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    """4, ctrl+n, ctrl+s, ctrl+r used to crash: the old quota rows were still mounted when the new ones came."""
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert len(app.screen.query("#quota-vcpu")) == 1
        app.screen.query_one("#quota-vcpu", Input).value = "2"
        await pilot.pause()
        await pilot.press("ctrl+r")  # modified: asks, then discards
        await pilot.pause()
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert app.screen.query_one("#quota-vcpu", Input).value == ""
        assert app.is_running


async def test_invalid_quota_survives_switching_plans_and_blocks_saving(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        app.screen.query_one("#quota-vcpu", Input).value = "abc"
        app.screen.query_one("#quota-storage_gb", Input).value = "-5"
        await pilot.pause()
        await pilot.press("ctrl+n")  # another plan: the first plan's bad text must not vanish
        await settle(pilot)
        assert app.screen.query_one("#quota-vcpu", Input).value == ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not (config_dir / "plans.toml").exists()
        # Saving pointed back at the plan and field holding the bad text.
        assert app.screen.form.selected == 0  # type: ignore[attr-defined]
        assert app.screen.query_one("#quota-vcpu", Input).value == "abc"
        assert app.screen.query_one("#quota-storage_gb", Input).value == "-5"
        assert "not a number" in app.screen.query_one("#error-quota-vcpu", FieldError).message
        assert app.focused is app.screen.query_one("#quota-vcpu", Input)
        app.screen.query_one("#quota-vcpu", Input).value = "4"
        app.screen.query_one("#quota-storage_gb", Input).value = "50"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
    data = tomllib.loads((config_dir / "plans.toml").read_text())
    assert data["plans"][0]["quotas"] == {"vcpu": 4, "storage_gb": 50}


async def test_focus_starts_on_the_plan_list_and_follows_reading_order(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    (config_dir / "plans.toml").write_text('schema_version = 1\n[[plans]]\nid = "pro"\nname = "Pro"\n')
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        plan_list = app.screen.query_one("#plan-list")
        assert app.focused is plan_list
        chain = [widget.id for widget in app.screen.focus_chain]
        assert chain.index("plan-list") < chain.index("plan-name") < chain.index("price-test")
        assert "offer-test" not in chain
        # At 80 columns a whole price ID fits in the field and the Pick button is on screen.
        field = app.screen.query_one("#price-test", Input)
        assert field.content_region.width >= 30
        pick = app.screen.query_one("#pick-test")
        assert pick.region.right <= 80 and pick.region.width >= 8


async def test_keyboard_deletes_a_plan_and_adds_a_resource_from_inside_fields(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.focused, Input)  # the name field: ctrl+d must not just delete a character
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("tab", "enter")  # Cancel has the focus: a stray key never deletes
        await settle(pilot)
        assert [plan.id for plan in app.screen.config.plans] == ["new-plan"]  # type: ignore[attr-defined]
        await pilot.press("ctrl+g")
        assert app.focused is app.screen.query_one("#new-resource-key", Input)
        await type_text(pilot, "gpu_hours")
        await pilot.press("tab")
        await type_text(pilot, "GPU")
        await pilot.press("tab")
        await type_text(pilot, "hours")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query("#quota-gpu_hours")


async def test_typing_a_price_id_looks_it_up_once_typing_pauses(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pause no test run reaches: every lookup below is one the debounce let through, none is timing luck.
    monkeypatch.setattr(PlansScreen, "lookup_delay", 600.0)
    price = seed_price(seeded_sandbox, "pro_monthly")
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        app.screen.query_one("#price-test", Input).focus()
        before = len(seeded_sandbox.requests)

        def lookups() -> list[str]:
            return [r.path for r in seeded_sandbox.requests[before:] if r.path.startswith("/v1/prices/")]

        await type_text(pilot, price)
        await settle(pilot)
        assert lookups() == []  # nothing while typing (without the delay: one per character after "price_")
        assert "checking" in str(app.screen.query_one("#state-price-test").render())
        await pilot.press("enter")  # the pause ends at once
        await settle(pilot)
        assert lookups() == [f"/v1/prices/{price}"]
        assert "✓ Pro VPS" in str(app.screen.query_one("#state-price-test").render())


async def test_live_mode_save_asks_first_and_cancelling_writes_nothing(
    make_app: Callable[..., PortalApp], live_sandbox: Sandbox, config_dir: Path
) -> None:
    path = config_dir / "plans.toml"
    app = make_app(live_sandbox, key=LIVE_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal" and app.screen.has_class("live")
        assert "LIVE MODE" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await settle(pilot)
        assert not path.exists()
        assert "modified" in str(app.screen.query_one("#plans-header").render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert tomllib.loads(path.read_text())["plans"][0]["id"] == "new-plan"


async def test_escape_leaves_a_field_so_step_keys_work_again(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        plans = app.screen
        assert isinstance(app.focused, Input)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        assert plans.query_one("#plan-name", Input).value == "New plan"


def write_plans(config_dir: Path, text: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "plans.toml").write_text(text)


async def test_a_replaced_price_is_rechecked_and_the_new_one_offered(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    old = seed_price(seeded_sandbox, "pro_monthly")
    write_plans(config_dir, f'[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "{old}"\n')
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, app)
        state = app.screen.query_one("#state-price-test")
        assert "✓ Pro VPS · $20.00 / month" in str(state.render())
        new = replace_price(app.context.gateway(), old, 2500)
        # Coming back to the step re-checks (the app also tells screens when the catalog changed).
        await app.switch_mode("catalog")
        await settle(pilot)
        await app.switch_mode("plans")
        await settle(pilot)
        text = str(state.render())
        assert f"replaced by {new}" in text and "ctrl+y" in text and "✓" not in text
        assert str(app.screen.query_one("#plan-list ListItem Label").render()).startswith("✗")
        await pilot.press("ctrl+s")  # saved all the same, with the problem said
        await settle(pilot)
        assert any("1 linked price(s) have problems" in n.message and new in n.message for n in app._notifications)
        await pilot.press("ctrl+y")
        await checked(pilot)
        assert app.screen.query_one("#price-test", Input).value == new
        assert "✓ Pro VPS · $25.00 / month" in str(state.render())


async def test_plans_in_different_currencies_are_flagged_in_the_editor(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    usd, eur = seed_price(seeded_sandbox, "pro_monthly"), seed_price(seeded_sandbox, "eu_monthly")
    write_plans(
        config_dir,
        f'[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "{usd}"\n\n'
        f'[[plans]]\nid = "eu"\nname = "EU"\ntest_price_id = "{usd}"\n',
    )
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        warning = app.screen.query_one("#currency-warning")
        assert not warning.display or not warning.has_class("visible")
        await pilot.press("down")
        await pilot.pause()
        app.screen.query_one("#price-test", Input).value = eur
        await checked(pilot)
        assert warning.has_class("visible") and warning.region.height > 0
        text = str(warning.render())
        assert "pro=USD" in text and "eu=EUR" in text
        assert text.rstrip().endswith("link prices offered in the same currencies")
        app.screen.query_one("#price-test", Input).value = usd
        await checked(pilot)
        assert not warning.has_class("visible")


def test_a_quota_of_one_reads_in_the_singular() -> None:
    from portal_tui.domain.plans import format_quota

    assert format_quota(1, "servers") == "1 server" and format_quota(4, "servers") == "4 servers"
    assert format_quota(1, "GB / month") == "1 GB / month" and format_quota(1, "cores") == "1 core"
    assert format_quota("unlimited", "servers") == "unlimited" and format_quota(2.5) == "2.5"


async def test_at_80_columns_hints_and_units_are_whole(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        for name in ("key", "label", "unit"):
            field = app.screen.query_one(f"#new-resource-{name}", Input)
            assert len(field.placeholder) <= field.content_size.width, field.placeholder
        app.screen.query_one("#quota-instances", Input).value = "1"
        await pilot.pause()
        assert str(app.screen.query_one("#unit-instances").render()) == "server"
        app.screen.query_one("#quota-instances", Input).value = "3"
        await pilot.pause()
        assert str(app.screen.query_one("#unit-instances").render()) == "servers"
        await pilot.press("ctrl+o")
        await settle(pilot)
        title = app.screen.query_one("#picker-title")
        heading = "Pick the test price for 'New plan'"
        assert str(title.render()) == heading and title.content_size.width >= len(heading)


async def test_at_80_columns_home_shows_all_six_steps_help_and_quit(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    from portal_tui.ui.widgets.key_bar import KeyBar

    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "home"
        bar = str(app.screen.query_one(KeyBar).render())
        for words in ("1 Connect", "2 Pricing", "3 Price IDs", "4 Plans", "5 Verify", "6 Go live", "? Help", "^q Quit"):
            assert words in bar, bar
        assert "…" not in bar and len(bar) <= 80


async def test_a_modal_closing_does_not_recheck_every_price(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    price = seed_price(seeded_sandbox, "pro_monthly")
    write_plans(config_dir, f'[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "{price}"\n')
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plans(pilot, app)
        before = len(seeded_sandbox.requests)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("escape")  # the question, cancelled
        await settle(pilot)
        assert type(app.screen).__name__ == "PlansScreen"
        assert [r.path for r in seeded_sandbox.requests[before:] if r.path.startswith("/v1/prices/")] == []
        await app.switch_mode("home")
        await settle(pilot)
        await app.switch_mode("plans")
        await settle(pilot)
        # the linked price is checked again; the catalog's re-read of a tiered multi-currency price (for its tiers
        # per currency) is not a price check
        assert [
            r.path
            for r in seeded_sandbox.requests[before:]
            if r.path.startswith("/v1/prices/") and not any(".tiers" in e for e in r.params.get("expand", []))
        ] == [f"/v1/prices/{price}"]


# ---- Verify records (plans schema 2) -------------------------------------------------------------------------------

RECORDED = (
    '\n[plans.verified]\nat = 2026-12-01T10:00:00Z\nresult = "pass"\nprice_id = "{price}"\n'
    'terms = "0123456789abcdef"\nsummary = "PASS: Visa 4242 · succeeds, quantity 1"\n'
)


async def test_a_hand_edit_beside_a_new_record_still_asks_before_overwriting(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    path = config_dir / "plans.toml"
    head = '[[plans]]\nid = "pro"\nname = "{name}"\ntest_price_id = "price_1Pro"\n'
    path.write_text(head.format(name="Pro"))
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plans(pilot, app)
        app.screen.query_one("#plan-name", Input).value = "Pro 2"
        await pilot.pause()
        # Verify recorded a result, and someone also renamed the plan by hand: that is a real conflict.
        path.write_text(head.format(name="Pro (hand-edited)") + RECORDED.format(price="price_1Pro"))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmModal"
        assert "changed on disk" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await settle(pilot)
    assert "hand-edited" in path.read_text()
