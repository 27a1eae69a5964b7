"""The command line itself: global options before or after the command, listed in every --help, and errors that
name the fix (the closest real option or choice)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portal_tui.cli import build_parser, main
from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.services.config_store import ConfigStore
from tests.conftest import TEST_KEY

# Every command line that takes the global options, as a prefix of arguments (its required ones included).
TAKING_GLOBALS = [
    ["check"],
    ["catalog", "export"],
    ["catalog", "diff", "--mode", "test"],
    ["catalog", "apply", "--mode", "test"],
]
COMMANDS = [["check"], ["catalog"], ["catalog", "export"], ["catalog", "diff"], ["catalog", "apply"], ["quote"]]
COMMANDS += [["sandbox"]]


def error_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", TAKING_GLOBALS, ids=" ".join)
def test_global_options_are_taken_before_or_after_the_command(command: list[str]) -> None:
    parser = build_parser()
    before = parser.parse_args(["--config", "a.toml", "--api-base", "http://x", *command])
    after = parser.parse_args([*command, "--config", "a.toml", "--api-base", "http://x"])
    for args in (before, after):
        assert (args.config, args.api_base) == ("a.toml", "http://x")
    mixed = parser.parse_args(["--config", "a.toml", *command, "--api-base=http://y"])
    assert (mixed.config, mixed.api_base) == ("a.toml", "http://y")
    last = parser.parse_args(["--config", "a.toml", *command, "--config", "b.toml"])
    assert last.config == "b.toml"  # the one nearest the command's own options wins
    assert parser.parse_args(command).config is None


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_commands_help_lists_the_global_options(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert "global options (before or after the command)" in text
    assert "--config" in text and "--api-base" in text
    if command[0] in ("quote", "sandbox"):
        assert "do not apply here" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["check", "--confg", "x.toml"],
            "portal-tui check: error: unrecognized argument --confg: did you mean --config?",
        ),
        (["--confg", "x.toml", "check"], "portal-tui: error: unrecognized argument --confg: did you mean --config?"),
        (["check", "--api_base", "http://x"], "unrecognized argument --api_base: did you mean --api-base?"),
        (["check", "--jsn"], "portal-tui check: error: unrecognized argument --jsn: did you mean --json?"),
        (["catalog", "export", "--moed", "live"], "unrecognized argument --moed: did you mean --mode?"),
        (["catalog", "--confg", "x", "export"], "unrecognized argument --confg: did you mean --config?"),
        (["catalog", "apply", "--mode", "live", "--replce"], "unrecognized argument --replce: did you mean --replace?"),
        (["--json", "check"], "--json is an option of 'portal-tui check': put it after 'check'"),
        (["quote", "--config", "p.toml", "price.json", "1"], "quote takes no --config: it reads only the price JSON"),
        (["quote", "--confg", "p.toml"], "quote takes no --config"),
        (["sandbox", "--api-base", "http://x"], "sandbox takes no --api-base: the sandbox is the API"),
        (["check", "--frobnicate"], "unrecognized argument --frobnicate ('portal-tui check --help' lists the options)"),
        (
            ["chek"],
            "invalid choice: 'chek' (choose from 'quote', 'sandbox', 'check', 'catalog'): did you mean 'check'?",
        ),
        (
            ["check", "--mode", "lve"],
            "argument --mode: invalid choice: 'lve' (choose from 'test', 'live'): did you mean",
        ),
    ],
)
def test_an_unknown_option_names_the_closest_real_one(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in error_of(capsys, *argv)


def test_abbreviations_and_values_that_look_like_commands_still_work() -> None:
    parser = build_parser()
    assert parser.parse_args(["check", "--conf", "a.toml"]).config == "a.toml"  # argparse's unique prefix
    assert parser.parse_args(["--config", "check", "check"]).config == "check"  # a value, not the command
    assert parser.parse_args(["quote", "-", "12"]).price == "-"  # standard input, not an option


def test_check_with_its_options_after_the_command_runs_against_the_sandbox(
    tmp_path: Path, seeded_sandbox: Sandbox
) -> None:
    """The issue's own line: `portal-tui check --config PATH --api-base URL`, as a real process."""
    price = next(str(p["id"]) for p in seeded_sandbox.test_world.objects["price"].values() if p["lookup_key"])
    config = tmp_path / "elsewhere.toml"
    ConfigStore(config).save(PlanConfig(plans=[Plan("pro", "Pro", price, quotas={"vcpu": 4})]))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PORTAL_TUI_CONFIG_DIR": str(tmp_path / "cfg"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONDONTWRITEBYTECODE": "1",
        "STRIPE_API_KEY": TEST_KEY,
    }
    args = [sys.executable, "-m", "portal_tui", "check", "--config", str(config), "--api-base", seeded_sandbox.url]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "elsewhere.toml" in done.stdout
