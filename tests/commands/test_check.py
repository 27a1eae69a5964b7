"""`portal-tui check` as a script runs it: a real subprocess, real config files, the sandbox over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailKeyring

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.services.config_store import ConfigStore
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import KeyStore, parse_key
from tests.conftest import LIVE_KEY, TEST_KEY


def run_check(
    tmp_path: Path,
    config: Path,
    *,
    key: str | None,
    api_base: str | None,
    json_out: bool = False,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PORTAL_TUI_CONFIG_DIR": str(tmp_path / "cfg"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONDONTWRITEBYTECODE": "1",  # the subprocess must not write __pycache__ into the shared checkout
    }
    if key:
        env["STRIPE_API_KEY"] = key
    args = [sys.executable, "-m", "portal_tui", "--config", str(config)]
    if api_base:
        args += ["--api-base", api_base]
    args += ["check", *extra] + (["--json"] if json_out else [])
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


def seed_price(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


@pytest.fixture
def good_config(tmp_path: Path, seeded_sandbox: Sandbox) -> Path:
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan("starter", "Starter", seed_price(seeded_sandbox, "starter_monthly"), quotas={"vcpu": 1}),
                Plan("pro", "Pro", seed_price(seeded_sandbox, "pro_monthly"), quotas={"vcpu": 4}),
            ]
        )
    )
    return path


def test_good_config_exits_0(tmp_path: Path, good_config: Path, seeded_sandbox: Sandbox) -> None:
    result = run_check(tmp_path, good_config, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ starter" in result.stdout and "$5.00 / month" in result.stdout
    assert "All plans are linked to active recurring test-mode prices." in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr


def test_mismatched_config_exits_1_with_json(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    archived = next(p["id"] for p in seeded_sandbox.test_world.objects["price"].values() if not p["active"])
    one_off = next(p["id"] for p in seeded_sandbox.test_world.objects["price"].values() if p["type"] == "one_time")
    eur = seed_price(seeded_sandbox, "eu_monthly")
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan("old", "Old", archived),
                Plan("setup", "Setup", one_off),
                Plan("eu", "EU", eur),
                Plan("ghost", "Ghost", "price_doesnotexist"),
                Plan("unlinked", "Unlinked"),
                Plan("pro", "Pro", seed_price(seeded_sandbox, "pro_monthly")),
            ]
        )
    )
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url, json_out=True)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    messages = " | ".join(p["message"] for p in report["problems"])
    assert "archived" in messages and "one-time" in messages and "does not exist" in messages
    assert "no test-mode price linked" in messages and "different currencies" in messages
    clash = next(p["message"] for p in report["problems"] if "different currencies" in p["message"])
    assert clash.endswith("link prices offered in the same currencies")  # a whole sentence, not one cut at "cannot"
    assert {p["plan"]: p["ok"] for p in report["prices"] if p["slot"] == "test"}["pro"] is True


def test_multi_currency_plans_pass_together_and_one_lacking_a_currency_is_named(
    tmp_path: Path, seeded_sandbox: Sandbox
) -> None:
    path = tmp_path / "plans.toml"
    both = [
        Plan("vps", "VPS", seed_price(seeded_sandbox, "worldwide_monthly")),
        Plan("support", "Support", seed_price(seeded_sandbox, "support_seats")),
    ]
    ConfigStore(path).save(PlanConfig(plans=both))
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "+2 currencies" in result.stdout
    ConfigStore(path).save(PlanConfig(plans=[*both, Plan("pro", "Pro", seed_price(seeded_sandbox, "pro_monthly"))]))
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 1
    assert "vps=USD+EUR+JPY, support=USD+EUR+JPY, pro=USD; EUR missing from pro; JPY missing from pro" in result.stdout


def test_broken_config_exits_2(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    path = tmp_path / "plans.toml"
    path.write_text("[[plans]\nid = 1\n")
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 2
    assert "line 1" in result.stdout
    assert path.read_text() == "[[plans]\nid = 1\n"


def test_no_key_or_unreachable_exits_2(tmp_path: Path, good_config: Path) -> None:
    result = run_check(tmp_path, good_config, key=None, api_base=None)
    assert result.returncode == 2 and "No Stripe key" in result.stdout
    result = run_check(tmp_path, good_config, key=TEST_KEY, api_base="http://127.0.0.1:9")
    assert result.returncode == 2 and "could not be reached" in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr


def test_live_slots_are_reported_as_not_checked_with_a_test_key(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan("pro", "Pro", seed_price(seeded_sandbox, "pro_monthly"), "price_1LiveOnlyPro00000001"),
                Plan("starter", "Starter", seed_price(seeded_sandbox, "starter_monthly")),
            ]
        )
    )
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 0, result.stdout
    assert "price_1LiveOnlyPro00000001" in result.stdout and "not checked: needs a live key" in result.stdout
    assert "Not checked: 1 live-mode price (pro): run again with a live key" in result.stdout
    report = json.loads(run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url, json_out=True).stdout)
    assert {(c["plan"], c["slot"]) for c in report["not_checked"]} == {("pro", "live"), ("starter", "live")}


def test_price_in_the_wrong_slot_exits_1(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    pro = seed_price(seeded_sandbox, "pro_monthly")
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan("pro", "Pro", pro, seed_price(seeded_sandbox, "starter_monthly")),
                Plan("same", "Same", pro, pro),
            ]
        )
    )
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 1, result.stdout
    assert "is a test-mode price but sits in the live slot" in result.stdout
    assert f"Plan 'same' links {pro} in both slots" in result.stdout
    assert "All plans are linked" not in result.stdout


def test_an_id_that_is_not_a_price_is_flagged(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    pro = seed_price(seeded_sandbox, "pro_monthly")
    product = seeded_sandbox.test_world.objects["price"][pro]["product"]
    path = tmp_path / "plans.toml"
    path.write_text(f'[[plans]]\nid = "team"\nname = "Team"\ntest_price_id = "{product}"\n')
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode in (1, 2), result.stdout
    assert product in result.stdout and "not a price ID" in result.stdout
    assert "All plans are linked" not in result.stdout
    # The product ID was never sent to Stripe as a price.
    assert not [r for r in seeded_sandbox.requests if r.path == f"/v1/prices/{product}"]


def test_restricted_key_is_named_once(tmp_path: Path, good_config: Path, seeded_sandbox: Sandbox) -> None:
    key = "rk_test_restricted" + "0" * 40
    result = run_check(tmp_path, good_config, key=key, api_base=seeded_sandbox.url)
    assert result.returncode == 0, result.stdout
    assert "Stripe: Restricted key (test mode, key rk_test_" in result.stdout
    assert "(restricted key)" not in result.stdout and key not in result.stdout + result.stderr


# ---- drift between test and live, and go-live readiness -------------------------------------------------------------


def save_key(tmp_path: Path, key: str) -> None:
    """A key kept as the app keeps it where no keyring works (the 0600 file in the config folder)."""
    no_keyring = FailKeyring()  # type: ignore[no-untyped-call]
    KeyStore(tmp_path / "cfg", env={}, backend=no_keyring).save(parse_key(key), allow_file=True, activate=False)


def live_price(sandbox: Sandbox, lookup: str, amount: int, *, currency: str = "usd") -> str:
    """A live-mode price made through the API, as the admin (or catalog apply) would."""
    live = StripeGateway(parse_key(LIVE_KEY), api_base=sandbox.url)
    product = live.create_product(f"Live {lookup}", None, idempotency_key=f"test-product-{lookup}")
    price = live.create_price(
        {
            "product": product["id"],
            "currency": currency,
            "unit_amount": amount,
            "recurring": {"interval": "month"},
            "lookup_key": lookup,
        },
        idempotency_key=f"test-price-{lookup}",
    )
    return str(price["id"])


@pytest.fixture
def linked_config(tmp_path: Path, seeded_sandbox: Sandbox) -> Path:
    """starter: live price with the test price's terms and key; pro: the same key, another amount;
    swapped: the starter's terms, but a live price under another lookup key; gone: a live price that does not exist."""
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan(
                    "starter",
                    "Starter",
                    seed_price(seeded_sandbox, "starter_monthly"),
                    live_price(seeded_sandbox, "starter_monthly", 500),
                ),
                Plan(
                    "pro",
                    "Pro",
                    seed_price(seeded_sandbox, "pro_monthly"),
                    live_price(seeded_sandbox, "pro_monthly", 2500),
                ),
                Plan(
                    "swapped",
                    "Swapped",
                    seed_price(seeded_sandbox, "starter_monthly"),
                    live_price(seeded_sandbox, "starter_monthly_v2", 500),
                ),
                Plan("gone", "Gone", seed_price(seeded_sandbox, "pro_yearly"), "price_1LiveDeleted000000001"),
            ]
        )
    )
    return path


