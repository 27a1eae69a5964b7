"""`portal-tui catalog export|diff|apply` against the sandbox over HTTP, on real files.

Most tests call `main([...])` in-process with the environment a script would set (STRIPE_API_KEY,
PORTAL_TUI_CONFIG_DIR, PORTAL_TUI_API_BASE); the crash test runs the real command as a subprocess and SIGKILLs it
mid-request. Keys live only in the environment or the config folder's key files, never on a command line.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailKeyring

from portal_tui.cli import main
from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.domain.pricing import CurrencyAmounts, PriceDraft
from portal_tui.sandbox import Sandbox
from portal_tui.services.config_store import ConfigStore
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import KeyStore, parse_key
from tests.conftest import LIVE_KEY, TEST_KEY

ROOT = Path(__file__).resolve().parents[2]
MISSING_LIVE = "no live key saved: run portal-tui, step 6 (Go live) or step 1, or set STRIPE_API_KEY"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


class Stdin(io.StringIO):
    """Standard input that says whether it is a terminal."""

    def __init__(self, text: str = "", *, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@dataclass
class Env:
    sandbox: Sandbox
    cfg: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    @property
    def plans(self) -> ConfigStore:
        return ConfigStore(self.cfg / "plans.toml")

    @property
    def catalog_file(self) -> Path:
        return self.cfg / "catalog.toml"

    def save_key(self, key: str) -> None:
        """As the app saves a key where no keyring works and the admin chose the 0600 file."""
        no_keyring = FailKeyring()  # type: ignore[no-untyped-call]
        KeyStore(self.cfg, env={}, backend=no_keyring).save(parse_key(key), allow_file=True, activate=False)

    def cli(self, *args: str, stdin: str = "", tty: bool = False, key: str | None = TEST_KEY) -> Run:
        if key is None:
            self.monkeypatch.delenv("STRIPE_API_KEY", raising=False)
        else:
            self.monkeypatch.setenv("STRIPE_API_KEY", key)
        self.monkeypatch.setattr(sys, "stdin", Stdin(stdin, tty=tty))
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        assert TEST_KEY not in captured.out + captured.err and LIVE_KEY not in captured.out + captured.err
        return Run(code, captured.out, captured.err)


def price_id(world_prices: dict[str, dict[str, object]], lookup: str) -> str:
    return next(str(p["id"]) for p in world_prices.values() if p["lookup_key"] == lookup)


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], seeded_sandbox: Sandbox
) -> Iterator[Env]:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    monkeypatch.setenv("PORTAL_TUI_CONFIG_DIR", str(cfg))
    monkeypatch.delenv("PORTAL_TUI_CONFIG", raising=False)
    monkeypatch.setenv("PORTAL_TUI_API_BASE", seeded_sandbox.url)
    monkeypatch.setattr("keyring.get_keyring", FailKeyring)
    environment = Env(seeded_sandbox, cfg, monkeypatch, capsys)
    prices = seeded_sandbox.test_world.objects["price"]
    environment.plans.save(
        PlanConfig(
            plans=[
                Plan("starter", "Starter", price_id(prices, "starter_monthly"), quotas={"vcpu": 1}),
                Plan("pro", "Pro", price_id(prices, "pro_monthly"), quotas={"vcpu": 4}),
                Plan("team", "Team", price_id(prices, "team_seats"), quotas={"vcpu": 8}),
                Plan("api", "API", price_id(prices, "api_calls"), quotas={"instances": 1}),
            ]
        )
    )
    environment.save_key(LIVE_KEY)  # the live key saved by Go live; STRIPE_API_KEY holds the test key
    yield environment


def live_objects(sandbox: Sandbox, kind: str) -> list[dict[str, object]]:
    return list(sandbox.worlds[True].objects[kind].values())


def assert_no_duplicates(sandbox: Sandbox) -> None:
    prices = Counter(p["lookup_key"] for p in live_objects(sandbox, "price"))
    assert prices and all(n == 1 for n in prices.values()), prices
    products = Counter(p["name"] for p in live_objects(sandbox, "product"))
    assert all(n == 1 for n in products.values()), products
    meters = Counter(m["event_name"] for m in live_objects(sandbox, "billing.meter"))
    assert all(n == 1 for n in meters.values()), meters


def assert_plans_linked(env: Env) -> None:
    live_prices = env.sandbox.worlds[True].objects["price"]
    test_prices = env.sandbox.test_world.objects["price"]
    for plan in env.plans.load().plans:
        assert plan.test_price_id is not None and plan.live_price_id is not None, plan
        live = live_prices[plan.live_price_id]
        assert live["livemode"] is True
        assert live["lookup_key"] == test_prices[plan.test_price_id]["lookup_key"]


# ---- the whole path -----------------------------------------------------------------------------------------------


def test_export_apply_diff_and_a_second_apply_sends_nothing(env: Env) -> None:
    exported = env.cli("catalog", "export")
    assert exported.code == 0, exported.text
    text = env.catalog_file.read_text()
    for lookup in ("starter_monthly", "pro_monthly", "team_seats", "api_calls"):
        assert f'lookup_key = "{lookup}"' in text
    assert "api_calls" in text and "[[meters]]" in text
    assert "price_" not in text  # no account IDs in the file
    assert env.sandbox.writes(live=True) == 0

    pending = env.cli("catalog", "diff", "--mode", "live")
    assert pending.code == 1, pending.text
    assert "catalog apply --mode live" in pending.out

    applied = env.cli("catalog", "apply", "--mode", "live", "--yes")
    assert applied.code == 0, applied.text
    assert "POST /v1/prices" in applied.out  # the planned requests are shown before they are sent
    writes = env.sandbox.writes(live=True)
    assert writes > 0
    assert len(live_objects(env.sandbox, "price")) == 4
    assert_no_duplicates(env.sandbox)
    assert_plans_linked(env)
    assert "Linked live prices" in applied.out

    clean = env.cli("catalog", "diff", "--mode", "live")
    assert clean.code == 0, clean.text
    report = env.cli("catalog", "diff", "--mode", "live", "--json")
    assert report.code == 0
    data = json.loads(report.out)
    assert data["exit_code"] == 0 and data["catalog"] == str(env.catalog_file)

    again = env.cli("catalog", "apply", "--mode", "live", "--yes")
    assert again.code == 0, again.text
    assert env.sandbox.writes(live=True) == writes  # idempotent: zero write requests the second time
    assert "No write sent" in again.out


def test_live_apply_without_yes_or_terminal_is_refused_and_writes_nothing(env: Env) -> None:
    assert env.cli("catalog", "export").code == 0
    refused = env.cli("catalog", "apply", "--mode", "live")
    assert refused.code == 2
    assert "not a terminal" in refused.err and "--yes" in refused.err
    assert env.sandbox.writes(live=True) == 0
    assert env.plans.load().plans[0].live_price_id is None


def test_live_apply_asks_for_the_word_live_on_a_terminal(env: Env) -> None:
    assert env.cli("catalog", "export").code == 0
    cancelled = env.cli("catalog", "apply", "--mode", "live", stdin="yes\n", tty=True)
    assert cancelled.code == 2 and 'Type "live"' in cancelled.out and "cancelled" in cancelled.err
    assert env.sandbox.writes(live=True) == 0

    confirmed = env.cli("catalog", "apply", "--mode", "live", stdin="live\n", tty=True)
    assert confirmed.code == 0, confirmed.text
    assert env.sandbox.writes(live=True) > 0
    assert_plans_linked(env)


def test_test_mode_apply_needs_no_confirmation(env: Env, tmp_path: Path) -> None:
    assert env.cli("catalog", "export").code == 0
    before = env.sandbox.writes(live=False)
    result = env.cli("catalog", "apply", "--mode", "test")
    assert result.code == 0, result.text
    assert "No write sent" in result.out  # the test account is where the catalog came from
    assert env.sandbox.writes(live=False) == before


def test_a_missing_live_key_is_named(env: Env) -> None:
    (env.cfg / "secret-key-live").unlink()
    assert env.cli("catalog", "export").code == 0
    result = env.cli("catalog", "apply", "--mode", "live", "--yes")
    assert result.code == 2 and MISSING_LIVE in result.err
    result = env.cli("catalog", "diff", "--mode", "live", key=None)
    assert result.code == 2 and MISSING_LIVE in result.err
    result = env.cli("catalog", "export", key=None)
    assert result.code == 2 and "no test key saved" in result.err


def test_diff_without_a_catalog_file_cannot_check(env: Env) -> None:
    result = env.cli("catalog", "diff", "--mode", "live", "--json")
    assert result.code == 2
    assert "no catalog file" in json.loads(result.out)["error"]


def test_export_all_and_the_lookup_key_offer(env: Env) -> None:
    result = env.cli("catalog", "export", "--all")
    # the seed has active prices without a lookup key: refused with the flag to give one
    assert result.code == 2
    assert "--set-lookup-key price_" in result.err and "no lookup key" in result.err
    assert not env.catalog_file.exists()

    keyless = sorted(
        str(p["id"]) for p in env.sandbox.test_world.objects["price"].values() if p["active"] and not p["lookup_key"]
    )
    first = keyless[0]
    answers = "".join(f"key-{n}\n" for n in range(len(keyless)))
    offered = env.cli("catalog", "export", "--all", "--set-lookup-key", f"{first}=chosen-key", stdin=answers, tty=True)
    assert offered.code == 0, offered.text
    assert env.sandbox.test_world.objects["price"][first]["lookup_key"] == "chosen-key"
    text = env.catalog_file.read_text()
    assert 'lookup_key = "chosen-key"' in text and 'lookup_key = "key-0"' in text


def test_a_linked_price_without_a_lookup_key(env: Env) -> None:
    compute = next(
        str(p["id"]) for p in env.sandbox.test_world.objects["price"].values() if p["nickname"] == "Compute per hour"
    )
    plans = env.plans.load()
    plans.plans.append(Plan("burst", "Burst", compute))
    env.plans.save(plans)
    refused = env.cli("catalog", "export")
    assert refused.code == 2 and not env.catalog_file.exists()
    assert f"{compute} has no lookup key" in refused.err and f"--set-lookup-key {compute}=" in refused.err
    assert env.sandbox.test_world.objects["price"][compute]["lookup_key"] is None  # nothing set without asking

    declined = env.cli("catalog", "export", stdin="n\n", tty=True)
    assert declined.code == 2 and "Enter accepts" in declined.out
    assert env.sandbox.test_world.objects["price"][compute]["lookup_key"] is None

    accepted = env.cli("catalog", "export", stdin="\n", tty=True)  # Enter takes the suggested key
    assert accepted.code == 0, accepted.text
    suggested = env.sandbox.test_world.objects["price"][compute]["lookup_key"]
    assert suggested and f'lookup_key = "{suggested}"' in env.catalog_file.read_text()


def test_export_merges_into_the_existing_file(env: Env) -> None:
    assert env.cli("catalog", "export").code == 0
    plans = env.plans.load()
    plans.plans = [plan for plan in plans.plans if plan.id == "pro"]
    env.plans.save(plans)
    assert env.cli("catalog", "export").code == 0
    assert 'lookup_key = "starter_monthly"' in env.catalog_file.read_text()  # kept from the first export


def test_global_options_after_the_subcommand(env: Env, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other" / "plans.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text((env.cfg / "plans.toml").read_text())
    env.monkeypatch.setenv("PORTAL_TUI_API_BASE", "http://127.0.0.1:9")  # wrong on purpose: the option must win
    url = env.sandbox.url
    result = env.cli("catalog", "export", "--config", str(elsewhere), "--api-base", url)
    assert result.code == 0, result.text
    assert (elsewhere.parent / "catalog.toml").exists() and not env.catalog_file.exists()
    result = env.cli("--config", str(elsewhere), "catalog", "diff", "--mode", "live", "--api-base", url)
    assert result.code == 1, result.text  # --config given before the subcommand is not overwritten
    result = env.cli("check", "--config", str(elsewhere), "--api-base", url)
    assert result.code == 0, result.text
    assert f"Plan config: {elsewhere}" in result.out
    result = env.cli("--api-base", url, "check", "--config", str(elsewhere))
    assert result.code == 0, result.text


# ---- a crash in the middle ------------------------------------------------------------------------------------------


def subprocess_env(env: Env, key: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(env.cfg.parent),
        "PORTAL_TUI_CONFIG_DIR": str(env.cfg),
        "PORTAL_TUI_API_BASE": env.sandbox.url,
        "STRIPE_API_KEY": key,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_apply_killed_mid_request_resumes_without_duplicates(env: Env) -> None:
    assert env.cli("catalog", "export").code == 0
    env.save_key(TEST_KEY)  # the subprocess has the live key in its environment and the test key saved
    command = [sys.executable, "-m", "portal_tui", "catalog", "apply", "--mode", "live", "--yes"]
    gate = env.sandbox.faults.add(method="POST", path="/v1/prices", kind="gate", when="after")
    process = subprocess.Popen(
        command,
        env=subprocess_env(env, LIVE_KEY),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert gate.reached.wait(60), "the apply never reached the price create"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        gate.release()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    # the price whose answer never arrived exists in the live account all the same
    assert len(live_objects(env.sandbox, "price")) >= 1
    assert all(p["livemode"] for p in live_objects(env.sandbox, "price"))
    assert all(plan.live_price_id is None for plan in env.plans.load().plans)

    rerun = subprocess.run(
        command,
        env=subprocess_env(env, LIVE_KEY),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert LIVE_KEY not in rerun.stdout + rerun.stderr
    assert_no_duplicates(env.sandbox)
    assert len(live_objects(env.sandbox, "price")) == 4
    assert_plans_linked(env)
    # and a third run has nothing left to do
    writes = env.sandbox.writes(live=True)
    assert env.cli("catalog", "diff", "--mode", "live").code == 0
    assert env.sandbox.writes(live=True) == writes


def test_a_multi_currency_price_travels_through_the_file_and_diff_names_its_currency(env: Env) -> None:
    test = StripeGateway(parse_key(TEST_KEY), api_base=env.sandbox.url)
    pro = env.sandbox.test_world.objects["price"][price_id(env.sandbox.test_world.objects["price"], "pro_monthly")]
    the_draft = PriceDraft(
        unit_amount=Decimal(2000),
        lookup_key="pro_world",
        currency_options={"eur": CurrencyAmounts(Decimal(1800)), "jpy": CurrencyAmounts(Decimal(3000))},
    )
    made = test.create_price(the_draft.to_stripe_params(str(pro["product"])), idempotency_key="pro-world")
    config = env.plans.load()
    config.plans.append(Plan("world", "World", str(made["id"]), quotas={"vcpu": 4}))
    env.plans.save(config)

    exported = env.cli("catalog", "export")
    assert exported.code == 0, exported.text
    text = env.catalog_file.read_text()
    assert '[[prices.currency_options]]\ncurrency = "eur"\nunit_amount = "1800"\n' in text
    applied = env.cli("catalog", "apply", "--mode", "live", "--yes")
    assert applied.code == 0, applied.text
    live = next(p for p in live_objects(env.sandbox, "price") if p["lookup_key"] == "pro_world")
    assert set(live["currency_options"]) == {"eur", "jpy"}  # type: ignore[arg-type]
    assert env.cli("catalog", "diff", "--mode", "live").code == 0

    env.catalog_file.write_text(text.replace('unit_amount = "1800"', 'unit_amount = "1900"'))
    changed = env.cli("catalog", "diff", "--mode", "live")
    assert changed.code == 1, changed.text
    assert "EUR amount: €19.00 → €18.00" in changed.out
