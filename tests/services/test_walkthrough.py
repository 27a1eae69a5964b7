"""The test-mode walkthrough against the sandbox: flat, graduated and metered plans, mismatches, faults, clean-up."""

from __future__ import annotations

from typing import Any

import pytest

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from portal_tui.services.walkthrough import Scenario, Step, StepStatus, Walkthrough
from tests.conftest import LIVE_KEY, TEST_KEY

FROZEN = 1_767_225_600


def price_id(sandbox: Sandbox, lookup_or_nickname: str) -> str:
    for price in sandbox.test_world.objects["price"].values():
        if lookup_or_nickname in (price["lookup_key"], price["nickname"]):
            return str(price["id"])
    raise AssertionError(lookup_or_nickname)


def run(sandbox: Sandbox, price: str, scenario: Scenario, **kwargs: Any) -> tuple[Any, list[Step]]:
    gateway = StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url, retry_delay=0.01)
    config = PlanConfig(plans=[Plan("pro", "Pro", price, None, {"vcpu": 4, "instances": "unlimited"})])
    seen: list[Step] = []
    walk = Walkthrough(
        gateway,
        config,
        config.plans[0],
        scenario,
        on_step=lambda s: seen.append(Step(s.key, s.title, s.status, s.detail)),
        clock=lambda: FROZEN,
        **kwargs,
    )
    return walk.run(), seen


def leftovers(sandbox: Sandbox) -> dict[str, int]:
    objects = sandbox.test_world.objects
    return {kind: len(objects[kind]) for kind in ("test_helpers.test_clock", "customer", "subscription")}


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [("pro_monthly", 3, 6000), ("team_seats", 8, 1000 + 3 * 400), ("api_calls", 12000, 480)],
)
def test_walkthrough_passes_and_cleans_up(seeded_sandbox: Sandbox, price: str, quantity: int, expected: int) -> None:
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, price), Scenario("succeeds", quantity, True))
    assert result.error is None and result.verdict == "PASS", result.summary_text()
    assert [line.expected for line in result.lines] == [expected, expected]
    assert all(line.invoiced == expected for line in result.lines)
    assert result.invoice_status == "paid"
    assert ("vCPU", "4 cores") in result.quotas and ("Instances", "unlimited") in result.quotas
    assert leftovers(seeded_sandbox) == {"test_helpers.test_clock": 0, "customer": 0, "subscription": 0}
    assert steps[-1].key == "cleanup" and steps[-1].status is StepStatus.DONE
    summary = result.summary_text()
    assert "PASS" in summary and "Cleaned up" in summary


def test_metered_usage_is_reported_to_the_meter(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "Compute per hour"), Scenario("succeeds", 150, False))
    assert result.ok and result.lines[0].expected == 30  # 150 minutes -> 3 started hours at $0.10
    events = [r for r in seeded_sandbox.requests if r.path == "/v1/billing/meter_events"]
    assert len(events) == 1 and events[0].params["payload"]["value"] == "150"


def test_wrong_invoice_amount_is_flagged(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.invoice_skew = 1
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1, False))
    assert result.verdict == "MISMATCH" and not result.ok
    assert result.lines[0].expected == 2000 and result.lines[0].invoiced == 2001
    assert "✗" in result.summary_text()
    assert next(s for s in steps if s.key == "compare" and s.status is StepStatus.FAILED)
    assert leftovers(seeded_sandbox)["test_helpers.test_clock"] == 0


def test_declined_card_shows_the_failed_payment(seeded_sandbox: Sandbox) -> None:
    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("declined", 1, True))
    assert result.subscription_status == "incomplete"
    assert result.error is None
    assert leftovers(seeded_sandbox)["customer"] == 0


def test_fault_mid_run_still_cleans_up(seeded_sandbox: Sandbox) -> None:
    seeded_sandbox.faults.add(method="POST", path="/v1/subscriptions", kind="500", times=10)
    result, steps = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario("succeeds", 1, False))
    assert result.verdict == "FAILED" and result.error is not None
    assert next(s for s in steps if s.key == "subscribe" and s.status is StepStatus.FAILED)
    assert leftovers(seeded_sandbox) == {"test_helpers.test_clock": 0, "customer": 0, "subscription": 0}
    assert "test clock" in result.removed[0]


def test_cancel_between_steps_cleans_up(seeded_sandbox: Sandbox) -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    result, _ = run(seeded_sandbox, price_id(seeded_sandbox, "pro_monthly"), Scenario(), is_cancelled=cancelled)
    assert result.cancelled and result.verdict == "CANCELLED"
    assert leftovers(seeded_sandbox)["test_helpers.test_clock"] == 0


def test_live_keys_are_refused(live_sandbox: Sandbox) -> None:
    from portal_tui.services.errors import LiveModeRefusedError

    gateway = StripeGateway(parse_key(LIVE_KEY), api_base=live_sandbox.url)
    config = PlanConfig(plans=[Plan("pro", "Pro", "price_x")])
    with pytest.raises(LiveModeRefusedError):
        Walkthrough(gateway, config, config.plans[0], Scenario()).run()
    assert live_sandbox.requests == []
