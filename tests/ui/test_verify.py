"""The test-mode walkthrough screen: run a plan, see ✓/✗, copy the summary; refuses live keys."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from portal_tui.domain.plans import Plan, PlanConfig, verify_state
from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from tests.conftest import LIVE_KEY
from tests.ui.helpers import settle, text_of, wait_until


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
        await open_verify(pilot, app)
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
        # the screen and the copied summary tell the outcome in the same words (one formatter)
        outcome = [text for text, _tone in screen.result.outcome_lines()]  # type: ignore[attr-defined]
        assert any(line.startswith("Quotas the portal grants: vCPU 2") for line in outcome)
        shown = "".join(text_of(screen.query_one("#quotas", Static)).split())
        assert all("".join(line.split()) in shown and line in app.clipboard for line in outcome)
        assert not seeded_sandbox.test_world.objects["test_helpers.test_clock"]


async def test_wrong_invoice_shows_a_cross(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.invoice_skew = 3
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
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
        await open_verify(pilot, app)
        assert app.screen.query_one("#live-refusal").display
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert not [r for r in live_sandbox.requests if r.path.startswith("/v1/test_helpers")]


async def open_verify(pilot: object, app: PortalApp) -> None:
    await app.switch_mode("verify")
    await settle(pilot)  # type: ignore[arg-type]


def clocks_left(sandbox: Sandbox) -> int:
    return len(sandbox.test_world.objects["test_helpers.test_clock"])


async def test_plan_info_names_the_pricing_model_and_the_meter(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    app.context.config_store.save(
        PlanConfig(plans=[Plan("pro", "Pro", seed_price(seeded_sandbox, "pro_monthly")), with_api_plan(seeded_sandbox)])
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        assert "Flat rate · $20.00 / month" in text_of(app.screen.query_one("#plan-info", Static))
        app.screen.query_one("#plan", Select).value = "api"
        await settle(pilot)
        info = text_of(app.screen.query_one("#plan-info", Static))
        assert "Usage-based · per unit" in info and "meter API calls (mtr_" in info


def with_api_plan(sandbox: Sandbox) -> Plan:
    return Plan("api", "API", seed_price(sandbox, "api_calls"))


async def test_escape_cancels_and_cleans_up(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    gate = seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="gate")
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, gate.reached.is_set)
        assert clocks_left(seeded_sandbox) == 1  # the run is waiting on the subscription
        await pilot.press("escape")
        gate.release()
        await settle(pilot)
        assert "CANCELLED" in str(app.screen.query_one("#verdict").render())
        assert "Clean up" in text_of(app.screen.query_one("#steps", Static))
        assert clocks_left(seeded_sandbox) == 0


async def test_quitting_mid_run_waits_for_the_clean_up(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    gate = seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="gate")
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        verify = app.screen
        await pilot.press("ctrl+r")
        await wait_until(pilot, gate.reached.is_set)
        assert clocks_left(seeded_sandbox) == 1
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
        # Quitting asks first, naming the run it would interrupt.
        assert "test run" in text_of(app.screen.query_one("#confirm-details", Static))

        def release_once_quitting_cancels() -> None:
            # Only once the unmounting screen has asked the run to stop: the app must then wait for the clean-up.
            deadline = time.monotonic() + 10
            while not verify.cancel_requested and time.monotonic() < deadline:  # type: ignore[attr-defined]
                time.sleep(0.005)
            gate.release()

        threading.Thread(target=release_once_quitting_cancels, daemon=True).start()
        await pilot.click("#confirm-button")
    # The app has exited: the run was cancelled and its test clock deleted before it did.
    assert clocks_left(seeded_sandbox) == 0
    assert not seeded_sandbox.test_world.objects["customer"]


async def test_second_run_is_refused_while_one_runs(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    gate = seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="gate")
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, gate.reached.is_set)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: any("already running" in n.message for n in app._notifications))
        gate.release()
        await settle(pilot)
        assert "PASS" in str(app.screen.query_one("#verdict").render())
        assert seeded_sandbox.count("POST", "/v1/test_helpers/test_clocks") == 1
        assert clocks_left(seeded_sandbox) == 0


async def test_a_bug_in_the_run_is_shown_and_cleaned_up(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal_tui.services.walkthrough import Walkthrough

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(Walkthrough, "_compare", broken)
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await pilot.press("ctrl+r")
        await settle(pilot)
        verdict = str(app.screen.query_one("#verdict").render())
        assert "FAILED" in verdict and "ZeroDivisionError" in verdict
        assert app.is_running
        assert clocks_left(seeded_sandbox) == 0


# ---- a result never outlives the inputs it was run with ----------------------------------------------------------


async def run_to_pass(pilot: object, app: PortalApp) -> None:
    await pilot.press("ctrl+r")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    assert "PASS" in str(app.screen.query_one("#verdict").render())


def notices(app: PortalApp) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.mark.parametrize(
    "change",
    [
        lambda screen: setattr(screen.query_one("#quantity", Input), "value", "9"),
        lambda screen: setattr(screen.query_one("#card", Select), "value", "declined"),
        lambda screen: setattr(screen.query_one("#plan", Select), "value", "api"),
        lambda screen: screen.query_one("#advance").toggle(),
    ],
    ids=["quantity", "card", "plan", "advance"],
)
async def test_changing_an_input_marks_the_result_out_of_date(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, change: Callable[[object], None]
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        screen = app.screen
        screen.query_one("#quantity", Input).value = "8"
        await run_to_pass(pilot, app)
        change(screen)
        await settle(pilot)
        verdict = str(screen.query_one("#verdict").render())
        assert "PASS" not in verdict and "Out of date" in verdict and "ctrl+r" in verdict
        assert text_of(screen.query_one("#steps", Static)).strip() == ""
        assert text_of(screen.query_one("#quotas", Static)).strip() == ""
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: any("Nothing to copy" in m for m in notices(app)))
        assert app.clipboard == ""


async def test_an_unchanged_form_keeps_its_result(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        screen = app.screen
        await run_to_pass(pilot, app)
        screen.query_one("#quantity", Input).value = "1,"  # the same quantity, written differently
        await settle(pilot)
        assert "PASS" in str(screen.query_one("#verdict").render())
        await pilot.press("ctrl+y")
        assert "PASS" in app.clipboard


async def test_an_input_changed_during_the_run_makes_its_result_out_of_date(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    gate = seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="gate")
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, gate.reached.is_set)
        await pilot.press("ctrl+y")  # nothing current to copy while the run goes on
        await wait_until(pilot, lambda: any("a test is running" in m for m in notices(app)))
        app.screen.query_one("#quantity", Input).value = "5"
        gate.release()
        await settle(pilot)
        assert "Out of date" in str(app.screen.query_one("#verdict").render())
        assert app.clipboard == ""
        assert clocks_left(seeded_sandbox) == 0


async def test_the_verdict_is_scrolled_into_view_at_80x24(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_verify(pilot, app)
        body = app.screen.query_one("#verify-body")
        verdict = app.screen.query_one("#verdict", Static)

        def verdict_in_view() -> bool:
            top = verdict.virtual_region.y
            return body.scroll_y <= top and top + 1 <= body.scroll_y + body.scrollable_content_region.height

        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "PASS" in str(verdict.render())
        await wait_until(pilot, verdict_in_view)
        assert body.scroll_y > 0


async def test_the_toast_says_what_was_deleted(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await run_to_pass(pilot, app)
        toast = next(m for m in notices(app) if m.startswith("Test pass"))
        assert "; deleted test clock clock_" in toast and toast.endswith("with its customer and subscription.")


async def test_a_graduated_price_names_its_model_once(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await wait_until(pilot, lambda: "Tiered" in text_of(app.screen.query_one("#plan-info", Static)))
        info = text_of(app.screen.query_one("#plan-info", Static))
        assert "Tiered · graduated · 1–" in info and "Graduated" not in info, info


async def test_an_archived_price_is_refused_with_what_to_do(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    seeded_sandbox.test_world.objects["price"][seed_price(seeded_sandbox, "team_seats")]["active"] = False
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await pilot.press("ctrl+r")
        await settle(pilot)
        verdict = str(app.screen.query_one("#verdict").render())
        assert "is archived: link the price that replaced it in Plans (4)" in verdict
        assert seeded_sandbox.count("POST", "/v1/test_helpers/test_clocks") == 0
        assert any("nothing was created" in m for m in notices(app))


async def test_a_declined_run_reads_as_one_verdict_and_records_it(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    """The declining card's scenario: the invoice matches, the card is declined and the portal withholds the quotas.
    That is all as expected, so the one verdict line says PASS with a ✓ for each part, and no ✗ line sits above or
    below it; the record in plans.toml says pass, with the same line."""
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_verify(pilot, app)
        app.screen.query_one("#card", Select).value = "declined"
        await pilot.press("ctrl+r")
        await settle(pilot)
        verdict = str(app.screen.query_one("#verdict").render())
        assert verdict == "✓ PASS — invoiced $10.00 ✓ · card declined ✓ · quotas withheld ✓"
        assert len(verdict) <= 78  # one line at 80 columns
        shown = text_of(app.screen.query_one("#quotas", Static))
        assert "No quotas: the subscription is incomplete, so none are granted (as expected" in shown
        assert "Quotas the portal grants" not in shown
        steps = text_of(app.screen.query_one("#steps", Static))
        assert "✓ Quotas the portal grants  none: the subscription is incomplete" in steps
        assert "✗" not in steps + shown
        await pilot.press("ctrl+y")
        assert app.clipboard.startswith("portal-tui test-mode check: " + verdict.removeprefix("✓ "))
    verified = tomllib.loads((config_dir / "plans.toml").read_text())["plans"][0]["verified"]
    assert verified["result"] == "pass"
    assert verified["summary"].startswith(verdict.removeprefix("✓ ") + "; Visa 0341 · declined, quantity 1")


def test_the_verdict_covers_billing_card_and_quotas_and_the_record_follows_it() -> None:
    """Every combination the run can end in, as the verdict, its line and the recorded pass/fail."""
    from portal_tui.domain.pricing import breakdown
    from portal_tui.services.walkthrough import Card, LineCheck, PaymentOutcome, Scenario, WalkthroughResult

    price = {
        "id": "price_x",
        "currency": "usd",
        "unit_amount": 500,
        "billing_scheme": "per_unit",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
    }
    paid = PaymentOutcome("paid", "paid")
    declined = PaymentOutcome("declined", "declined: Your card was declined (card_declined)")

    def run(card: Card, payment: PaymentOutcome, status: str, invoiced: int = 500) -> WalkthroughResult:
        result = WalkthroughResult(
            Plan("pro", "Pro", "price_x"),
            "price_x",
            Scenario(card, 1),
            [],
            price=price,
            first_payment=payment,
            subscription_status=status,
            terms="0123456789abcdef",
            quotas_checked=True,
        )
        result.lines = [LineCheck("Pro × 1", 1, 500, invoiced, "usd", breakdown(price, 1))]
        result.quotas_withheld = None if status in ("active", "trialing") else status
        return result

    cases = [
        (run("succeeds", paid, "active"), "PASS — invoiced $5.00 ✓ · card paid ✓ · quotas granted ✓", True),
        (
            run("declined", declined, "incomplete"),
            "PASS — invoiced $5.00 ✓ · card declined ✓ · quotas withheld ✓",
            True,
        ),
        (
            run("succeeds", paid, "active", 550),
            "MISMATCH — invoiced $5.50 ✗ (expected $5.00) · card paid ✓ · quotas granted ✓",
            False,
        ),
        (
            run("succeeds", declined, "incomplete"),
            "UNEXPECTED PAYMENT — invoiced $5.00 ✓ · card declined ✗ · quotas withheld ✓",
            False,
        ),
        (
            run("succeeds", paid, "incomplete"),
            "UNEXPECTED QUOTAS — invoiced $5.00 ✓ · card paid ✓ · quotas withheld ✗",
            False,
        ),
        (
            run("declined", declined, "active"),
            "UNEXPECTED QUOTAS — invoiced $5.00 ✓ · card declined ✓ · quotas granted ✗",
            False,
        ),
    ]
    for result, line, passed in cases:
        assert result.headline() == line
        assert result.ok is passed and result.recorded_verdict is passed
        record = result.verify_record()
        assert record is not None and record.passed is passed and record.summary.startswith(line + "; ")
        assert result.summary_text().splitlines()[0] == f"portal-tui test-mode check: {line}"
        marked_bad = [text for text, tone in result.outcome_lines() if tone == "bad"]
        assert bool(marked_bad) is (not passed and not line.startswith("MISMATCH")), marked_bad


async def test_editing_the_plan_in_step_4_makes_the_result_out_of_date(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await run_to_pass(pilot, app)
        await app.switch_mode("home")
        await settle(pilot)
        await app.switch_mode("verify")  # nothing changed: the result stands
        await settle(pilot)
        assert "PASS" in str(app.screen.query_one("#verdict").render())
        config = app.context.config_store.load()
        config.plans[0].quotas["vcpu"] = 8
        app.context.config_store.save(config)
        await app.switch_mode("home")
        await settle(pilot)
        await open_verify(pilot, app)
        assert "Out of date" in str(app.screen.query_one("#verdict").render())


async def test_escape_leaves_the_quantity_field_when_no_run_is_going(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_verify(pilot, app)
        field = app.screen.query_one("#quantity", Input)
        field.focus()
        await pilot.press("3")
        before = field.value
        await pilot.press("escape")
        await pilot.press("1")
        await settle(pilot)
        assert field.value == before  # the 1 was a step key, not typed
        assert app.current_mode == "connect"


# ---- the verdict is recorded per plan in plans.toml ---------------------------------------------------------------


def terms_in_account(sandbox: Sandbox, price_id: str) -> str:
    """The price's terms fingerprint worked out here from the API, independently of the walkthrough."""
    from portal_tui.domain.price_terms import price_terms, terms_fingerprint
    from portal_tui.services.gateway import StripeGateway
    from portal_tui.services.keystore import parse_key
    from tests.conftest import TEST_KEY

    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url)
    price = gateway.retrieve_price(price_id)
    meter_id = (price.get("recurring") or {}).get("meter")
    event = next((str(m["event_name"]) for m in gateway.list_meters() if m["id"] == meter_id), None)
    assert (event is None) == (meter_id is None)
    return terms_fingerprint(price_terms(price, event))


