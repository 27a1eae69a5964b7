"""The test-mode walkthrough screen: run a plan, see ✓/✗, copy the summary; refuses live keys."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Input, Select

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from tests.conftest import LIVE_KEY
from tests.ui.helpers import settle


def seed_price(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


def with_plans(app: PortalApp, sandbox: Sandbox) -> None:
    app.context.config_store.save(
        PlanConfig(
            plans=[
                Plan("seats", "Team", seed_price(sandbox, "team_seats"), quotas={"vcpu": 2}),
                Plan("api", "API", seed_price(sandbox, "api_calls"), quotas={"instances": "unlimited"}),
            ]
        )
    )


async def test_walkthrough_passes_and_summary_copies(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("verify")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#plan", Select).value == "seats"
        screen.query_one("#quantity", Input).value = "8"
        await pilot.press("ctrl+r")
        await settle(pilot)
        verdict = str(screen.query_one("#verdict").render())
        assert "PASS" in verdict
        steps = str(screen.query_one("#steps").render())
        assert "✓ Create a test clock" in steps and "✓ Clean up" in steps
        await pilot.press("ctrl+y")
        assert "PASS" in app.clipboard and "$22.00" in app.clipboard
        assert not seeded_sandbox.test_world.objects["test_helpers.test_clock"]


async def test_wrong_invoice_shows_a_cross(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.invoice_skew = 3
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("verify")
        await settle(pilot)
        app.screen.query_one("#plan", Select).value = "api"
        app.screen.query_one("#quantity", Input).value = "12000"
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "MISMATCH" in str(app.screen.query_one("#verdict").render())
        assert app.screen.result is not None  # type: ignore[attr-defined]
        first = app.screen.result.lines[0]  # type: ignore[attr-defined]
        assert first.invoiced - first.expected == 3


async def test_live_key_is_refused_with_an_explanation(
    make_app: Callable[..., PortalApp], live_sandbox: Sandbox
) -> None:
    app = make_app(live_sandbox, key=LIVE_KEY)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("verify")
        await settle(pilot)
        assert app.screen.query_one("#live-refusal").display
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert not [r for r in live_sandbox.requests if r.path.startswith("/v1/test_helpers")]
