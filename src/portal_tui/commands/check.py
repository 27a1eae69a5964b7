"""`portal-tui check`: validate the plan config and every linked price, for scripts and CI.

With a test and a live key both at hand it also compares each plan's live price with its test price (drift); in
live mode (`--mode live`, or a live key) it runs the go-live readiness checks on the live account.

Exit codes: 0 all good, 1 problems found (a price, drift, a failed readiness check), 2 could not check (bad config
file, no key, Stripe unreachable, or a readiness check the key may not run while nothing else failed).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from portal_tui.domain.plans import PlanConfig
from portal_tui.services.plan_check import PriceCheck, Problem
from portal_tui.services.readiness import ReadinessCheck, check_readiness

if TYPE_CHECKING:
    from portal_tui.services.gateway import StripeGateway

OK, PROBLEMS, COULD_NOT_CHECK = 0, 1, 2
Mode = Literal["test", "live"]


@dataclass
class Report:
    """Everything `check` found, printable as text or JSON."""

    config_path: str
    mode: str | None = None
    account: str | None = None
    key: str | None = None
    checks: list[PriceCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fatal: str | None = None
    hint: str | None = None
    drift_checked: bool = False
    drift_note: str | None = None  # why drift was not checked
    drift: list[Problem] = field(default_factory=list)
    readiness: list[ReadinessCheck] | None = None  # None: not run (not live mode)

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return COULD_NOT_CHECK
        if self.problems or any(check.ok is False for check in self.readiness or []):
            return PROBLEMS
        if any(check.ok is None for check in self.readiness or []):
            return COULD_NOT_CHECK
        return OK

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config_path,
            "mode": self.mode,
            "account": self.account,
            "key": self.key,
            "ok": self.exit_code == OK,
            "exit_code": self.exit_code,
            "error": self.fatal,
            "hint": self.hint,
            "prices": [
                {
                    "plan": c.plan_id,
                    "slot": c.slot,
                    "price_id": c.price_id,
                    "summary": c.summary or None,
                    "ok": c.ok,
                    "checked": c.not_checked is None,
                    "problems": c.problems,
                }
                for c in self.checks
            ],
            "not_checked": [
                {"plan": c.plan_id, "slot": c.slot, "price_id": c.price_id, "reason": c.not_checked}
                for c in self.checks
                if c.not_checked
            ],
            "problems": [{"field": p.field, "plan": p.plan, "message": p.message} for p in self.problems],
            "drift": {
                "checked": self.drift_checked,
                "reason": self.drift_note,
                "problems": [{"field": p.field, "plan": p.plan, "message": p.message} for p in self.drift],
            },
            "readiness": None if self.readiness is None else [check.to_json() for check in self.readiness],
        }

    def to_text(self) -> str:
        lines = [f"Plan config: {self.config_path}"]
        if self.account:
            lines.append(f"Stripe: {self.account} ({self.mode} mode, key {self.key})")
        for c in self.checks:
            mark = "·" if c.not_checked else ("✓" if c.ok else "✗")
            detail = (
                f"not checked: {c.not_checked}" if c.not_checked else (c.summary if c.ok else "; ".join(c.problems))
            )
            lines.append(f"  {mark} {c.plan_id:<16} {c.slot:<4} {c.price_id or '—':<30} {detail}")
        if self.fatal:
            lines.append(f"Could not check: {self.fatal}")
            if self.hint:
                lines.append(f"  {self.hint}")
            return "\n".join(lines) + "\n"
        if self.problems:
            lines.append(f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}:")
            lines.extend(f"  - {p.message}  [{p.field}]" for p in self.problems)
        elif self.mode:
            lines.append(f"All plans are linked to active recurring {self.mode}-mode prices.")
        if self.drift_checked:
            lines.append(
                f"Drift: {len(self.drift)} plan price{'s' if len(self.drift) != 1 else ''} differ between test and "
                "live mode (listed above)."
                if self.drift
                else "Drift: none (every linked live price has its test price's terms and lookup key)."
            )
        elif self.drift_note:
            lines.append(f"Drift not checked: {self.drift_note}")
        if self.readiness is not None:
            lines.append("Go-live readiness (live account):")
            for check in self.readiness:
                mark = "·" if check.ok is None else ("✓" if check.ok else "✗")
                lines.append(f"  {mark} {check.name}: {check.detail}")
                if check.fix and check.ok is not True:
                    lines.append(f"      fix: {check.fix}")
            failed = sum(1 for check in self.readiness if check.ok is False)
            skipped = sum(1 for check in self.readiness if check.ok is None)
            if failed:
                lines.append(f"Not ready to go live: {failed} readiness check{'s' if failed != 1 else ''} failed.")
            elif skipped:
                lines.append(f"Readiness not confirmed: {skipped} check{'s' if skipped != 1 else ''} not run.")
            else:
                lines.append("Ready to go live: every readiness check passed.")
        unchecked = [c for c in self.checks if c.not_checked and c.price_id]
        if unchecked:
            slot = unchecked[0].slot
            lines.append(
                f"Not checked: {len(unchecked)} {slot}-mode price{'s' if len(unchecked) != 1 else ''} "
                f"({', '.join(c.plan_id for c in unchecked)}): run again with a {slot} key to check "
                f"{'them' if len(unchecked) != 1 else 'it'}."
            )
        return "\n".join(lines) + "\n"


def build_report(
    config_arg: str | None, api_base: str | None, env: dict[str, str] | None = None, mode: Mode | None = None
) -> Report:
    from portal_tui import locations
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.errors import PortalError

    store = ConfigStore(locations.plans_file(config_arg))
    report = Report(config_path=str(store.path))
    try:
        if not store.exists():
            raise_missing(store.path)
        config = store.load()
    except PortalError as error:
        report.fatal, report.hint = error.message, error.hint
        return report
    report.problems.extend(Problem(e.field, e.message) for e in config.validate())
    if not config.plans:
        report.problems.append(Problem("plans", "The config has no plans yet"))
    environ = env if env is not None else dict(os.environ)
    try:
        gateway = check_prices(report, config, api_base, environ, mode)
        check_drift(report, config, api_base, environ)
        if report.mode == "live":
            currencies = {str(c.price["currency"]) for c in report.checks if c.slot == "live" and c.price}
            report.readiness = check_readiness(gateway, currencies)
    except PortalError as error:
        report.fatal, report.hint = error.message, error.hint
    return report


def raise_missing(path: Path) -> None:
    from portal_tui.services.errors import ConfigFileError

    raise ConfigFileError(
        f"No plan config at {path}",
        path=path,
        hint="Create plans in the app (portal-tui, step 4) or pass --config PATH.",
    )


def check_prices(
    report: Report, config: PlanConfig, api_base: str | None, env: dict[str, str], mode: Mode | None = None
) -> StripeGateway:
    from portal_tui import locations
    from portal_tui.commands.keys import require_key
    from portal_tui.services.errors import NotConnectedError
    from portal_tui.services.gateway import StripeGateway
    from portal_tui.services.keystore import KeyStore
    from portal_tui.services.plan_check import check_plan_prices

    stored = require_key(mode, env) if mode else KeyStore(locations.config_dir(), env=env).current()
    if stored is None:
        raise NotConnectedError(
            "No Stripe key: connect in the app or set STRIPE_API_KEY",
            hint="portal-tui check reads the key saved by the app (keyring) or $STRIPE_API_KEY.",
        )
    gateway = StripeGateway(stored.key, api_base=api_base)
    account = gateway.verify()
    report.mode = "live" if account.livemode else "test"
    # A restricted key may not read the account: there is no account ID to show then.
    report.account = account.display_name if account.id.startswith("(") else f"{account.display_name} ({account.id})"
    report.key = stored.key.masked
    checks, problems = check_plan_prices(config, "live" if account.livemode else "test", gateway.retrieve_price)
    report.checks = checks
    report.problems.extend(problems)
    return gateway


def check_drift(report: Report, config: PlanConfig, api_base: str | None, env: dict[str, str]) -> None:
    """Each plan's live price against its test price, when a key of each mode is at hand."""
    from portal_tui.commands.keys import key_for_mode
    from portal_tui.services.gateway import StripeGateway
    from portal_tui.services.promotion import plan_drift

    if not any(plan.test_price_id and plan.live_price_id for plan in config.plans):
        report.drift_note = "no plan links both a test and a live price yet"
        return
    test_key, live_key = key_for_mode("test", env), key_for_mode("live", env)
    if test_key is None or live_key is None:
        have = "only a live key" if live_key else ("only a test key" if test_key else "no key")
        lacking = "test" if test_key is None else "live"
        report.drift_note = (
            f"comparing live prices with their test prices needs a test and a live key; there is {have} "
            f"(save a {lacking} key in the app, or set STRIPE_API_KEY to it and keep the other one saved)"
        )
        return
    gateways = {
        "test": StripeGateway(test_key.key, api_base=api_base),
        "live": StripeGateway(live_key.key, api_base=api_base),
    }
    other: Mode = "test" if report.mode == "live" else "live"
    check_other_slots(report, config, other, gateways[other])
    report.drift = plan_drift(config, gateways["test"], gateways["live"])
    report.drift_checked = True
    # a live price that does not exist is already reported by the slot check above
    report.problems.extend(p for p in report.drift if not _already_missing(report.problems, p))