def test_drift_is_not_checked_with_one_key(tmp_path: Path, linked_config: Path, seeded_sandbox: Sandbox) -> None:
    result = run_check(tmp_path, linked_config, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 0, result.stdout
    assert "Drift not checked:" in result.stdout and "there is only a test key" in result.stdout
    report = json.loads(
        run_check(tmp_path, linked_config, key=TEST_KEY, api_base=seeded_sandbox.url, json_out=True).stdout
    )
    assert report["drift"]["checked"] is False and "needs a test and a live key" in report["drift"]["reason"]
    assert report["readiness"] is None


def test_each_kind_of_drift_exits_1(tmp_path: Path, linked_config: Path, seeded_sandbox: Sandbox) -> None:
    save_key(tmp_path, LIVE_KEY)
    result = run_check(tmp_path, linked_config, key=TEST_KEY, api_base=seeded_sandbox.url, json_out=True)
    assert result.returncode == 1, result.stdout
    report = json.loads(result.stdout)
    assert report["drift"]["checked"] is True
    drift = {p["plan"]: p["message"] for p in report["drift"]["problems"]}
    assert set(drift) == {"pro", "swapped", "gone"}, drift  # starter's live price matches its test price
    assert "$20.00" in drift["pro"] and "$25.00" in drift["pro"]  # the terms that differ, in words
    assert "starter_monthly_v2" in drift["swapped"]  # the live slot holds another lookup key
    assert "does not exist in live mode" in drift["gone"]
    assert {p["plan"] for p in report["problems"]} >= {"pro", "swapped", "gone"}
    assert [p["plan"] for p in report["problems"]].count("gone") == 1  # said once, not by the slot check and drift
    assert not report["not_checked"]  # with both keys, both slots are checked
    text = run_check(tmp_path, linked_config, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert text.returncode == 1 and "Drift: 3 plan prices differ" in text.stdout
    assert TEST_KEY not in text.stdout + text.stderr and LIVE_KEY not in text.stdout + text.stderr


def test_no_drift_with_both_keys_exits_0(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan(
                    "starter",
                    "Starter",
                    seed_price(seeded_sandbox, "starter_monthly"),
                    live_price(seeded_sandbox, "starter_monthly", 500),
                )
            ]
        )
    )
    save_key(tmp_path, LIVE_KEY)
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url)
    assert result.returncode == 0, result.stdout
    assert "Drift: none" in result.stdout
    # the saved live key also checks the live slots: nothing is left "not checked"
    assert "✓ starter          live" in result.stdout and "not checked" not in result.stdout.lower()


