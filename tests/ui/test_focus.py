"""Focus at 80×24, keyboard only: it is always on a control the admin can see, it comes back to the control that
opened a modal, a focused filter ignores a leading "/", and Enter on an empty result stays in the filter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, ListView, Static

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.widgets.price_table import PriceTable
from tests.ui.helpers import settle, text_of, type_text, wait_until

PLAN = 'schema_version = 1\n[[plans]]\nid = "pro"\nname = "Pro"\n'


def screen_name(app: PortalApp) -> str:
    return type(app.screen).__name__


def assert_visible(app: PortalApp, widget: Widget | None) -> None:
    """Focused, shown (not hidden, not disabled) and inside the terminal."""
    assert widget is not None and app.focused is widget, f"focus is on {app.focused!r}, not {widget!r}"
    assert widget in app.screen.focus_chain
    region = widget.region
    assert region.area > 0 and region.y >= 0 and region.bottom <= app.size.height, region


async def open_picker(pilot: Pilot[None], app: PortalApp) -> None:
    await app.switch_mode("plans")
    await settle(pilot)
    await pilot.press("ctrl+n")  # a new plan: its name field has focus
    await settle(pilot)
    assert app.focused is app.screen.query_one("#plan-name", Input)
    await pilot.press("ctrl+o")
    await settle(pilot)
    assert screen_name(app) == "PricePickerModal"


def filter_field(app: PortalApp) -> Input:
    return app.screen.query_one("#filter", Input)


def catalog_status(app: PortalApp) -> str:
    return str(app.screen.query_one("#catalog-status", Static).render())


async def test_after_the_picker_the_pick_button_has_focus_so_a_step_key_switches_steps(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(pilot, app)
        await pilot.press("enter")  # picks the first price
        await settle(pilot)
        plans = app.screen
        assert_visible(app, plans.query_one("#pick-test", Button))
        assert plans.query_one("#price-test", Input).value.startswith("price_")
        # Cancelled, too: back on the button that opened it.
        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, plans.query_one("#pick-test", Button))
        await pilot.press("5")  # a step key, not text: the plan is unsaved, so leaving asks first
        await settle(pilot)
        assert screen_name(app) == "ConfirmModal"
        assert plans.query_one("#plan-name", Input).value == "New plan"  # no "5" typed into the name
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, plans.query_one("#pick-test", Button))


async def test_a_focused_filter_ignores_a_leading_slash(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(pilot, app)
        assert not filter_field(app).placeholder.startswith("/")  # the filter has focus: no key to press first
        await type_text(pilot, "/team")
        await pilot.pause()
        assert filter_field(app).value == "team"
        assert [row.lookup_key for row in app.screen.query_one(PriceTable).shown] == ["team_seats"]
        await pilot.press("escape")
        await settle(pilot)
        # The catalog: "/" opens the filter, and a second "/" (habit) or a pasted "/pro" is not part of the query.
        await app.switch_mode("catalog")
        await settle(pilot)
        await pilot.press("slash", "slash")
        await type_text(pilot, "vps")
        assert filter_field(app).value == "vps"
        filter_field(app).value = ""
        await pilot.pause()
        filter_field(app).post_message(events.Paste("/pro"))
        await pilot.pause()
        assert filter_field(app).value == "pro"
        # Only a leading one: "$5.00 / month" stays searchable by its "/".
        await type_text(pilot, " /")
        assert filter_field(app).value == "pro /"


async def test_enter_on_an_empty_result_keeps_focus_in_the_filter_and_says_nothing_matched(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(pilot, app)
        await type_text(pilot, "zzz")
        await pilot.press("enter")
        await settle(pilot)
        assert screen_name(app) == "PricePickerModal"
        assert_visible(app, filter_field(app))
        assert "Nothing matches “zzz”" in catalog_status(app) and "esc cancels" in catalog_status(app)
        await pilot.press("backspace", "backspace", "backspace")
        await type_text(pilot, "team")
        await pilot.press("enter")
        await settle(pilot)
        assert screen_name(app) == "PlansScreen"  # the admin carried on from the filter
        await app.switch_mode("catalog")
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "zzz")
        await pilot.press("enter")
        await settle(pilot)
        assert_visible(app, filter_field(app))
        assert "Nothing matches “zzz”" in catalog_status(app)


async def test_help_and_confirm_give_focus_back_to_the_control_that_opened_them(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    (config_dir / "plans.toml").write_text(PLAN)
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("plans")
        await settle(pilot)
        plans = app.screen
        assert_visible(app, plans.query_one("#plan-list", ListView))
        await pilot.press("question_mark")
        await settle(pilot)
        assert screen_name(app) == "HelpScreen"
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, plans.query_one("#plan-list", ListView))
        name = plans.query_one("#plan-name", Input)
        name.focus()
        await pilot.press("ctrl+d")  # delete the plan? (from inside the name field)
        await settle(pilot)
        assert screen_name(app) == "ConfirmModal"
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, name)


async def test_a_control_rebuilt_while_a_modal_was_open_gets_focus_back(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, config_dir: Path
) -> None:
    """The plan file changes on disk while help is open: the editor reloads and rebuilds its quota rows. Focus
    returns to the new vCPU field, not to whichever neighbour Textual chose when the old one went."""
    (config_dir / "plans.toml").write_text(PLAN)
    app = make_app(sandbox, key=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("plans")
        await settle(pilot)
        vcpu = app.screen.query_one("#quota-vcpu", Input)
        vcpu.focus()
        await settle(pilot)
        app.action_help()  # as the palette's Help entry does: "?" would be typed into the field
        await settle(pilot)
        assert screen_name(app) == "HelpScreen"
        app.context.config_store.save(PlanConfig(plans=[Plan("pro", "Pro", quotas={"vcpu": 8})]))
        app.plan_file_changed()
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        fresh = app.screen.query_one("#quota-vcpu", Input)
        assert fresh is not vcpu and fresh.value == "8"
        assert_visible(app, fresh)


async def test_the_review_gives_focus_back_to_the_form(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("builder")
        await settle(pilot)
        builder = app.screen
        builder.query_one("#product-name", Input).value = "Focus"
        amount = builder.query_one("#amount", Input)
        amount.focus()
        amount.value = "20"
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert screen_name(app) == "ReviewModal"
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, amount)
        # Created: the builder moves focus on purpose, to the result's Copy button.
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await wait_until(pilot, lambda: "Created" in str(builder.query_one("#progress", Static).render()))
        assert_visible(app, builder.query_one("#copy-price", Button))


async def test_go_lives_questions_give_focus_back_to_the_plan_table(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    price = next(str(p["id"]) for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"])
    app.context.config_store.save(PlanConfig(plans=[Plan("pro", "Pro VPS", price)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("go_live")
        await settle(pilot)
        table = app.screen.query_one("#plan-table", DataTable)
        assert_visible(app, table)
        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: screen_name(app) == "LiveKeyModal")
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, table)
        await pilot.press("ctrl+n")  # no live key yet: asks for it
        await wait_until(pilot, lambda: screen_name(app) == "LiveKeyModal")
        await pilot.press("escape")
        await settle(pilot)
        assert_visible(app, table)
        assert "live key" in text_of(app.screen.query_one("#status", Static)).lower()


async def test_running_verify_from_its_button_leaves_focus_on_the_result(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    """The Run button is disabled while the test runs: focus moves to the result it scrolls, never to nowhere."""
    from textual.containers import VerticalScroll
    from textual.widgets import Select

    app = make_app(seeded_sandbox)
    price = next(str(p["id"]) for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"])
    app.context.config_store.save(PlanConfig(plans=[Plan("pro", "Pro", price)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("verify")
        await settle(pilot)
        verify = app.screen
        verify.query_one("#run", Button).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "PASS" in str(verify.query_one("#verdict", Static).render())
        assert_visible(app, verify.query_one("#verify-body", VerticalScroll))
        # Run from a field with ctrl+r: focus stays in the field.
        card = verify.query_one("#card", Select)
        card.focus()
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.focused is card


async def test_the_lookup_key_prompt_gives_focus_back_to_the_plan_table(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    from decimal import Decimal

    from portal_tui.domain.pricing import PriceDraft
    from tests.conftest import TEST_KEY
    from tests.ui.test_go_live import gateway, passing_record, with_live_key

    test = gateway(seeded_sandbox, TEST_KEY)
    product = test.create_product("Backup add-on", None, idempotency_key="focus-test-product")
    price = test.create_price(
        PriceDraft(currency="gbp", unit_amount=Decimal(500)).to_stripe_params(product["id"]),
        idempotency_key="focus-test-price",
    )
    app = make_app(seeded_sandbox)
    record = passing_record(seeded_sandbox, price["id"])
    app.context.config_store.save(PlanConfig(plans=[Plan("backup", "Backup", price["id"], verified=record)]))
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("go_live")
        await settle(pilot)
        table = app.screen.query_one("#plan-table", DataTable)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "LookupKeyModal")
        await pilot.press("escape")
        await settle(pilot)
        assert screen_name(app) == "GoLiveScreen"
        assert_visible(app, table)