def _already_missing(problems: list[Problem], problem: Problem) -> bool:
    return "does not exist" in problem.message and any(
        p.field == problem.field and "does not exist" in p.message for p in problems
    )


def check_other_slots(report: Report, config: PlanConfig, mode: Mode, gateway: StripeGateway) -> None:
    """With the other mode's key at hand, its slots are checked too instead of being reported as "not checked".
    Only linked prices are judged: a plan without a price in that mode yet is not a problem here."""
    from portal_tui.services.plan_check import check_plan_prices

    fresh, _problems = check_plan_prices(config, mode, gateway.retrieve_price)
    by_plan = {(c.plan_id, c.slot): c for c in fresh if c.slot == mode}
    index_of = {plan.id: index for index, plan in enumerate(config.plans)}
    for position, old in enumerate(report.checks):
        if old.slot != mode or not old.not_checked or not old.price_id:
            continue
        new = by_plan.get((old.plan_id, mode))
        if new is None:
            continue
        report.checks[position] = new
        where = f"plans[{index_of[old.plan_id]}].{mode}_price_id"
        report.problems.extend(Problem(where, f"Plan '{old.plan_id}': {m}", old.plan_id) for m in new.problems)


def run_check(
    *,
    config: str | None,
    api_base: str | None,
    as_json: bool,
    mode: Mode | None = None,
    out: TextIO | None = None,
) -> int:
    report = build_report(config, api_base, mode=mode)
    stream = out or sys.stdout
    if as_json:
        stream.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        stream.write(report.to_text())
    return report.exit_code
