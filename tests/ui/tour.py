"""A tour of every screen in a known state, shared by the snapshot tests and scripts/screenshots.py.

Each stop builds the real app on a seeded sandbox (demo context: throwaway config folder, memory keyring) and drives
it with the Pilot to the state worth showing. Config lives at a fixed path so the screens are identical every run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Select

from portal_tui.commands.app import demo_context
from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from tests.ui.helpers import settle, wait_until

# Its path shows in the snapshots, so it is fixed: the snapshot tests share one pytest-xdist worker (xdist_group).
TOUR_DIR = Path(tempfile.gettempdir()) / "portal-tui-tour"


def seed_price(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


def make_tour_app(sandbox: Sandbox, *, plans: bool = False) -> PortalApp:
    shutil.rmtree(TOUR_DIR, ignore_errors=True)
    TOUR_DIR.mkdir(parents=True)
    context = demo_context(TOUR_DIR, sandbox.url)
    if plans:
        context.config_store.save(
            PlanConfig(
                plans=[
                    Plan(
                        "starter",
                        "Starter VPS",
                        seed_price(sandbox, "starter_monthly"),
                        quotas={"vcpu": 1, "memory_gb": 1, "storage_gb": 25, "instances": 1},
                    ),
                    Plan(
                        "pro",
                        "Pro VPS",
                        seed_price(sandbox, "pro_monthly"),
                        quotas={"vcpu": 4, "memory_gb": 8, "storage_gb": 160, "instances": "unlimited"},
                    ),
                    Plan("team", "Team", seed_price(sandbox, "team_seats"), quotas={"vcpu": 16}),
                    Plan("enterprise", "Enterprise"),
                ]
            )
        )
    return PortalApp(context)


async def home(pilot: Pilot[None]) -> None:
    await settle(pilot)


async def connect(pilot: Pilot[None]) -> None:
    await pilot.press("f1")
    await settle(pilot)


async def catalog(pilot: Pilot[None]) -> None:
    await pilot.press("f3")
    await settle(pilot)
    screen = pilot.app.screen
    table = screen.query_one("PriceTable")
    table.select_price(next(r.price_id for r in table.rows if r.lookup_key == "team_seats"))  # type: ignore[attr-defined]
    await pilot.pause()
    if screen.query("#details-quantity"):
        screen.query_one("#details-quantity", Input).value = "12"
    await settle(pilot)


async def plans(pilot: Pilot[None]) -> None:
    await pilot.press("f4")
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#plan-list").index = 1  # type: ignore[attr-defined]
    await settle(pilot)


async def _builder(pilot: Pilot[None], values: dict[str, str], tiers: list[tuple[str, str, str]]) -> None:
    await pilot.press("f2")
    await settle(pilot)
    screen = pilot.app.screen
    for name in ("model", "price-type"):
        if name in values:
            screen.query_one(f"#{name}", Select).value = values[name]
    await settle(pilot)
    for name, value in values.items():
        if name in ("model", "price-type"):
            continue
        widget = screen.query_one(f"#{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            widget.value = value  # type: ignore[attr-defined]
    await settle(pilot)
    while tiers and len(screen.tier_rows()) < len(tiers):  # type: ignore[attr-defined]
        screen.action_add_tier()  # type: ignore[attr-defined]
        await settle(pilot)
    for row, (up_to, unit, flat) in zip(screen.tier_rows(), tiers, strict=False):  # type: ignore[attr-defined]
        if up_to != "∞":
            row.query_one(".tier-up-to", Input).value = up_to
        row.query_one(".tier-unit", Input).value = unit
        row.query_one(".tier-flat", Input).value = flat
    await settle(pilot)
    screen.query_one("#product-name", Input).focus()
    await settle(pilot)


async def builder_flat(pilot: Pilot[None]) -> None:
    await _builder(
        pilot,
        {
            "product-name": "Pro VPS",
            "product-description": "4 vCPU, 8 GB RAM",
            "amount": "20",
            "lookup-key": "pro_monthly_2027",
            "nickname": "Pro monthly",
        },
        [],
    )


async def builder_graduated(pilot: Pilot[None]) -> None:
    await _builder(
        pilot, {"product-name": "Team seats", "model": "graduated"}, [("5", "0", "10"), ("20", "4", ""), ("∞", "3", "")]
    )


async def builder_package(pilot: Pilot[None]) -> None:
    await _builder(
        pilot,
        {
            "product-name": "Compute hours",
            "model": "usage_package",
            "amount": "0.10",
            "package-size": "60",
            "meter": "__new__",  # usage prices need a meter chosen: the builder never picks one silently
            "meter-name": "Compute minutes",
            "meter-event": "compute_minutes",
            "preview-quantity": "150",
        },
        [],
    )


async def builder_currencies(pilot: Pilot[None]) -> None:
    """The flat form offered in EUR and JPY too (ctrl+g for each), every currency's total under the form."""
    await builder_flat(pilot)
    for code, amount in (("eur", "18"), ("jpy", "3000")):
        await pilot.press("ctrl+g", *code, "enter")
        await settle(pilot)
        await pilot.press(*amount)
        await settle(pilot)
    pilot.app.screen.query_one("#product-name", Input).focus()
    await settle(pilot)