def test_readiness_in_live_mode(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(
            plans=[
                Plan(
                    "starter",
                    "Starter",
                    seed_price(seeded_sandbox, "starter_monthly"),
                    live_price(seeded_sandbox, "starter_monthly", 500),
                )
            ]
        )
    )
    save_key(tmp_path, LIVE_KEY)
    # not ready: no statement descriptor, no webhook endpoint (the sandbox account's defaults)
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url, extra=("--mode", "live"))
    assert result.returncode == 1, result.stdout
    assert "Stripe: Sandbox Hosting Ltd (acct_" in result.stdout and "live mode" in result.stdout
    assert "✗ Statement descriptor" in result.stdout and "✗ Webhook endpoint" in result.stdout
    assert "fix: Add a webhook endpoint" in result.stdout and "Developers → Webhooks" in result.stdout
    assert "✓ Charges enabled" in result.stdout and "✓ Currencies: An account in GB can charge USD" in result.stdout
    assert "Not ready to go live: 2 readiness checks failed." in result.stdout

    seeded_sandbox.make_live_ready()
    result = run_check(
        tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url, json_out=True, extra=("--mode", "live")
    )
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["mode"] == "live" and report["drift"]["checked"] is True
    assert [c["ok"] for c in report["readiness"]] == [True] * 6
    assert {c["name"] for c in report["readiness"]} >= {"Webhook endpoint", "Currencies"}

    seeded_sandbox.unsupported_currencies.add("usd")
    result = run_check(tmp_path, path, key=TEST_KEY, api_base=seeded_sandbox.url, extra=("--mode", "live"))
    assert result.returncode == 1 and "✗ Currencies: An account in GB cannot charge USD" in result.stdout


def test_readiness_a_restricted_key_cannot_check_exits_2(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(
        PlanConfig(plans=[Plan("starter", "Starter", None, live_price(seeded_sandbox, "starter_monthly", 500))])
    )
    seeded_sandbox.make_live_ready()
    result = run_check(tmp_path, path, key="rk_live_nowebhooks" + "0" * 40, api_base=seeded_sandbox.url)
    assert result.returncode == 2, result.stdout
    assert "· Webhook endpoint: Not checked" in result.stdout and "rak_webhook_read" in result.stdout
    assert "Readiness not confirmed: 1 check not run." in result.stdout


def test_check_mode_live_without_a_live_key_exits_2(tmp_path: Path, good_config: Path, seeded_sandbox: Sandbox) -> None:
    result = run_check(tmp_path, good_config, key=TEST_KEY, api_base=seeded_sandbox.url, extra=("--mode", "live"))
    assert result.returncode == 2
    assert "no live key saved: run portal-tui, step 6 (Go live) or step 1, or set STRIPE_API_KEY" in result.stdout
