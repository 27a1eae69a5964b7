"""Go live (step 6): promote a verified test plan to live mode, link it, check readiness; the live key prompt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from portal_tui.domain.plans import Plan, PlanConfig, VerifyRecord
from portal_tui.domain.price_terms import price_terms, terms_fingerprint
from portal_tui.sandbox import Sandbox
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from portal_tui.services.memory_keyring import MemoryKeyring
from portal_tui.ui.app import PortalApp
from tests.conftest import LIVE_KEY, TEST_KEY
from tests.ui.helpers import settle, text_of, type_text, wait_until

LIVE_BODY = LIVE_KEY.removeprefix("sk_live_")[:16]


def seed_price(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


def gateway(sandbox: Sandbox, key: str) -> StripeGateway:
    return StripeGateway(parse_key(key), api_base=sandbox.url, retry_delay=0.001)


def passing_record(sandbox: Sandbox, price_id: str) -> VerifyRecord:
    """What Verify records after a passing run of this price (its terms as they are now)."""
    terms = terms_fingerprint(price_terms(gateway(sandbox, TEST_KEY).retrieve_price(price_id)))
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    return VerifyRecord(at=at, passed=True, price_id=price_id, terms=terms, summary="PASS · $20.00 invoiced")


def with_plan(app: PortalApp, sandbox: Sandbox, *, verified: bool = True, lookup: str = "pro_monthly") -> str:
    price = seed_price(sandbox, lookup)
    record = passing_record(sandbox, price) if verified else None
    app.context.config_store.save(
        PlanConfig(plans=[Plan("pro", "Pro VPS", price, quotas={"vcpu": 4}, verified=record)])
    )
    return price


def with_live_key(app: PortalApp) -> None:
    app.context.keystore.save(parse_key(LIVE_KEY), activate=False)


async def open_go_live(pilot: object, app: PortalApp) -> None:
    await app.switch_mode("go_live")
    await settle(pilot)  # type: ignore[arg-type]


def cells(app: PortalApp, row: int = 0, *, missing_ok: bool = False) -> list[str]:
    """The texts of a row of the plan table; with `missing_ok`, no cells while the table has not reached that row."""
    table = app.screen.query_one("#plan-table", DataTable)
    if missing_ok and row >= table.row_count:
        return []
    return [str(cell) for cell in table.get_row_at(row)]


def status(app: PortalApp) -> str:
    """The progress and result lines under the table (also while a question is on top)."""
    screen = app._unsaved_screen("go_live")
    assert isinstance(screen, Screen)
    return text_of(screen.query_one("#status", Static))


def screen_name(app: PortalApp) -> str:
    return type(app.screen).__name__


async def test_a_verified_plan_goes_live_linked_and_identical(
    make_app: Callable[..., PortalApp],
    seeded_sandbox: Sandbox,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from portal_tui.services.catalog_store import CatalogStore
    from portal_tui.services.promotion import diff_catalog, export_catalog

    app = make_app(seeded_sandbox)
    price = with_plan(app, seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        assert app.current_mode == "go_live"
        row = cells(app)
        assert row[1] == "Pro VPS" and row[2] == "$20.00 / month"
        assert row[3] == "✓ passed 2026-12-01" and row[4] == "missing"
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        review = " ".join(text_of(w) for w in app.screen.query(Static))
        assert "LIVE MODE" in str(app.screen.query_one("Label").render())
        assert "POST /v1/products" in review and "POST /v1/prices" in review and "pro_monthly" in review
        assert seeded_sandbox.writes(live=True) == 0  # reviewing sends nothing
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        assert "LIVE MODE" in str(app.screen.query_one("#confirm-title").render())
        await pilot.click("#confirm-button")
        # Then the offer to switch the app to live mode: not now.
        await wait_until(pilot, lambda: "Switch" in str(getattr(app.screen, "question", "")), timeout=15)
        assert "Switch the app to live mode" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await settle(pilot)
        assert not app.context.livemode
        writes = seeded_sandbox.writes(live=True)
        assert writes >= 2

        live = gateway(seeded_sandbox, LIVE_KEY)
        live_price = live.find_price_by_lookup_key("pro_monthly")
        assert live_price is not None and live_price["livemode"]
        test_price = gateway(seeded_sandbox, TEST_KEY).retrieve_price(price)
        assert price_terms(live_price) == price_terms(test_price)
        saved = app.context.config_store.load().plans[0]
        assert saved.live_price_id == live_price["id"] and saved.test_price_id == price
        assert saved.verified is not None  # the Verify record survives the link
        assert f"{saved.live_price_id}" in status(app)
        assert cells(app)[4] == "linked"
        catalog = CatalogStore(config_dir / "catalog.toml").load()
        assert catalog.price("pro_monthly") is not None
        assert not diff_catalog(catalog, live).pending
        assert not diff_catalog(export_catalog(gateway(seeded_sandbox, TEST_KEY), price_ids=[price]), live).pending

        # Promoting again: nothing to review, nothing written, nothing to switch.
        await pilot.press("ctrl+n")
        await settle(pilot)
        await wait_until(pilot, lambda: not app.screen.promoting)  # type: ignore[attr-defined]
        await settle(pilot)
        assert screen_name(app) == "GoLiveScreen"
        assert seeded_sandbox.writes(live=True) == writes
        assert "nothing to create" in status(app)

    # And the command line agrees: `portal-tui catalog diff --mode live` has nothing to do (exit code 0).
    from portal_tui.cli import main

    monkeypatch.setenv("STRIPE_API_KEY", LIVE_KEY)
    monkeypatch.setenv("PORTAL_TUI_CONFIG_DIR", str(config_dir))
    plans_file = str(config_dir / "plans.toml")
    code = main(["--config", plans_file, "--api-base", seeded_sandbox.url, "catalog", "diff", "--mode", "live"])
    printed = capsys.readouterr()
    assert code == 0, printed
    assert str(config_dir / "catalog.toml") in printed.out


async def test_switching_to_live_after_promoting(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    from portal_tui.ui.widgets.top_bar import TopBar

    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_go_live(pilot, app)
        await pilot.press("enter")  # enter on the table promotes too
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.click("#confirm-button")
        await wait_until(
            pilot,
            lambda: (
                screen_name(app) == "ConfirmModal" and "Switch" in str(app.screen.query_one("#confirm-title").render())
            ),
            timeout=15,
        )
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: app.context.livemode)
        await settle(pilot)
        assert "LIVE MODE" in str(app.screen.query_one(TopBar).render())
        assert app.context.keystore.active_mode == "live"
        # Still both worlds: the table reads the test price with the remembered test key.
        assert cells(app)[4] == "linked" and cells(app)[2] == "$20.00 / month"


async def test_a_plan_never_verified_asks_first(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox, verified=False)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        assert cells(app)[3] == "never"
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        assert "did not pass" in str(app.screen.query_one("#confirm-title").render())
        assert "Pro VPS: never verified" in text_of(app.screen.query_one("#confirm-details", Static))
        await pilot.press("escape")
        await settle(pilot)
        assert screen_name(app) == "GoLiveScreen"
        assert "Not promoted" in status(app)
        assert seeded_sandbox.writes(live=True) == 0
        # Confirming goes on to the review.
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")


async def test_a_stale_verify_result_asks_first(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    price = with_plan(app, seeded_sandbox)
    config = app.context.config_store.load()
    record = config.plans[0].verified
    assert record is not None
    # Verified with other terms than the price has now (the price was replaced with different terms since).
    config.plans[0].verified = VerifyRecord(record.at, True, price, "0" * 16, record.summary)
    app.context.config_store.save(config)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        assert cells(app)[3] == "stale"
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        assert "changed since" in text_of(app.screen.query_one("#confirm-details", Static))


async def test_declining_the_live_confirmation_writes_nothing(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    with_live_key(app)
    before = app.context.config_store.path.read_text()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.press("escape")
        await settle(pilot)
        assert "nothing was sent" in status(app)
        # Backing out of the review writes nothing either.
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("escape")
        await settle(pilot)
    assert seeded_sandbox.writes(live=True) == 0
    assert gateway(seeded_sandbox, LIVE_KEY).find_price_by_lookup_key("pro_monthly") is None
    assert app.context.config_store.path.read_text() == before


async def test_a_missing_live_key_is_asked_for_and_kept_in_the_keyring(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, memory_keyring: MemoryKeyring, config_dir: Path
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        line = app.screen.query_one("#live-key-line", Static)
        assert "No live key" in text_of(line) and "ctrl+k" in text_of(line)
        assert cells(app)[4] == "no live key"
        await pilot.press("ctrl+n")  # promoting asks for the key first
        await wait_until(pilot, lambda: screen_name(app) == "LiveKeyModal")
        field = app.screen.query_one("#live-key", Input)
        assert field.password and app.focused is field
        field.value = TEST_KEY
        await pilot.press("enter")
        # (no settle: the promotion waits on this question, so its worker does not end)
        await wait_until(pilot, lambda: "test-mode key" in text_of(app.screen.query_one("#live-key-error", Static)))
        field.value = ""
        await type_text(pilot, LIVE_KEY)
        await pilot.press("enter")
        # Kept, and the promotion goes on to the review.
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("escape")
        await settle(pilot)
        assert "sk_live_…" in text_of(app.screen.query_one("#live-key-line", Static))
        notes = " ".join(f"{n.title} {n.message}" for n in app._notifications)
        assert "kept in the" in notes and LIVE_BODY not in notes
        assert LIVE_BODY not in app.export_screenshot()
    assert memory_keyring.get_password("portal-tui", "secret-key-live") == LIVE_KEY
    assert app.context.keystore.active_mode == "test" and not app.context.livemode
    for path in config_dir.rglob("*"):
        assert not path.is_file() or LIVE_BODY not in path.read_text(errors="replace"), path
    assert seeded_sandbox.writes(live=True) == 0


async def test_a_price_without_lookup_key_gets_one_before_promoting(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    from decimal import Decimal

    from portal_tui.domain.pricing import PriceDraft

    test = gateway(seeded_sandbox, TEST_KEY)
    product = test.create_product("Backup add-on", None, idempotency_key="go-live-test-product")
    price = test.create_price(
        PriceDraft(currency="gbp", unit_amount=Decimal(500)).to_stripe_params(product["id"]),
        idempotency_key="go-live-test-price",
    )
    app = make_app(seeded_sandbox)
    record = passing_record(seeded_sandbox, price["id"])
    app.context.config_store.save(PlanConfig(plans=[Plan("backup", "Backup", price["id"], verified=record)]))
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        assert cells(app)[4] == "no lookup key"
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "LookupKeyModal")
        suggestion = app.screen.query_one("#lookup-key", Input)
        assert suggestion.value.startswith("backup")
        suggestion.value = "backup_monthly"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        assert test.retrieve_price(price["id"])["lookup_key"] == "backup_monthly"
        assert seeded_sandbox.writes(live=True) == 0  # the lookup key is a test-mode change


async def test_readiness_shows_failing_checks_with_their_fix(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        shown = text_of(app.screen.query_one("#readiness", Static))
        assert "✗ Statement descriptor" in " ".join(shown.split())
        assert "Fix:" in shown and "Settings → Public details" in " ".join(shown.split())
        assert "✓ Charges enabled" in " ".join(shown.split())
        seeded_sandbox.live_account.make_ready()
        await pilot.press("r")
        await settle(pilot)
        shown = " ".join(text_of(app.screen.query_one("#readiness", Static)).split())
        assert "✓ Statement descriptor" in shown and "✗ Webhook endpoint" in shown


async def test_choosing_plans_with_space_and_a(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    app.context.config_store.save(
        PlanConfig(
            plans=[
                Plan("starter", "Starter", seed_price(seeded_sandbox, "starter_monthly")),
                Plan("pro", "Pro", seed_price(seeded_sandbox, "pro_monthly")),
                Plan("none", "Not linked"),
            ]
        )
    )
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        await pilot.press("space")
        assert [cells(app, n)[0] for n in range(3)] == ["[x]", "[ ]", "[ ]"]
        await pilot.press("a")
        assert [cells(app, n)[0] for n in range(3)] == ["[x]", "[x]", "[ ]"]  # a plan without a price is left out
        await pilot.press("a")
        assert [cells(app, n)[0] for n in range(3)] == ["[ ]", "[ ]", "[ ]"]
        await pilot.press("down", "space", "ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")  # neither was verified
        assert "Pro: never verified" in text_of(app.screen.query_one("#confirm-details", Static))
        assert "Starter" not in text_of(app.screen.query_one("#confirm-details", Static))


async def test_a_failed_promotion_says_why_and_the_next_one_carries_on(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    with_live_key(app)
    seeded_sandbox.faults.add(method="POST", path="/v1/prices", kind="500", times=10)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: "✗" in status(app), timeout=15)
        await wait_until(pilot, lambda: not app.screen.promoting)  # type: ignore[attr-defined]
        assert "carries on" in status(app)
        assert app.context.config_store.load().plans[0].live_price_id is None
        live = seeded_sandbox.worlds[True].objects
        assert len(live["product"]) == 1 and not live["price"]  # the product was made, the price was not
        seeded_sandbox.faults.release_all()
        seeded_sandbox.faults.faults.clear()
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        review = " ".join(text_of(w) for w in app.screen.query(Static))
        assert "POST /v1/products " not in review and "POST /v1/prices" in review  # only what is missing
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: "Switch" in str(getattr(app.screen, "question", "")), timeout=15)
        await pilot.press("escape")
        await settle(pilot)
        assert len(live["product"]) == 1 and len(live["price"]) == 1
        assert app.context.config_store.load().plans[0].live_price_id == next(iter(live["price"]))


async def test_a_live_price_that_differs_is_replaced_only_when_asked(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    from decimal import Decimal

    from portal_tui.domain.pricing import PriceDraft

    live = gateway(seeded_sandbox, LIVE_KEY)
    product = live.create_product("Pro VPS", "4 vCPU, 8 GB RAM, 160 GB SSD", idempotency_key="go-live-differs-product")
    draft = PriceDraft(currency="usd", unit_amount=Decimal(2500), lookup_key="pro_monthly")
    old = live.create_price(draft.to_stripe_params(product["id"]), idempotency_key="go-live-differs-price")
    app = make_app(seeded_sandbox)
    price = with_plan(app, seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        assert cells(app)[4] == "differs: amount"
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "differ" in str(getattr(app.screen, "question", "")))
        assert "$20.00 → $25.00" in text_of(app.screen.query_one("#confirm-details", Static))
        await pilot.press("escape")  # leave it alone
        await wait_until(pilot, lambda: not app.screen.promoting)  # type: ignore[attr-defined]
        await settle(pilot)
        assert "not linked" in status(app)
        assert app.context.config_store.load().plans[0].live_price_id is None
        assert live.find_price_by_lookup_key("pro_monthly")["id"] == old["id"]  # type: ignore[index]

        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: "differ" in str(getattr(app.screen, "question", "")))
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: "Switch" in str(getattr(app.screen, "question", "")), timeout=15)
        await pilot.press("escape")
        await settle(pilot)
        new = live.find_price_by_lookup_key("pro_monthly")
        assert new is not None and new["id"] != old["id"]
        assert price_terms(new) == price_terms(gateway(seeded_sandbox, TEST_KEY).retrieve_price(price))
        assert not live.retrieve_price(old["id"])["active"]
        assert app.context.config_store.load().plans[0].live_price_id == new["id"]
        assert cells(app)[4] == "linked"


async def promote_all(pilot: Pilot[None], app: PortalApp) -> None:
    """ctrl+n, through the review and the live question; no switch to live mode."""
    await pilot.press("ctrl+n")
    await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
    await pilot.press("ctrl+n")
    await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
    await pilot.click("#confirm-button")
    await wait_until(pilot, lambda: "Switch" in str(getattr(app.screen, "question", "")), timeout=15)
    await pilot.press("escape")
    await settle(pilot)


async def test_the_plan_editor_shows_the_linked_live_price_and_keeps_unsaved_edits(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")  # the editor is built, no unsaved edits
        await settle(pilot)
        await open_go_live(pilot, app)
        await promote_all(pilot, app)
        live_id = app.context.config_store.load().plans[0].live_price_id
        assert live_id
        await pilot.press("4")
        await settle(pilot)
        assert app.screen.query_one("#price-live", Input).value == live_id
        assert not app.screen.unsaved  # type: ignore[attr-defined]

    app = make_app(seeded_sandbox)
    app.context.config_store.save(
        PlanConfig(
            plans=[Plan("starter", "Starter", seed_price(seeded_sandbox, "starter_monthly"), quotas={"vcpu": 1})]
        )
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        app.screen.query_one("#plan-name", Input).value = "Starter (edited)"
        await settle(pilot)
        assert app.screen.unsaved  # type: ignore[attr-defined]
        await app.switch_mode("go_live")  # (a switch that does not ask: the edits stay in the editor)
        await settle(pilot)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")  # never verified
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.click("#confirm-button")
        await wait_until(pilot, lambda: "Switch" in str(getattr(app.screen, "question", "")), timeout=15)
        await pilot.press("escape")
        await settle(pilot)
        notes = " ".join(n.message for n in app._notifications)
        assert "unsaved edits" in notes
        await app.switch_mode("plans")
        await settle(pilot)
        assert app.screen.query_one("#plan-name", Input).value == "Starter (edited)"  # nothing typed is lost
        assert app.context.config_store.load().plans[0].live_price_id is not None


def headless_app(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> PortalApp:
    """No keyring on this machine; connected in test mode for this session only."""
    from keyring.backends.fail import Keyring as FailKeyring

    app = make_app(sandbox, key=None, keyring_backend=FailKeyring())  # type: ignore[no-untyped-call]
    secret = parse_key(TEST_KEY)
    app.context.connect(app.context.keystore.session(secret), app.context.gateway_for(secret).verify())
    return app


async def paste_live_key(pilot: Pilot[None], app: PortalApp) -> None:
    await pilot.press("ctrl+k")
    await wait_until(pilot, lambda: screen_name(app) == "LiveKeyModal")
    app.screen.query_one("#live-key", Input).value = LIVE_KEY
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.screen.query_one("#live-key-file").has_class("visible"))


async def test_without_a_keyring_the_live_key_goes_to_a_0600_file_or_this_session(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    from portal_tui.services.keystore import KeySource

    app = headless_app(make_app, seeded_sandbox)
    with_plan(app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        await paste_live_key(pilot, app)
        await pilot.click("#live-key-session")
        await wait_until(pilot, lambda: screen_name(app) == "GoLiveScreen")
        await settle(pilot)
        assert "this session only" in text_of(app.screen.query_one("#live-key-line", Static))
        assert cells(app)[4] == "missing"  # the live account is read with it
    for path in config_dir.rglob("*"):
        assert not path.is_file() or LIVE_BODY not in path.read_text(errors="replace"), path

    app = headless_app(make_app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        assert "No live key" in text_of(app.screen.query_one("#live-key-line", Static))  # the session one is gone
        await paste_live_key(pilot, app)
        await pilot.click("#live-key-store-file")
        await wait_until(pilot, lambda: screen_name(app) == "GoLiveScreen")
        await settle(pilot)
    stored = app.context.keystore.get("live")
    assert stored is not None and stored.source is KeySource.FILE
    assert (Path(stored.location).stat().st_mode & 0o777) == 0o600
    assert app.context.keystore.active_mode == "test" and not app.context.livemode


async def test_closing_the_help_reads_nothing_again_but_coming_back_does(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_go_live(pilot, app)
        before = len(seeded_sandbox.requests)
        await pilot.press("question_mark")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert len(seeded_sandbox.requests) == before
        await pilot.press("h")
        await settle(pilot)
        seen = len(seeded_sandbox.requests)
        await pilot.press("6")
        await settle(pilot)
        assert len(seeded_sandbox.requests) > seen  # plans may have been edited or verified meanwhile


async def test_a_plan_verified_in_step_5_shows_as_passed_and_promotes_without_asking(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plan(app, seeded_sandbox, verified=False)
    with_live_key(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: getattr(app.screen, "result", None) is not None, timeout=30)
        await settle(pilot)
        assert "PASS" in str(app.screen.query_one("#verdict").render())
        await pilot.press("6")
        await settle(pilot)
        record = app.context.config_store.load().plans[0].verified  # Verify wrote its verdict to the plan file
        assert record is not None and record.passed
        assert cells(app)[3] == f"✓ passed {record.at.date().isoformat()}"
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen_name(app) == "ReviewModal")  # no "did not pass" question first


async def test_the_no_plans_hint_goes_once_plans_exist(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_live_key(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        await wait_until(pilot, lambda: "No plans yet" in status(app))
        with_plan(app, seeded_sandbox)  # made in step 4 meanwhile
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("6")
        await wait_until(pilot, lambda: cells(app, missing_ok=True)[1:2] == ["Pro VPS"])
        assert "No plans yet" not in status(app)
