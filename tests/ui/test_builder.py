"""The product & pricing builder through the real screen: the wiring of its widgets to the form model (errors at
fields, visibility, tiers, the meter, prefill), the create flow against the sandbox, faults, focus and layout.
The rules themselves are tested without a terminal in tests/forms/test_price_form.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Input, Select, Static

from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.screens.builder import BuilderScreen
from portal_tui.ui.widgets.extra_currency import ExtraCurrency
from portal_tui.ui.widgets.field_error import FieldError
from tests.ui.helpers import press_now, settle, text_of, wait_until


async def open_builder(pilot: Any, app: PortalApp) -> BuilderScreen:
    await app.switch_mode("builder")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, BuilderScreen)
    return screen


async def highlight_in_catalog(pilot: Any, app: PortalApp, sandbox: Sandbox, lookup_key: str) -> None:
    """Step 3, with the cursor on the price that has `lookup_key`."""
    price = next(p for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup_key)
    await app.switch_mode("catalog")
    await settle(pilot)
    assert app.screen.query_one("PriceTable").select_price(price["id"])  # type: ignore[attr-defined]


def fill(screen: BuilderScreen, **values: str) -> None:
    for name, value in values.items():
        widget = screen.query_one(f"#{name}")
        if isinstance(widget, Select):
            widget.value = value
        elif isinstance(widget, Checkbox):
            widget.value = value == "yes"
        else:
            assert isinstance(widget, Input)
            widget.value = value


async def set_tiers(pilot: Any, screen: BuilderScreen, tiers: list[tuple[str, str, str]]) -> None:
    while len(screen.tier_rows()) < len(tiers):
        screen.action_add_tier()
        await settle(pilot)
    for row, (up_to, unit, flat) in zip(screen.tier_rows(), tiers, strict=True):
        if up_to != "∞":
            row.query_one(".tier-up-to", Input).value = up_to
        row.query_one(".tier-unit", Input).value = unit
        row.query_one(".tier-flat", Input).value = flat
    await settle(pilot)


async def create(pilot: Any, app: PortalApp, screen: BuilderScreen) -> None:
    assert not screen.query_one("#create", Button).disabled, screen.form.problems
    await pilot.press("ctrl+n")
    await settle(pilot)
    assert type(app.screen).__name__ == "ReviewModal"
    await pilot.click("#review-create")
    await settle(pilot)


def sent(sandbox: Sandbox, path: str) -> list[dict[str, Any]]:
    return [r.params for r in sandbox.requests if r.method == "POST" and r.path == path]


def preview(screen: BuilderScreen) -> str:
    return str(screen.query_one("#summary").render()) + "\n" + text_of(screen.query_one("#samples", Static))


CASES: list[tuple[str, dict[str, str], list[tuple[str, str, str]], dict[str, Any], str, list[str]]] = [
    (
        "flat",
        {"model": "flat", "amount": "20", "lookup-key": "pro_monthly", "nickname": "Pro monthly"},
        [],
        {
            "billing_scheme": "per_unit",
            "unit_amount": "2000",
            "lookup_key": "pro_monthly",
            "recurring": {"interval": "month", "interval_count": "1", "usage_type": "licensed"},
        },
        "$20.00 / month",
        ["5  $100.00"],
    ),
    (
        "usage_per_tier",
        {"model": "usage_per_tier", "tiers-mode": "volume", "meter-name": "Bandwidth", "meter-event": "gb"},
        [("1000", "0.02", ""), ("∞", "0.01", "")],
        {
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": [{"up_to": "1000", "unit_amount": "2"}, {"up_to": "inf", "unit_amount": "1"}],
            "recurring": {"interval": "month", "interval_count": "1", "usage_type": "metered", "meter": "NEW"},
        },
        "Volume · 1–1,000 $0.02 · 1,001+ $0.01 / month · metered",
        ["1,001  $10.01"],
    ),
]


@pytest.mark.parametrize(("name", "form", "tiers", "expected", "summary", "amounts"), CASES, ids=[c[0] for c in CASES])
async def test_every_model_is_created_with_the_right_params(
    make_app: Callable[..., PortalApp],
    sandbox: Sandbox,
    name: str,
    form: dict[str, str],
    tiers: list[tuple[str, str, str]],
    expected: dict[str, Any],
    summary: str,
    amounts: list[str],
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_builder(pilot, app)
        fill(screen, **{"product-name": f"Product {name}", "currency": "usd"})
        await settle(pilot)
        fill(screen, **{k: v for k, v in form.items() if k in ("model", "price-type")})
        await settle(pilot)
        fill(screen, **{k: v for k, v in form.items() if k not in ("model", "price-type")})
        await settle(pilot)
        if tiers:
            await set_tiers(pilot, screen, tiers)
        shown = preview(screen)
        assert summary in shown, (screen.form.problems, shown)
        for amount in amounts:
            assert " ".join(amount.split()) in " ".join(shown.split()), shown
        await create(pilot, app, screen)
        prices = sent(sandbox, "/v1/prices")
        assert len(prices) == 1, screen.form.problems
        params = prices[0]
        meters = sent(sandbox, "/v1/billing/meters")
        if "meter" in expected.get("recurring", {}):
            assert len(meters) == 1
            expected = {
                **expected,
                "recurring": {
                    **expected["recurring"],
                    "meter": list(sandbox.test_world.objects["billing.meter"])[-1],
                },
            }
        for key, value in expected.items():
            assert params[key] == value, (key, params)
        assert sent(sandbox, "/v1/products") == [{"name": f"Product {name}"}]
        result = str(screen.query_one("#result-text").render())
        assert "Price ID:   price_" in result and "Product ID: prod_" in result
        await pilot.click("#copy-price")
        assert app.clipboard.startswith("price_")
        assert "✓ Created price_" in why_not(screen)  # the form says it is done, not "Ready"
        if meters:
            # The new meter is now chosen in the list, and that does not count as a change to the form.
            assert screen.query_one("#meter", Select).value == expected["recurring"]["meter"]
            assert not screen.unsaved


async def test_fault_mid_create_ends_with_one_product_and_one_price(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_builder(pilot, app)
        fill(screen, **{"product-name": "Resilient", "amount": "20"})
        await settle(pilot)
        # The price request fails for good (retries exhausted): the product exists, the price does not.
        sandbox.faults.add(method="POST", path="/v1/prices", kind="500", times=3)
        await create(pilot, app, screen)
        assert "Already created: product" in str(screen.query_one("#progress").render())
        assert len(sandbox.test_world.objects["product"]) == 1 and not sandbox.test_world.objects["price"]
        # Retry: resumes with the same product; the response of the price is lost once (dropped after creation).
        sandbox.faults.add(method="POST", path="/v1/prices", kind="drop", when="after")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReviewModal"
        assert "Resuming the unfinished action" in str(app.screen.query_one(".notice", Static).render())
        await pilot.click("#review-create")
        await settle(pilot)
        assert len(sandbox.test_world.objects["product"]) == 1
        assert len(sandbox.test_world.objects["price"]) == 1
        assert len(sent(sandbox, "/v1/products")) == 1
        assert "✓ Created." in str(screen.query_one("#progress").render())


async def test_replacing_a_products_default_price_makes_the_new_one_the_default(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    # Dashboard-made products have a default price, which Stripe refuses to archive: the default moves first.
    app = make_app(seeded_sandbox)
    old = next(p for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"] == "pro_monthly")
    product = seeded_sandbox.test_world.objects["product"][old["product"]]
    assert product["default_price"] == old["id"]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("catalog")
        await settle(pilot)
        assert app.screen.query_one("PriceTable").select_price(old["id"])  # type: ignore[attr-defined]
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BuilderScreen) and screen.form.replaces is not None
        assert "Replacing " + old["id"] in str(screen.query_one("#replace-note").render())
        assert screen.query_one("#amount", Input).value == "20.00"
        assert screen.query_one("#lookup-key", Input).value == "pro_monthly"
        fill(screen, amount="30")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        review = [str(s.render()) for s in app.screen.query(Static)]
        assert f"POST /v1/products/{product['id']} · Make the new price the product's default" in review
        await pilot.press("ctrl+n")  # creates from the review
        await settle(pilot)
        assert "✓ Created." in str(screen.query_one("#progress").render())
    new = next(p for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"] == "pro_monthly")
    assert product["default_price"] == new["id"] and new["unit_amount"] == 3000
    assert new["product"] == old["product"] and sent(seeded_sandbox, "/v1/products") == []
    assert old["active"] is False and old["lookup_key"] is None


async def test_review_opens_on_the_parameters_so_pagedown_scrolls(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await choose(pilot, screen, "#model", "graduated")
        await set_tiers(pilot, screen, [("10", "5", "1"), ("20", "4", "1"), ("30", "3", "1"), ("∞", "2", "1")])
        fill(screen, **{"product-name": "Long review"})
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        review = app.screen
        assert type(review).__name__ == "ReviewModal"
        body = review.query_one("#review-body")
        assert app.focused is body
        assert "ctrl+n create" in str(review.query_one("#review-keys", Static).render())
        await pilot.press("pagedown")
        await settle(pilot)
        assert body.scroll_y > 0
        await pilot.press("tab", "tab")
        assert app.focused is review.query_one("#review-create", Button)
        await pilot.press("enter")
        await settle(pilot)
    assert len(sandbox.test_world.objects["price"]) == 1


async def test_clearing_the_form_takes_no_single_key_yes(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Keep me")
        await pilot.press("escape", "ctrl+r")
        await settle(pilot)
        modal = app.screen
        assert type(modal).__name__ == "ConfirmModal"
        assert app.focused is modal.query_one("#cancel-button", Button)
        assert "esc cancels" in str(modal.query_one("#confirm-keys", Static).render())
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is modal and screen.query_one("#product-name", Input).value == "Keep me"
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert app.screen is screen and screen.query_one("#product-name", Input).value == ""


async def test_live_mode_create_takes_no_single_key_yes(
    make_app: Callable[..., PortalApp], live_sandbox: Sandbox
) -> None:
    from tests.conftest import LIVE_KEY

    app = make_app(live_sandbox, key=LIVE_KEY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        fill(screen, **{"product-name": "Live one", "amount": "20"})
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")  # the review's Create; the worker then waits for the live-mode answer
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
        modal = app.screen
        assert modal.has_class("live")
        assert app.focused is modal.query_one("#cancel-button", Button)
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is modal  # y does nothing here
        await pilot.press("enter")  # presses the focused Cancel
        await settle(pilot)
        assert app.screen is screen
    assert all(p["name"] != "Live one" for p in live_sandbox.worlds[True].objects["product"].values())
    assert not [r for r in live_sandbox.requests if r.method == "POST"]


# ---- typed like a user, at 80×24 -------------------------------------------------------------------------------


async def type_into(pilot: Any, screen: BuilderScreen, selector: str, text: str, *, clear: bool = False) -> None:
    """Focus a field and type into it key by key, as an admin would."""
    field = screen.query_one(selector, Input) if selector.startswith("#") else None
    widget = field or screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    if clear:
        await pilot.press("end", *["backspace"] * len(widget.value))  # type: ignore[attr-defined]
    if text:
        await pilot.press(*text)
    await settle(pilot)


async def choose(pilot: Any, screen: BuilderScreen, selector: str, value: str) -> None:
    """Pick an option of a Select from the keyboard: open it, walk to the option, press enter."""
    select = screen.query_one(selector, Select)
    values = [v for _label, v in select._options]
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    current = values.index(select.value) if select.value in values else 0
    target = values.index(value)
    key = "down" if target >= current else "up"
    await pilot.press(*[key] * abs(target - current), "enter")
    await settle(pilot)
    assert select.value == value


def error_at(screen: BuilderScreen, target: str) -> str:
    widget = screen.query_one(f"#error-{target}", FieldError)
    return widget.message if widget.display and widget.has_class("visible") else ""


def why_not(screen: BuilderScreen) -> str:
    return str(screen.query_one("#why-not").render())


def assert_blocked(screen: BuilderScreen, message: str) -> None:
    assert screen.query_one("#create", Button).disabled
    assert f"Cannot create yet: {message}" in why_not(screen), why_not(screen)


async def test_typed_bad_amounts_show_at_the_amount_field(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Pro")
        await type_into(pilot, screen, "#amount", "20a")
        message = error_at(screen, "unit_amount")
        assert message, screen.form.problems
        assert_blocked(screen, message)
        await type_into(pilot, screen, "#amount", "20.123", clear=True)
        assert "at most 2 decimals" in error_at(screen, "unit_amount")
        assert_blocked(screen, "Use at most 2 decimals for GBP")
        await type_into(pilot, screen, "#amount", "20.12", clear=True)
        assert error_at(screen, "unit_amount") == ""
        assert not screen.query_one("#create", Button).disabled


async def test_pressing_create_shows_every_error_at_its_field(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert error_at(screen, "product-name") == "Give the product a name"
        assert error_at(screen, "unit_amount") == "Enter an amount"
        assert type(app.screen).__name__ != "ReviewModal"


async def test_non_ascending_tiers_show_at_the_tier_editor(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Seats")
        await choose(pilot, screen, "#model", "graduated")
        await pilot.press("ctrl+t")
        await settle(pilot)
        rows = screen.tier_rows()
        assert len(rows) == 3
        for row, (up_to, unit) in zip(rows, [("10", "5"), ("5", "4"), (None, "3")], strict=True):
            if up_to:
                row.query_one(".tier-up-to", Input).focus()
                await pilot.press(*up_to)
            row.query_one(".tier-unit", Input).focus()
            await pilot.press(*unit)
        await settle(pilot)
        assert "Tier 2 'up to' must be greater than 10" in error_at(screen, "tiers")
        assert_blocked(screen, "Tier 2 'up to' must be greater than 10")
        assert str(rows[1].query_one(".tier-from", Static).render()).startswith("11")


async def test_currency_defaults_to_the_account_and_refuses_unknown_codes(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        assert app.context.account is not None and app.context.account.default_currency == "gbp"
        assert screen.query_one("#currency", Input).value == "gbp"
        await type_into(pilot, screen, "#product-name", "Pro")
        await type_into(pilot, screen, "#amount", "20")
        assert "£20.00 / month" in preview(screen)
        await type_into(pilot, screen, "#currency", "gpb", clear=True)
        message = error_at(screen, "currency")
        assert message.startswith("Unknown currency 'gpb'") and "gbp" in message
        assert_blocked(screen, "Unknown currency 'gpb'")


async def test_ctrl_x_removes_the_focused_tier_and_still_cuts_elsewhere(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Seats")
        await choose(pilot, screen, "#model", "volume")
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert len(screen.tier_rows()) == 3
        middle = screen.tier_rows()[1].query_one(".tier-unit", Input)
        middle.focus()
        await pilot.press("4", "ctrl+x")
        await settle(pilot)
        assert len(screen.tier_rows()) == 2
        assert middle not in screen.query(Input)
        # Outside the tier rows ctrl+x keeps the field's own meaning (cut), and no tier goes.
        name = screen.query_one("#product-name", Input)
        name.focus()
        await pilot.press("shift+home", "ctrl+x")
        await settle(pilot)
        assert name.value == "" and len(screen.tier_rows()) == 2


async def test_replacing_a_tiered_multi_currency_price_keeps_each_currencys_tier_rows_while_editing(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await highlight_in_catalog(pilot, app, seeded_sandbox, "support_seats")
        # "3" typed while the builder opens and its tier rows refill: it waits for the filled form and goes to the
        # first tier's amount, where the cursor lands (not into a field about to be refilled, where it made the
        # replace ask "Replace the form?", nor to the step keys while no field had focus)
        press_now(pilot, "e")
        await wait_until(pilot, lambda: isinstance(app.screen, BuilderScreen))
        press_now(pilot, "3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BuilderScreen)

        def shown() -> dict[str, list[str]]:
            return {
                section.code: [field.value for field in section.query(".currency-unit").results(Input)]
                for section in screen.query(ExtraCurrency)
            }

        # a section whose rows change shape composes them again on its next turn
        await wait_until(pilot, lambda: shown() == {"eur": ["8.00", "6.50"], "jpy": ["1400", "1100"]})
        assert app.focused is screen.tier_rows()[0].query_one(".tier-unit", Input)
        assert screen.tier_rows()[0].query_one(".tier-unit", Input).value == "3"  # focus selects the $9.00
        assert not screen.form.problems, screen.form.problems
        preview = screen.form.preview()
        assert preview is not None and [other.total for other in preview.others] == ["€56.50", "¥9,700"]


async def test_keys_typed_while_the_open_builder_takes_a_price_to_replace_reach_its_amount(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)  # built already, and left with the cursor in the product name
        await highlight_in_catalog(pilot, app, seeded_sandbox, "pro_monthly")
        press_now(pilot, "e")
        await wait_until(pilot, lambda: app.screen is screen)
        press_now(pilot, "2", "5")
        await settle(pilot)
        assert app.screen is screen and screen.form.replaces is not None
        assert app.focused is screen.query_one("#amount", Input)
        assert screen.query_one("#amount", Input).value == "25"
        assert screen.query_one("#product-name", Input).value == ""


async def test_replacing_a_tiered_usage_price_prefills_its_tiers_and_meter(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    prices = seeded_sandbox.test_world.objects["price"].values()
    old = next(p for p in prices if p["nickname"] == "Bandwidth per GB")
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("catalog")
        await settle(pilot)
        table = app.screen.query_one("PriceTable")
        assert table.select_price(old["id"])  # type: ignore[attr-defined]
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BuilderScreen) and screen.form.replaces is not None
        rows = screen.tier_rows()
        shown = [
            tuple(row.query_one(cls, Input).value for cls in (".tier-up-to", ".tier-unit", ".tier-flat"))
            for row in rows
        ]
        assert shown == [("1000", "0.00", ""), ("10000", "0.02", ""), ("∞", "0.015", "")]
        assert screen.query_one("#meter", Select).value == old["recurring"]["meter"]
        assert not screen.form.problems, screen.form.problems
        assert app.focused is rows[0].query_one(".tier-unit", Input)  # a visible field, ready to edit
        await create(pilot, app, screen)
    new = sent(seeded_sandbox, "/v1/prices")[-1]
    assert new["billing_scheme"] == "tiered" and len(new["tiers"]) == 3
    assert new["tiers"][-1]["up_to"] == "inf"
    assert new["recurring"]["meter"] == old["recurring"]["meter"]
    assert old["active"] is False


async def test_taken_lookup_key_stops_before_anything_is_created(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    products_before = len(seeded_sandbox.test_world.objects["product"])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Pro 2027")
        await type_into(pilot, screen, "#amount", "25")
        await type_into(pilot, screen, "#lookup-key", "pro_monthly")
        await create(pilot, app, screen)
        assert sent(seeded_sandbox, "/v1/products") == [] and sent(seeded_sandbox, "/v1/prices") == []
        assert "'pro_monthly' is held by the price price_" in error_at(screen, "lookup_key")
        assert_blocked(screen, "'pro_monthly' is held by")
        assert app.focused is screen.query_one("#lookup-key")
        # Ticking the transfer (space on the checkbox) clears it; the review creates the product exactly once.
        screen.query_one("#transfer", Checkbox).focus()
        await pilot.press("space")
        await settle(pilot)
        assert error_at(screen, "lookup_key") == ""
        await pilot.press("ctrl+n")
        await settle(pilot)
        calls = [str(s.render()) for s in app.screen.query(Static)]
        assert "POST /v1/products" in calls
        await pilot.click("#review-create")
        await settle(pilot)
    assert len(sent(seeded_sandbox, "/v1/products")) == 1
    assert len(seeded_sandbox.test_world.objects["product"]) == products_before + 1


async def test_reset_restores_every_default(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        fresh = screen.form.snapshot()
        await type_into(pilot, screen, "#product-name", "Temp")
        await choose(pilot, screen, "#model", "usage_per_tier")
        await choose(pilot, screen, "#tiers-mode", "volume")
        await choose(pilot, screen, "#period", "year:1")
        meter = next(iter(seeded_sandbox.test_world.objects["billing.meter"]))
        await choose(pilot, screen, "#meter", meter)
        await choose(pilot, screen, "#tax", "inclusive")
        await type_into(pilot, screen, "#lookup-key", "temp")
        screen.query_one("#transfer", Checkbox).focus()
        await pilot.press("space")
        await type_into(pilot, screen, "#currency", "eur", clear=True)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmModal"  # typed work is not thrown away silently
        await pilot.click("#confirm-button")
        await settle(pilot)
        assert screen.form.snapshot() == fresh
        assert screen.query_one("#transfer", Checkbox).value is False
        assert screen.query_one("#meter", Select).is_blank()
        assert screen.query_one("#currency", Input).value == "gbp"
        assert not screen.unsaved


async def test_quit_asks_while_the_form_holds_uncreated_input(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        assert not screen.unsaved
        await type_into(pilot, screen, "#product-name", "Half")
        assert screen.unsaved
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("escape")
        await settle(pilot)
        await type_into(pilot, screen, "#amount", "20")
        await create(pilot, app, screen)
        assert not screen.unsaved  # created: nothing to lose
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert not app.is_running


async def test_leaving_the_builder_for_another_step_keeps_the_form_without_asking(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Kept")
        app.open_step("catalog")
        await settle(pilot)
        assert app.current_mode == "catalog"
        app.open_step("builder")
        await settle(pilot)
        assert app.screen is screen
        assert screen.query_one("#product-name", Input).value == "Kept"


async def test_after_creating_a_second_ctrl_n_needs_a_change_or_a_yes(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await type_into(pilot, screen, "#product-name", "Once")
        await type_into(pilot, screen, "#amount", "20")
        await create(pilot, app, screen)
        product = next(iter(sandbox.test_world.objects["product"]))
        assert "✓ Created price_" in why_not(screen)
        assert screen.query_one("#product-choice", Select).value == product
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmModal"
        assert "Create another price" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await settle(pilot)
        await type_into(pilot, screen, "#amount", "200", clear=True)
        assert "Ready" in why_not(screen)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReviewModal"
        assert "POST /v1/products" not in [str(s.render()) for s in app.screen.query(Static)]
        await pilot.click("#review-create")
        await settle(pilot)
    assert len(sandbox.test_world.objects["product"]) == 1
    assert sorted(p["unit_amount"] for p in sandbox.test_world.objects["price"].values()) == [2000, 20000]


async def test_at_80x24_the_preview_and_the_result_fit(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await choose(pilot, screen, "#model", "graduated")
        header = screen.query_one("TierHeader")
        first = screen.tier_rows()[0]
        for title, cls in zip(list(header.children)[1:], (".tier-up-to", ".tier-unit", ".tier-flat"), strict=True):
            field = first.query_one(cls, Input)
            assert title.content_region.x == field.content_region.x  # each title over its own column
        assert header.region.height == 1
        await choose(pilot, screen, "#model", "flat")
        await type_into(pilot, screen, "#product-name", "Narrow")
        await type_into(pilot, screen, "#amount", "20")
        pane = screen.query_one("#preview-pane")
        assert pane.display and pane.region.height == 3 and pane.region.right <= 80
        assert pane.region.y + 3 < 24
        # The form gets most of the height; the preview is two lines: the price and the total at the sample quantity.
        assert screen.query_one("#form").region.height >= 17
        compact = screen.query_one("#preview-compact", Static)
        lines = str(compact.render()).splitlines()
        assert lines[0] == "£20.00 / month" and lines[1].startswith("At 10: £200.00 / month · ctrl+o"), lines
        assert compact.region.height == 2 and not screen.query_one("#samples").region.height
        assert "£20.00 / month" in preview(screen)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert not screen.query_one("#form").display and pane.region.height > 15
        assert not compact.region.height and screen.query_one("#samples").region.height
        assert screen.query_one("#preview-help").region.height == 1
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert screen.query_one("#form").display
        screen.query_one("#meter-customer-key")  # labelled rows, one field each
        await create(pilot, app, screen)
        for button in screen.query("#result Button").results(Button):
            # Whole label visible (not "Link to a pl…"): the content is at least as wide as the label.
            assert button.region.right <= 80 and button.content_region.width >= len(str(button.label)), button


async def test_a_created_price_reaches_the_catalog_already_open_without_a_refresh(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    from portal_tui.ui.widgets.price_table import PriceTable

    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("catalog")
        await settle(pilot)
        table = app.screen.query_one(PriceTable)
        assert table.rows and not any(row.product == "Fresh plan" for row in table.rows)
        screen = await open_builder(pilot, app)
        fill(screen, **{"product-name": "Fresh plan", "amount": "12", "currency": "usd"})
        await settle(pilot)
        await create(pilot, app, screen)
        await wait_until(pilot, lambda: screen.form.result is not None)
        await app.switch_mode("catalog")
        await wait_until(pilot, lambda: any(row.product == "Fresh plan" for row in table.rows))


def froms(screen: BuilderScreen) -> list[str]:
    """Each tier row's "From" as shown."""
    return [str(row.query_one(".tier-from", Static).render()).strip() for row in screen.tier_rows()]


