"""The product & pricing builder through the real screen: every model, exact params sent, preview amounts, faults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Input, Select, Static

from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.screens.builder import BuilderScreen
from portal_tui.ui.widgets.field_error import FieldError
from tests.ui.helpers import settle, text_of


async def open_builder(pilot: Any, app: PortalApp) -> BuilderScreen:
    await app.switch_mode("builder")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, BuilderScreen)
    return screen


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
    assert not screen.query_one("#create", Button).disabled, screen.problems
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
        "volume",
        {"model": "volume", "period": "year:1"},
        [("10", "5", ""), ("∞", "4", "")],
        {
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": [{"up_to": "10", "unit_amount": "500"}, {"up_to": "inf", "unit_amount": "400"}],
            "recurring": {"interval": "year", "interval_count": "1", "usage_type": "licensed"},
        },
        "Volume · 1–10 $5.00 · 11+ $4.00 / year",
        ["11  $44.00"],
    ),
    (
        "graduated",
        {"model": "graduated", "period": "month:3"},
        [("10", "0", "20"), ("25", "1", "5"), ("∞", "0.5", "")],
        {
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": "10", "unit_amount": "0", "flat_amount": "2000"},
                {"up_to": "25", "unit_amount": "100", "flat_amount": "500"},
                {"up_to": "inf", "unit_amount": "50"},
            ],
            "recurring": {"interval": "month", "interval_count": "3", "usage_type": "licensed"},
        },
        "Graduated · 1–10 $20.00 flat · 11–25 $1.00 + $5.00 · 26+ $0.50 / 3 months",
        ["26  $40.50"],
    ),
    (
        "usage_per_unit",
        {"model": "usage_per_unit", "amount": "0.0004", "meter-name": "API calls", "meter-event": "api_req"},
        [],
        {
            "billing_scheme": "per_unit",
            "unit_amount_decimal": "0.04",
            "recurring": {"interval": "month", "interval_count": "1", "usage_type": "metered", "meter": "NEW"},
        },
        "$0.0004 per unit / month · metered",
        ["100,000  $40.00"],
    ),
    (
        "usage_package",
        {
            "model": "usage_package",
            "amount": "10",
            "package-size": "60",
            "meter-name": "Minutes",
            "meter-event": "minutes",
        },
        [],
        {
            "billing_scheme": "per_unit",
            "unit_amount": "1000",
            "transform_quantity": {"divide_by": "60", "round": "up"},
            "recurring": {"interval": "month", "interval_count": "1", "usage_type": "metered", "meter": "NEW"},
        },
        "$10.00 per 60 units, rounded up / month · metered",
        ["61  $20.00"],
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
    (
        "one_off",
        {"price-type": "one_time", "amount": "49"},
        [],
        {"billing_scheme": "per_unit", "unit_amount": "4900"},
        "$49.00 one-time",
        [],
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
        assert summary in shown, (screen.problems, shown)
        for amount in amounts:
            assert " ".join(amount.split()) in " ".join(shown.split()), shown
        await create(pilot, app, screen)
        prices = sent(sandbox, "/v1/prices")
        assert len(prices) == 1, screen.problems
        params = prices[0]
        meters = sent(sandbox, "/v1/billing/meters")
        if "meter" in expected.get("recurring", {}):
            assert len(meters) == 1
            expected = {
                **expected,
                "recurring": {
                    **expected["recurring"],
                    "meter": sandbox.test_world.objects["billing.meter"].popitem()[0],
                },
            }
        for key, value in expected.items():
            assert params[key] == value, (key, params)
        if name == "one_off":
            assert "recurring" not in params
        assert sent(sandbox, "/v1/products") == [{"name": f"Product {name}"}]
        result = str(screen.query_one("#result-text").render())
        assert "Price ID:   price_" in result and "Product ID: prod_" in result
        await pilot.click("#copy-price")
        assert app.clipboard.startswith("price_")


async def test_create_stays_disabled_and_says_why(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(140, 50)) as pilot:
        screen = await open_builder(pilot, app)
        assert screen.query_one("#create", Button).disabled
        fill(screen, **{"product-name": "P", "currency": "usd", "amount": "12.345"})
        await settle(pilot)
        assert "Use at most 2 decimals for USD" in screen.query_one("#error-unit_amount", FieldError).message
        assert "Cannot create yet" in str(screen.query_one("#why-not").render())
        fill(screen, amount="12.34", currency="xyz")
        await settle(pilot)
        assert "Unknown currency" in screen.query_one("#error-currency", FieldError).message
        fill(screen, currency="jpy", amount="12.5")
        await settle(pilot)
        assert "JPY has no decimals" in screen.query_one("#error-unit_amount", FieldError).message
        fill(screen, currency="usd", amount="5", period="custom", **{"interval-count": "40"})
        await settle(pilot)
        assert "36" in screen.query_one("#error-interval_count", FieldError).message
        fill(screen, **{"interval-count": "2", "lookup-key": "k" * 201})
        await settle(pilot)
        assert "200" in screen.query_one("#error-lookup_key", FieldError).message
        fill(screen, **{"lookup-key": "ok"})
        await settle(pilot)
        assert not screen.query_one("#create", Button).disabled
        fill(screen, model="graduated")
        await settle(pilot)
        await set_tiers(pilot, screen, [("10", "5", ""), ("∞", "", "")])
        assert "Tier 2 needs a per-unit price" in screen.query_one("#error-tiers", FieldError).message
        await set_tiers(pilot, screen, [("10", "5", ""), ("∞", "4", "")])
        screen.tier_rows()[0].query_one(".tier-up-to", Input).value = "0"
        await settle(pilot)
        assert "at least 1" in screen.query_one("#error-tiers", FieldError).message
        assert all(r.method == "GET" for r in sandbox.requests)  # nothing was created


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


async def test_replace_price_moves_the_lookup_key_and_archives(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    old = next(p for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"] == "pro_monthly")
    async with app.run_test(size=(140, 50)) as pilot:
        await app.switch_mode("catalog")
        await settle(pilot)
        table = app.screen.query_one("PriceTable")
        assert table.select_price(old["id"])  # type: ignore[attr-defined]
        await pilot.press("e")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BuilderScreen) and screen.replaces is not None
        assert "Replacing " + old["id"] in str(screen.query_one("#replace-note").render())
        assert screen.query_one("#amount", Input).value == "20.00"
        assert screen.query_one("#lookup-key", Input).value == "pro_monthly"
        fill(screen, amount="25")
        await settle(pilot)
        await create(pilot, app, screen)
    assert old["active"] is False and old["lookup_key"] is None
    new = [p for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"] == "pro_monthly"]
    assert len(new) == 1 and new[0]["unit_amount"] == 2500 and new[0]["product"] == old["product"]
    assert sent(seeded_sandbox, "/v1/products") == []
