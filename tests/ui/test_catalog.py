"""The price-ID picker: streaming load, filter, details preview, copy (asserting the copied text), link to plan."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Static

from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.widgets.price_details import PriceDetails
from portal_tui.ui.widgets.price_table import PriceTable
from tests.ui.helpers import settle, text_of, type_text, wait_until


def focused(app: PortalApp) -> Widget | None:
    """What has focus now (read afresh: an earlier isinstance check must not narrow a later comparison)."""
    return app.focused


async def open_catalog(pilot: object, app: PortalApp) -> PriceTable:
    await app.switch_mode("catalog")
    await settle(pilot)  # type: ignore[arg-type]
    return app.screen.query_one(PriceTable)


async def open_picker(pilot: Pilot[None], app: PortalApp) -> PriceTable:
    """The price picker of a new plan's test slot (ctrl+n, then ctrl+o in Plans & quotas), and its table."""
    await app.switch_mode("plans")
    await settle(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)
    await pilot.press("ctrl+o")
    await settle(pilot)
    assert type(app.screen).__name__ == "PricePickerModal"
    return app.screen.query_one(PriceTable)


async def test_catalog_loads_filters_and_copies(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        assert len(table.rows) == 13  # active prices only
        assert {row.product for row in table.rows} >= {"Pro VPS", "API calls", "Team seats"}
        await pilot.press("slash")
        await type_text(pilot, "pro_monthly")
        await pilot.pause()
        assert [row.lookup_key for row in table.shown] == ["pro_monthly"]
        await pilot.press("escape", "c")
        await pilot.pause()
        expected = table.shown[0].price_id
        assert app.clipboard == expected
        details = app.screen.query_one(PriceDetails)
        assert str(details.query_one("#details-id").render()) == expected
        # filter by amount text
        app.screen.query_one("#filter", Input).value = "$0.0004"
        await pilot.pause()
        assert [row.product for row in table.shown] == ["API calls"]


async def test_details_preview_at_a_typed_quantity(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        assert table.select_price(next(r.price_id for r in table.rows if r.lookup_key == "team_seats"))
        await pilot.pause()
        details = app.screen.query_one(PriceDetails)
        tiers = text_of(details.query_one("#details-tiers", Static))
        assert "6     20     $4.00" in tiers and "21      ∞     $3.00" in tiers
        details.query_one("#details-quantity", Input).value = "8"
        await pilot.pause()
        preview = str(details.query_one("#details-preview").render())
        assert "1–5: 5 × $0.00 + $10.00 flat = $10.00" in preview
        assert "Total at 8: $22.00" in preview


async def test_archived_toggle_and_refresh(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        await pilot.press("a")
        await settle(pilot)
        assert len(table.rows) == 14 and any(not row.active for row in table.rows)
        before = len([r for r in seeded_sandbox.requests if r.path == "/v1/prices"])
        await pilot.press("r")
        await settle(pilot)
        assert len([r for r in seeded_sandbox.requests if r.path == "/v1/prices"]) == before + 1


async def test_link_to_plan_preselects_the_price(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        price_id = table.current.price_id if table.current else ""
        await pilot.press("l")
        await settle(pilot)
        assert app.current_mode == "plans"
        offer = app.screen.form.offer  # type: ignore[attr-defined]
        assert offer is not None and offer.price_id == price_id
        await pilot.press("t")
        await settle(pilot)
        plans = app.screen.config.plans  # type: ignore[attr-defined]
        assert plans and plans[0].test_price_id == price_id


async def test_many_prices_stream_in(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    sandbox.bulk_prices(1000)
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        assert len(table.rows) == 1000
        assert len([r for r in sandbox.requests if r.path == "/v1/prices"]) >= 10
        app.screen.query_one("#filter", Input).value = "bulk price 00099"
        await pilot.pause()
        assert [row.nickname for row in table.shown] == ["Bulk price 00099"]


async def test_tab_from_the_table_reaches_a_visible_field(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_catalog(pilot, app)
        assert isinstance(app.focused, PriceTable)
        await pilot.press("tab")
        assert focused(app) is app.screen.query_one("#details-quantity", Input)


async def test_at_80_columns_the_table_shows_whole_ids_and_d_shows_the_details(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_catalog(pilot, app)
        assert table.size.width == 80
        team = next(r for r in table.rows if r.lookup_key == "team_seats")
        assert table.select_price(team.price_id)
        await pilot.pause()
        header = "".join(segment.text for segment in table.render_line(0))
        line = "".join(segment.text for segment in table.render_line(1 + table.cursor - int(table.scroll_offset.y)))
        assert "Product" in header and "What a customer pays" in header and "Price ID" in header
        assert team.price_id in line and "Team seats" in line
        details = app.screen.query_one(PriceDetails)
        assert not details.display or details.size.width == 0
        await pilot.press("c")
        await pilot.pause()
        assert "press d" in list(app._notifications)[-1].message
        await pilot.press("d")
        await pilot.pause()
        assert details.size.width >= 60 and details.size.height >= 15
        assert str(details.query_one("#details-id").render()) == team.price_id
        assert "21      ∞     $3.00" in text_of(details.query_one("#details-tiers", Static))
        await pilot.press("tab")
        assert app.focused is details.query_one("#details-quantity", Input)
        await pilot.press("escape")
        await pilot.pause()
        assert focused(app) is table and table.size.width == 80


def test_optional_columns_join_as_the_width_allows() -> None:
    from portal_tui.ui.widgets.price_table import visible_columns

    def names(width: int) -> list[str]:
        return [attr for _title, attr, _size in visible_columns(width)]

    assert names(76) == ["product", "summary", "price_id"]
    previous: set[str] = set()
    for width in range(76, 160):
        shown = set(names(width))
        assert previous <= shown  # nothing disappears as the terminal grows
        assert dict((a, s) for _t, a, s in visible_columns(width))["summary"] >= 26
        previous = shown
    assert previous == {"product", "nickname", "summary", "interval", "usage", "lookup_key", "price_id", "active"}
    # A 120-column terminal (the details then sit under the table) shows the interval and the lookup key.
    assert {"interval", "lookup_key"} <= set(names(120))


async def test_at_120_columns_the_table_shows_interval_and_lookup_key_above_the_details(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        pro = next(r for r in table.rows if r.lookup_key == "pro_monthly")
        assert table.select_price(pro.price_id)
        await pilot.pause()
        header = "".join(segment.text for segment in table.render_line(0))
        line = "".join(segment.text for segment in table.render_line(1 + table.cursor - int(table.scroll_offset.y)))
        assert "Interval" in header and "Lookup key" in header
        assert "month" in line and "pro_monthly" in line and pro.price_id in line
        details = app.screen.query_one(PriceDetails)
        assert details.region.y >= table.region.bottom and details.region.height >= 10
        assert str(details.query_one("#details-id").render()) == pro.price_id


async def test_at_80_columns_a_row_says_which_hidden_field_the_filter_matched(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_catalog(pilot, app)
        await pilot.press("slash")
        await type_text(pilot, "pro_month")
        await pilot.pause()
        assert [row.lookup_key for row in table.shown] == ["pro_monthly"]
        segments = list(table.render_line(1))
        line = "".join(segment.text for segment in segments)
        assert "key pro_monthly" in line and table.shown[0].price_id in line
        underlined = "".join(s.text for s in segments if s.style is not None and s.style.underline)
        assert underlined.lower() == "pro_month"


async def test_the_picker_picks_with_one_enter_and_offers_only_its_own_keys(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(pilot, app)
        status = str(app.screen.query_one("#catalog-status").render())
        assert "enter picks" in status and "c copy" not in status and "archived" not in status
        await type_text(pilot, "pro")
        await pilot.pause()
        table = app.screen.query_one(PriceTable)
        await pilot.press("down")  # moves the table's cursor while typing in the filter
        expected = table.shown[1].price_id
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "PlansScreen"
        assert app.screen.query_one("#price-test", Input).value == expected


async def test_toggling_archived_with_a_filter_keeps_a_row_and_its_details(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_catalog(pilot, app)
        await pilot.press("slash")
        await type_text(pilot, "vps")
        await pilot.press("escape", "a")
        await settle(pilot)
        assert table.current is not None
        details = app.screen.query_one(PriceDetails)
        assert str(details.query_one("#details-id").render()) == table.current.price_id


async def test_at_80_columns_typing_in_the_details_view_never_reaches_a_hidden_field(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_catalog(pilot, app)
        team = next(r for r in table.rows if r.lookup_key == "team_seats")
        assert table.select_price(team.price_id)
        await pilot.press("d")
        await pilot.pause()
        details = app.screen.query_one(PriceDetails)
        assert app.focused is details.query_one("#details-quantity", Input)
        await type_text(pilot, "8")  # a preview quantity, not "open step 8"/a filter
        await pilot.pause()
        assert app.current_mode == "catalog"
        assert "Total at 8: $22.00" in str(details.query_one("#details-preview").render())
        # Away and back, with nothing focused (as before the fix): focus lands on a field that is shown.
        app.screen.set_focus(None)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert app.current_mode == "catalog"
        assert app.focused is details.query_one("#details-quantity", Input)
        await type_text(pilot, "12")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == ""
        assert len(table.shown) == len(table.rows)
        assert str(details.query_one("#details-id").render()) == team.price_id
        await pilot.press("escape")
        await pilot.pause()
        assert focused(app) is table and table.region.width == 80


async def test_link_to_plan_offers_only_the_slot_of_the_price_mode(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)  # a test key: the catalog lists test-mode prices
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_catalog(pilot, app)
        price_id = table.current.price_id if table.current else ""
        await pilot.press("l")
        await settle(pilot)
        assert app.current_mode == "plans"
        assert not app.screen.query_one("#offer-live").display and app.screen.query_one("#offer-test").display
        assert "a test-mode price" in str(app.screen.query_one("#offer-text").render())
        await pilot.press("v")
        await settle(pilot)
        plan = app.screen.config.plans[0]  # type: ignore[attr-defined]
        assert plan.live_price_id is None
        refusal = list(app._notifications)[-1]
        assert refusal.severity == "error" and "can only be a plan's test price" in refusal.message
        await pilot.press("t")
        await settle(pilot)
        assert plan.test_price_id == price_id and plan.live_price_id is None


def multi_currency_prices(sandbox: Sandbox) -> tuple[str, str]:
    """A flat and a graduated price in USD, EUR and JPY, made through the real client like any other account's."""
    import stripe

    from tests.conftest import TEST_KEY

    sc = stripe.StripeClient(TEST_KEY, base_addresses={"api": sandbox.url})
    product = sc.v1.products.create(params={"name": "Global VPS"}).id
    flat = sc.v1.prices.create(
        params={
            "product": product,
            "currency": "usd",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
            "lookup_key": "global_flat",
            "currency_options": {"eur": {"unit_amount": 1850}, "jpy": {"unit_amount": 3000}},
        }
    )
    graduated = sc.v1.prices.create(
        params={
            "product": product,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "recurring": {"interval": "month"},
            "lookup_key": "global_seats",
            "tiers": [{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400}],
            "currency_options": {
                "eur": {"tiers": [{"up_to": 10, "unit_amount": 450}, {"up_to": "inf", "unit_amount": 350}]},
                "jpy": {"tiers": [{"up_to": 10, "unit_amount": 700}, {"up_to": "inf", "unit_amount": 600}]},
            },
        }
    )
    return flat.id, graduated.id


async def test_the_picker_finds_a_usd_price_by_its_other_currencies_and_says_how_many_it_has(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    flat, graduated = multi_currency_prices(seeded_sandbox)
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_picker(pilot, app)
        await wait_until(pilot, lambda: len(table.rows) == 15)  # the seed's 13 and these two
        row = next(r for r in table.rows if r.price_id == flat)
        assert row.summary == "$20.00 / month · +2 currencies"
        await type_text(pilot, "eur")
        await pilot.pause()
        # these two USD prices offered in EUR too, the seed's two such prices, and the seed's own EUR price
        shown = {r.price_id for r in table.shown}
        assert {flat, graduated} <= shown and len(shown) == 5
        line = "".join(segment.text for segment in table.render_line(1 + table.shown.index(row)))
        assert "in EUR JPY · $20.00" in line  # the row says why it matched, before its summary
        await pilot.press("backspace", "backspace", "backspace")
        await type_text(pilot, "jpy")
        await pilot.pause()
        assert {r.price_id for r in table.shown} >= {flat, graduated}
        assert all("JPY" in r.other_currencies or r.price.get("currency") == "jpy" for r in table.shown)


async def test_details_list_each_currency_with_its_amount_or_tiers(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    flat, graduated = multi_currency_prices(seeded_sandbox)
    app = make_app(seeded_sandbox)
    async with app.run_test(size=(160, 50)) as pilot:
        table = await open_catalog(pilot, app)
        await wait_until(pilot, lambda: len(table.rows) == 15)
        details = app.screen.query_one(PriceDetails)
        currencies = details.query_one("#details-currencies", Static)
        assert table.select_price(flat)
        await pilot.pause()
        listed = text_of(currencies)
        assert currencies.display
        assert "USD  $20.00 / month" in listed and "EUR  €18.50 / month" in listed and "JPY  ¥3,000 / month" in listed
        assert table.select_price(graduated)
        await pilot.pause()
        listed = text_of(currencies)
        assert "EUR  Graduated" in listed and "JPY  Graduated" in listed
        assert "€4.50" in listed and "€3.50" in listed and "¥700" in listed and "¥600" in listed
        assert table.select_price(next(r.price_id for r in table.rows if r.lookup_key == "pro_monthly"))
        await pilot.pause()
        assert not currencies.display  # a one-currency price: nothing more to list