async def test_a_pass_is_recorded_in_plans_toml_for_the_plan(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    seats = seed_price(seeded_sandbox, "team_seats")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        app.screen.query_one("#quantity", Input).value = "8"
        started = datetime.now(UTC).replace(microsecond=0)
        await run_to_pass(pilot, app)
        shown = text_of(app.screen.query_one("#quotas", Static))
        assert "Recorded in plans.toml for plan Team" in shown
        data = tomllib.loads((config_dir / "plans.toml").read_text())
        assert data["schema_version"] == 2
        verified = data["plans"][0]["verified"]
        assert verified["result"] == "pass" and verified["price_id"] == seats
        assert verified["terms"] == terms_in_account(seeded_sandbox, seats)
        assert started <= verified["at"] <= datetime.now(UTC) and verified["at"].tzinfo is not None
        # The record keeps the verdict line the screen shows, then the scenario.
        verdict = str(app.screen.query_one("#verdict").render())
        assert verdict == "✓ PASS — invoiced $22.00 ✓ · card paid ✓ · quotas granted ✓"
        assert verified["summary"].startswith(verdict.removeprefix("✓ ") + "; Visa 4242 · succeeds, quantity 8")
        assert "verified" not in data["plans"][1]  # the other plan was not run
        # Recording the result does not make it "out of date" when the screen reloads the plans.
        await app.switch_mode("home")
        await settle(pilot)
        await open_verify(pilot, app)
        assert "PASS" in str(app.screen.query_one("#verdict").render())
        plan = app.context.config_store.load().plan("seats")
        assert plan is not None
        assert verify_state(plan, terms_in_account(seeded_sandbox, seats)) == "passed"


async def test_a_metered_mismatch_is_recorded_as_a_fail_with_the_meters_terms(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    seeded_sandbox.invoice_skew = 3
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    api = seed_price(seeded_sandbox, "api_calls")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        app.screen.query_one("#plan", Select).value = "api"
        app.screen.query_one("#quantity", Input).value = "12000"
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "MISMATCH" in str(app.screen.query_one("#verdict").render())
        assert "Recorded in plans.toml for plan API" in text_of(app.screen.query_one("#quotas", Static))
    verified = tomllib.loads((config_dir / "plans.toml").read_text())["plans"][1]["verified"]
    assert verified["result"] == "fail" and verified["price_id"] == api
    assert verified["terms"] == terms_in_account(seeded_sandbox, api)
    assert "expected" in verified["summary"] and "invoiced" in verified["summary"]


async def test_a_cancelled_run_keeps_the_previous_record(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_verify(pilot, app)
        await run_to_pass(pilot, app)
        before = (config_dir / "plans.toml").read_text()
        gate = seeded_sandbox.faults.add(method="POST", path="/v1/customers", kind="gate")
        await pilot.press("ctrl+r")
        await wait_until(pilot, gate.reached.is_set)
        await pilot.press("escape")
        gate.release()
        await settle(pilot)
        assert "CANCELLED" in str(app.screen.query_one("#verdict").render())
        shown = text_of(app.screen.query_one("#quotas", Static))
        assert "Not recorded in plans.toml: the run was cancelled; the plan keeps its previous result" in shown
    assert (config_dir / "plans.toml").read_text() == before


async def test_unsaved_edits_in_the_plan_editor_survive_a_recorded_verdict(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("plans")
        await settle(pilot)
        app.screen.query_one("#plan-name", Input).value = "Team (edited)"
        app.screen.query_one("#quota-vcpu", Input).value = "6"
        await pilot.pause()
        assert "modified" in str(app.screen.query_one("#plans-header").render())
        await open_verify(pilot, app)
        await run_to_pass(pilot, app)
        recorded = tomllib.loads((config_dir / "plans.toml").read_text())["plans"][0]["verified"]
        assert tomllib.loads((config_dir / "plans.toml").read_text())["plans"][0]["name"] == "Team"
        await app.switch_mode("plans")
        await settle(pilot)
        # The edits are still in the form, still unsaved...
        assert app.screen.query_one("#plan-name", Input).value == "Team (edited)"
        assert app.screen.query_one("#quota-vcpu", Input).value == "6"
        assert "modified" in str(app.screen.query_one("#plans-header").render())
        # ...and saving them asks nothing (the record is no change on disk to resolve) and keeps the record.
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "PlansScreen"
        assert "modified" not in str(app.screen.query_one("#plans-header").render())
    data = tomllib.loads((config_dir / "plans.toml").read_text())
    assert data["plans"][0]["name"] == "Team (edited)" and data["plans"][0]["quotas"] == {"vcpu": 6}
    assert data["plans"][0]["verified"] == recorded


async def test_a_verdict_recorded_while_the_plan_editor_is_open_is_kept_by_its_save(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox, config_dir: Path
) -> None:
    """The run finishes while the admin is already back in the editor (no screen resume after the record)."""
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode("plans")
        await settle(pilot)
        await open_verify(pilot, app)
        gate = seeded_sandbox.faults.add(method="POST", path="/v1/customers", kind="gate")
        await pilot.press("ctrl+r")
        await wait_until(pilot, gate.reached.is_set)
        await app.switch_mode("plans")
        # Not settle(): it waits for every worker, the held run too, so the record would land (once the gate gave
        # up after 30 s) before the edit below instead of after it.
        await pilot.pause()
        app.screen.query_one("#plan-name", Input).value = "Team (edited)"
        await pilot.pause()
        path = config_dir / "plans.toml"
        assert "verified" not in path.read_text()  # the run is still held: its record comes after the edit
        gate.release()
        await wait_until(pilot, lambda: "verified" in path.read_text(), timeout=20)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "PlansScreen"
    data = tomllib.loads(path.read_text())
    assert data["plans"][0]["name"] == "Team (edited)" and data["plans"][0]["verified"]["result"] == "pass"


# ---- a price offered in several currencies: the test customer's currency is chosen ------------------------------


async def test_a_run_in_euros_is_chosen_by_keyboard_and_shown_in_euros(
    make_app: Callable[..., PortalApp], sandbox: Sandbox
) -> None:
    from tests.services.test_walkthrough import multi_currency_prices
    from tests.ui.test_layout import in_view

    price = multi_currency_prices(sandbox)["flat"]  # $20.00, €18.00, ¥3,000 a month
    app = make_app(sandbox)
    app.context.config_store.save(PlanConfig(plans=[Plan("world", "World", price)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_verify(pilot, app)
        screen = app.screen
        choice = screen.query_one("#currency", Select)
        assert screen.query_one("#currency-row").display
        assert [value for _label, value in choice._options] == ["usd", "eur", "jpy"]  # the price's own first
        assert choice.value == "usd"
        # The whole form fits at 80×24, the currency choice included, from the plan to the Run button.
        for part in ("#plan", "#card", "#currency", "#quantity", "#advance", "#run"):
            assert in_view(screen.query_one(part)), part
        screen.query_one("#plan", Select).focus()
        for _ in range(3):
            if screen.focused is choice:
                break
            await pilot.press("tab")
        assert screen.focused is choice
        await pilot.press("enter", "down", "enter")  # the list opens on USD: one down is EUR
        await settle(pilot)
        assert choice.value == "eur"
        screen.query_one("#quantity", Input).value = "3"
        await pilot.press("ctrl+r")
        await settle(pilot)
        verdict = str(screen.query_one("#verdict").render())
        assert "PASS — invoiced €54.00 ✓" in verdict, verdict
        assert "€54.00" in text_of(screen.query_one("#lines", Static))
        assert "billed in EUR" in str(screen.query_one("#steps").render())
        await pilot.press("ctrl+y")
        assert "Scenario: Visa 4242 · succeeds, quantity 3, billed in EUR" in app.clipboard
        record = app.context.config_store.load().plans[0].verified
        assert record is not None and record.passed and record.currency == "eur"
        # Another currency is another run: the result on screen goes out of date.
        choice.value = "jpy"
        await settle(pilot)
        assert "Out of date" in str(screen.query_one("#verdict").render())
        assert clocks_left(sandbox) == 0


async def test_no_currency_choice_for_a_single_currency_price(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    with_plans(app, seeded_sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_verify(pilot, app)
        assert not app.screen.query_one("#currency-row").display
        assert app.screen.query_one("#currency", Select) not in app.screen.focus_chain
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "PASS — invoiced $" in str(app.screen.query_one("#verdict").render())
        assert "billed in" not in app.screen.result.scenario_text()  # type: ignore[attr-defined]


async def test_the_choice_follows_the_plan(make_app: Callable[..., PortalApp], sandbox: Sandbox) -> None:
    from tests.services.test_walkthrough import multi_currency_prices, price_id_in

    prices = multi_currency_prices(sandbox)
    app = make_app(sandbox)
    plans = [Plan("world", "World", prices["graduated"]), Plan("home", "Home", price_id_in(sandbox, "gbp"))]
    app.context.config_store.save(PlanConfig(plans=plans))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_verify(pilot, app)
        screen = app.screen
        screen.query_one("#currency", Select).value = "jpy"
        screen.query_one("#plan", Select).value = "home"
        await settle(pilot)
        assert not screen.query_one("#currency-row").display  # GBP only
        screen.query_one("#plan", Select).value = "world"
        await settle(pilot)
        assert screen.query_one("#currency-row").display
        assert screen.query_one("#currency", Select).value == "usd"  # a new plan starts on its price's own
