"""Each flow of the real app on a bad network day: 20% of requests fail (rate limits, server errors before or after
the request ran, dropped connections), from a fixed seed. Every flow ends in success or a clear message, a person
who tries again gets there, and nothing is created twice."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.services.memory_keyring import MemoryKeyring
from portal_tui.ui.app import PortalApp
from portal_tui.ui.screens.builder import BuilderScreen
from portal_tui.ui.screens.plans import PlansScreen
from portal_tui.ui.widgets.field_error import FieldError
from tests.conftest import TEST_KEY
from tests.ui.helpers import settle, type_text

# 20% of requests: 429 (never executed), 500 and dropped connections (half of them after the request ran).
BAD_DAY = {"429": 0.08, "500": 0.08, "drop": 0.04}
ATTEMPTS = 4  # a person tries again a few times before giving up


def bad_day(sandbox: Sandbox, seed: int) -> None:
    sandbox.faults.randomly(BAD_DAY, seed=seed)


def injected(sandbox: Sandbox) -> int:
    return sum(sandbox.faults.injected.values())


def created(sandbox: Sandbox, path: str) -> int:
    """Objects a POST made: successful answers, a replay of the same idempotency key counted once."""
    keys = {r.idempotency_key for r in sandbox.requests if r.method == "POST" and r.path == path and r.status == 200}
    return len(keys)


def clear(message: str) -> None:
    """A message a person can act on: words, no traceback, no secret key."""
    assert message.strip(), "no message"
    assert "Traceback" not in message and TEST_KEY not in message


def seed_price(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


async def test_connect_on_a_bad_network_day(
    make_app: Callable[..., PortalApp], sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    struck = 0
    for seed in (1, 2, 3, 4, 5):
        memory_keyring.entries.clear()
        struck += injected(sandbox)
        bad_day(sandbox, seed)
        app = make_app(sandbox, key=None)
        async with app.run_test(size=(80, 24)) as pilot:
            assert not app.context.connected
            await app.switch_mode("connect")
            await settle(pilot)
            for _ in range(ATTEMPTS):
                app.screen.query_one("#secret-key", Input).value = TEST_KEY
                await pilot.press("ctrl+s")
                await settle(pilot)
                if app.context.connected:
                    break
                clear(app.screen.query_one("#key-error", FieldError).message)
            assert app.context.connected and app.context.account is not None
            assert "Sandbox Hosting Ltd" in str(app.screen.query_one("#account").render())
    assert struck + injected(sandbox) > 0, "no fault struck: the seeds prove nothing"


async def test_create_on_a_bad_network_day(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    app = make_app(sandbox)
    bad_day(sandbox, 7)
    async with app.run_test(size=(140, 50)) as pilot:
        await app.switch_mode("builder")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BuilderScreen)
        screen.query_one("#product-name", Input).value = "Stormy VPS"
        screen.query_one("#amount", Input).value = "20"
        screen.query_one("#lookup-key", Input).value = "stormy_monthly"
        await settle(pilot)
        progress = ""
        for _ in range(ATTEMPTS):
            await pilot.press("ctrl+n")
            await settle(pilot)
            if type(app.screen).__name__ == "ReviewModal":
                await pilot.click("#review-create")
                await settle(pilot)
            progress = str(screen.query_one("#progress").render())
            if "✓ Created." in progress:
                break
            clear(progress)
        assert "✓ Created." in progress
    world = sandbox.test_world
    assert [p["name"] for p in world.objects["product"].values()] == ["Stormy VPS"]
    assert [p["lookup_key"] for p in world.objects["price"].values()] == ["stormy_monthly"]
    assert injected(sandbox) > 0


async def test_link_on_a_bad_network_day(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    price = seed_price(seeded_sandbox, "pro_monthly")
    app = make_app(seeded_sandbox)
    bad_day(seeded_sandbox, 31)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("plans")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        app.screen.query_one("#plan-name", Input).value = ""
        await type_text(pilot, "Pro VPS")
        state = ""
        for _ in range(ATTEMPTS):
            field = app.screen.query_one("#price-test", Input)
            field.value = ""
            await pilot.pause()
            field.value = price
            await pilot.pause(PlansScreen.lookup_delay + 0.1)
            await settle(pilot)
            state = str(app.screen.query_one("#state-price-test").render())
            if "✓" in state:
                break
            clear(state)
        assert "✓ Pro VPS · $20.00 / month" in state
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "modified" not in str(app.screen.query_one("#plans-header").render())
    plans = tomllib.loads((config_dir / "plans.toml").read_text())["plans"]
    assert [(p["id"], p["test_price_id"]) for p in plans] == [("pro-vps", price)]
    assert seeded_sandbox.writes() == 0  # linking reads Stripe only
    assert injected(seeded_sandbox) > 0


async def test_verify_on_a_bad_network_day(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    app.context.config_store.save(
        PlanConfig(plans=[Plan("api", "API", seed_price(seeded_sandbox, "api_calls"), quotas={"vcpu": 2})])
    )
    bad_day(seeded_sandbox, 5)
    runs = 0
    verdict = ""
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("verify")
        await settle(pilot)
        screen: Any = app.screen
        for _ in range(ATTEMPTS):
            await pilot.press("ctrl+r")
            await settle(pilot)
            runs += 1
            verdict = str(screen.query_one("#verdict").render())
            # every run cleans up after itself, whatever its verdict
            assert not seeded_sandbox.test_world.objects["test_helpers.test_clock"], verdict
            if "PASS" in verdict:
                break
            clear(verdict + str(screen.query_one("#steps").render()))
        assert "PASS" in verdict
    world = seeded_sandbox.test_world
    assert not world.objects["customer"] and not world.objects["subscription"]
    # one clock, one customer, one subscription per run: retries replayed, never duplicated
    for path in ("/v1/test_helpers/test_clocks", "/v1/customers", "/v1/subscriptions"):
        assert created(seeded_sandbox, path) <= runs, path
    assert injected(seeded_sandbox) > 0