async def verify(pilot: Pilot[None]) -> None:
    await pilot.press("f5")
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#plan", Select).value = "team"
    screen.query_one("#quantity", Input).value = "8"
    await settle(pilot)
    await pilot.press("ctrl+r")
    # The result arrives as a message after the worker ends, and the verdict scrolls into view after a refresh.
    await wait_until(pilot, lambda: getattr(screen, "result", None) is not None, timeout=30)
    body, verdict = screen.query_one("#verify-body"), screen.query_one("#verdict")

    def verdict_scrolled_into_view() -> bool:
        return body.scroll_y == min(verdict.virtual_region.y, body.max_scroll_y)

    await pilot.pause(0.2)  # the screen's second scroll pass (after the results table's layout)
    await wait_until(pilot, verdict_scrolled_into_view)
    await settle(pilot)


async def go_live(pilot: Pilot[None]) -> None:
    """Step 6 after promoting the verified Pro plan: linked in live mode, and what the live account still needs."""
    from datetime import UTC, datetime

    from portal_tui.domain.plans import VerifyRecord
    from portal_tui.domain.price_terms import price_terms, terms_fingerprint

    app: PortalApp = pilot.app  # type: ignore[assignment]
    store = app.context.config_store
    config = store.load()
    pro = config.plans[1]
    assert pro.test_price_id is not None
    terms = terms_fingerprint(price_terms(app.context.gateway().retrieve_price(pro.test_price_id)))
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    pro.verified = VerifyRecord(at, True, pro.test_price_id, terms, "PASS · quantity 1 · $20.00 invoiced")
    store.save(config)
    await pilot.press("f6")
    await settle(pilot)
    await pilot.press("down", "space", "ctrl+n")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ReviewModal", timeout=30)
    await pilot.press("ctrl+n")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", timeout=30)
    await pilot.press("tab", "enter")  # the live confirmation: no single-key yes
    await wait_until(pilot, lambda: "Switch" in str(getattr(app.screen, "question", "")), timeout=30)
    await pilot.press("escape")  # stay in test mode
    await wait_until(pilot, lambda: not getattr(app.screen, "promoting", True), timeout=30)
    await settle(pilot)


async def help_screen(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await settle(pilot)


async def freeze(pilot: Pilot[None]) -> None:
    """Stop cursors blinking so the picture does not depend on the moment it is taken."""
    for screen in pilot.app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False
    await pilot.pause()


@dataclass(frozen=True)
class Stop:
    name: str
    route: Callable[[Pilot[None]], Awaitable[None]]
    plans: bool = False

    async def drive(self, pilot: Pilot[None]) -> None:
        await self.route(pilot)
        await freeze(pilot)


STOPS = [
    Stop("home", home, plans=True),
    Stop("connect", connect),
    Stop("catalog", catalog),
    Stop("plans", plans, plans=True),
    Stop("builder-flat", builder_flat),
    Stop("builder-graduated", builder_graduated),
    Stop("builder-package", builder_package),
    Stop("builder-currencies", builder_currencies),
    Stop("verify", verify, plans=True),
    Stop("go-live", go_live, plans=True),
    Stop("help", help_screen),
]