def column(screen: BuilderScreen, cls: str) -> list[str]:
    return [row.query_one(cls, Input).value for row in screen.tier_rows()]


async def test_the_from_column_follows_every_insert_remove_and_move(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    """Each row's From is one more than the row above's "up to", at once after every change of the rows."""
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await choose(pilot, screen, "#model", "graduated")
        rows = screen.tier_rows()
        rows[0].query_one(".tier-up-to", Input).focus()
        await pilot.press("1", "0", "tab", "5")
        await settle(pilot)
        assert froms(screen) == ["1 –", "11 –"]
        # Insert: the new row goes before the unbounded one, its From right away, then as its "up to" is typed.
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert froms(screen) == ["1 –", "11 –", "12 –"]
        await pilot.press("2", "0", "tab", "4")
        await settle(pilot)
        assert froms(screen) == ["1 –", "11 –", "21 –"]
        # Insert in the middle of three: the rows after it shift.
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert froms(screen) == ["1 –", "11 –", "21 –", "22 –"]
        await pilot.press("3", "0", "tab", "3")
        await settle(pilot)
        assert froms(screen) == ["1 –", "11 –", "21 –", "31 –"]
        assert column(screen, ".tier-up-to") == ["10", "20", "30", "∞"]
        # Remove the second row: the third now starts after the first.
        screen.tier_rows()[1].query_one(".tier-unit", Input).focus()
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert froms(screen) == ["1 –", "11 –", "31 –"]
        await settle(pilot)
        assert column(screen, ".tier-up-to") == ["10", "30", "∞"]
        assert froms(screen) == ["1 –", "11 –", "31 –"]
        # Move: the prices change rows, the bounds (and so From) stay.
        screen.tier_rows()[1].query_one(".tier-unit", Input).focus()
        await pilot.press("ctrl+up")
        await settle(pilot)
        assert column(screen, ".tier-unit") == ["3", "5", ""]
        assert froms(screen) == ["1 –", "11 –", "31 –"]
        await pilot.press("ctrl+down", "ctrl+down")
        await settle(pilot)
        assert column(screen, ".tier-unit") == ["5", "", "3"]
        assert froms(screen) == ["1 –", "11 –", "31 –"]
        # Remove the unbounded last row: the one above becomes unbounded, From unchanged.
        await pilot.press("ctrl+x")
        await settle(pilot)
        assert column(screen, ".tier-up-to") == ["10", "∞"]
        assert froms(screen) == ["1 –", "11 –"]


# ---- extra currencies (Stripe's currency_options) --------------------------------------------------------------


async def add_currency(pilot: Any, code: str, amounts: list[str]) -> None:
    """ctrl+g, type the code, enter; then type the amounts from the field that gets the cursor, tab between them."""
    await pilot.press("ctrl+g")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "CurrencyPrompt"
    await pilot.press(*code, "enter")
    await settle(pilot)
    for index, amount in enumerate(amounts):
        if index:
            await pilot.press("tab")
        await pilot.press(*amount)
    await settle(pilot)


async def flat_form(pilot: Any, app: PortalApp, name: str) -> BuilderScreen:
    """The builder with a product name and a 20 (account currency) monthly amount typed in."""
    screen = await open_builder(pilot, app)
    await type_into(pilot, screen, "#product-name", name)
    await type_into(pilot, screen, "#amount", "20")
    return screen


def section_of(screen: BuilderScreen, code: str) -> ExtraCurrency:
    return next(section for section in screen.query(ExtraCurrency) if section.code == code)


def retrieved(sandbox: Sandbox, price_id: str, expand: list[str]) -> dict[str, Any]:
    """The price as the real stripe client reads it back from the sandbox."""
    import stripe

    from tests.conftest import TEST_KEY

    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": sandbox.url})
    price: dict[str, Any] = client.v1.prices.retrieve(price_id, {"expand": expand}).to_dict()
    return price


async def test_a_flat_price_in_eur_and_jpy_is_reviewed_created_and_read_back(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await flat_form(pilot, app, "Global VPS")
        await add_currency(pilot, "eru", [])  # a typo: the prompt says what was probably meant
        assert "Did you mean" in str(app.screen.query_one("#currency-error").render())
        await pilot.press(*["backspace"] * 3, *"eur", "enter")
        await settle(pilot)
        assert app.focused is screen.query_one("#amount-eur", Input)
        await pilot.press(*"18.5")
        await add_currency(pilot, "jpy", ["3000.5"])
        assert "JPY has no decimals" in error_at(screen, "currency-jpy")
        assert_blocked(screen, "JPY amount: JPY has no decimals")
        await type_into(pilot, screen, "#amount-jpy", "3000", clear=True)
        assert error_at(screen, "currency-jpy") == ""
        compact = str(screen.query_one("#preview-compact").render())
        assert "At 10: £200.00 · €185.00 · ¥30,000 / month" in compact, compact
        await pilot.press("ctrl+n")
        await settle(pilot)
        review = "\n".join(str(s.render()) for s in app.screen.query(Static))
        assert '"currency_options": {' in review and '"unit_amount": 1850' in review and '"unit_amount": 3000' in review
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert "✓ Created." in str(screen.query_one("#progress").render())
    params = sent(sandbox, "/v1/prices")[0]
    assert params["currency"] == "gbp" and params["unit_amount"] == "2000"
    assert params["currency_options"] == {"eur": {"unit_amount": "1850"}, "jpy": {"unit_amount": "3000"}}
    price_id = next(iter(sandbox.test_world.objects["price"]))
    price = retrieved(sandbox, price_id, ["currency_options"])
    options = price["currency_options"]
    assert {code: option["unit_amount"] for code, option in options.items()} == {"gbp": 2000, "eur": 1850, "jpy": 3000}


async def test_a_graduated_price_in_eur_and_jpy_follows_the_tiers_and_is_created(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_builder(pilot, app)
        fill(screen, **{"product-name": "Seats", "currency": "usd"})
        await choose(pilot, screen, "#model", "graduated")
        await set_tiers(pilot, screen, [("10", "5", "10"), ("∞", "4", "")])
        await add_currency(pilot, "eur", ["4.5", "9", "3.5"])  # per unit and flat fee of tier 1, per unit of tier 2
        await add_currency(pilot, "jpy", ["700", "", "600"])
        bounds = [str(b.render()) for b in section_of(screen, "eur").query(".currency-bound").results(Static)]
        assert bounds == ["1 – 10", "11 – ∞"]
        # A tier added to the price adds a row to each currency, on the new bounds.
        screen.tier_rows()[0].query_one(".tier-unit", Input).focus()
        await pilot.press("ctrl+t")
        await settle(pilot)
        await pilot.press(*"20", "tab", *"4.5")
        await settle(pilot)
        assert [len(entry.tiers) for entry in screen.form.values.currencies] == [3, 3]
        assert "EUR tier 2 needs a per-unit price" in error_at(screen, "currency-eur")
        await settle(pilot)
        eur_rows = section_of(screen, "eur").query(".currency-tier")
        assert [str(r.query_one(".currency-bound", Static).render()) for r in eur_rows] == [
            "1 – 10",
            "11 – 20",
            "21 – ∞",
        ]
        eur_rows[1].query_one(".currency-unit", Input).focus()
        await pilot.press(*"4")
        for row, amount in zip(
            section_of(screen, "jpy").query(".currency-tier"),
            ["700", "650", "600"],
            strict=True,
        ):
            row.query_one(".currency-unit", Input).value = amount
        await settle(pilot)
        assert not screen.form.problems, screen.form.problems
        samples = text_of(screen.query_one("#samples", Static))
        assert "USD" in samples and "EUR" in samples and "JPY" in samples
        await create(pilot, app, screen)
    params = sent(sandbox, "/v1/prices")[0]
    assert params["currency_options"]["eur"]["tiers"] == [
        {"up_to": "10", "unit_amount": "450", "flat_amount": "900"},
        {"up_to": "20", "unit_amount": "400"},
        {"up_to": "inf", "unit_amount": "350"},
    ]
    assert [t["unit_amount"] for t in params["currency_options"]["jpy"]["tiers"]] == ["700", "650", "600"]
    price_id = next(iter(sandbox.test_world.objects["price"]))
    price = retrieved(
        sandbox, price_id, ["currency_options", "currency_options.eur.tiers", "currency_options.jpy.tiers"]
    )
    eur = price["currency_options"]["eur"]["tiers"]
    assert [(t["up_to"], t["unit_amount"], t["flat_amount"]) for t in eur] == [
        (10, 450, 900),
        (20, 400, None),
        (None, 350, None),
    ]


async def test_a_currency_is_removed_from_the_keyboard(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await flat_form(pilot, app, "Pro")
        await add_currency(pilot, "eur", ["18"])
        await pilot.press("tab")
        assert app.focused is screen.query_one("#remove-eur", Button)
        await pilot.press("enter")
        await settle(pilot)
        assert not screen.query(ExtraCurrency) and screen.form.values.currencies == []
        assert "€" not in str(screen.query_one("#preview-compact").render())


async def test_the_flat_form_with_one_extra_currency_fits_80x24(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    from tests.ui.test_layout import FLAT_FORM, in_view

    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_builder(pilot, app)
        await add_currency(pilot, "eur", ["18"])
        form = screen.query_one("#form")
        hidden = [name for name in [*FLAT_FORM, "#amount-eur", "#remove-eur"] if not in_view(screen.query_one(name))]
        assert not hidden and form.scroll_y == 0, hidden
