"""Command line: `portal-tui` launches the app; `quote`, `sandbox`, `check` and `catalog` run without a screen."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from portal_tui import __version__

CONFIG_HELP = "plan config file (default: user config dir)"
API_BASE_HELP = "Stripe API base URL (e.g. a local sandbox)"
GLOBAL_OPTIONS = ("--config", "--api-base")
GLOBALS_TITLE = "global options (before or after the command)"
# Commands that take no global option, and why: their --help says so, and so does the error if one is given.
NO_GLOBALS = {
    "quote": "it reads only the price JSON you give it (no plan config, no Stripe account)",
    "sandbox": "the sandbox is the API (it reads no plan config and calls no other Stripe)",
}


class Parser(argparse.ArgumentParser):
    """argparse, with errors that name the fix: an unknown option names the closest real one, wherever it was
    typed ("unrecognized argument --confg: did you mean --config?"), and an invalid choice the closest choice."""

    top = False  # the program's own parser (not a command's): it checks the whole line first

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self.top:
            check_options(self, list(sys.argv[1:] if args is None else args))
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), options, n=1)
            if close:
                message += f": did you mean {close[0]!r}?"
        super().error(message)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings if option.startswith("--")]


def _known(option: str, parser: argparse.ArgumentParser) -> bool:
    """As argparse reads it: the exact option, or an unambiguous abbreviation of one."""
    options = _long_options(parser)
    return option in options or len([o for o in options if o.startswith(option)]) == 1


def check_options(top: argparse.ArgumentParser, argv: list[str]) -> None:
    """Before argparse reads the line: every `--option` must belong to the command it follows (or to the program,
    before any command). argparse's own message for a typo is "unrecognized arguments", or worse: the typo's value
    is taken for a command or a positional argument and the error names that."""
    segments: list[tuple[argparse.ArgumentParser, list[str]]] = [(top, [])]
    takes_value = False
    for token in argv:
        if token == "--":
            break
        parser, tokens = segments[-1]
        if takes_value:
            takes_value = False
            continue
        if token.startswith("-") and token != "-":
            tokens.append(token)
            action = parser._option_string_actions.get(token.split("=", 1)[0])
            takes_value = action is not None and "=" not in token and action.nargs != 0
            continue
        commands = _subparsers(parser)
        if token in commands:
            segments.append((commands[token], []))
    innermost = segments[-1][0]
    for parser, tokens in segments:
        for token in tokens:
            option = token.split("=", 1)[0]
            if option.startswith("--") and not _known(option, parser):
                path = [p for p, _ in segments]
                message = unknown_option(option, parser, path)
                # An option of a later command typed before it: that command's usage is the one to read.
                (innermost if message.startswith(option) else parser).error(message)


def unknown_option(option: str, parser: argparse.ArgumentParser, path: list[argparse.ArgumentParser]) -> str:
    command = parser.prog.removeprefix("portal-tui").strip()
    if command in NO_GLOBALS:
        meant = difflib.get_close_matches(option, GLOBAL_OPTIONS, n=1, cutoff=0.6)
        if meant:
            return f"{command} takes no {meant[0]}: {NO_GLOBALS[command]}"
    later = [p for p in path[path.index(parser) + 1 :] if option in _long_options(p)]
    if later:
        return f"{option} is an option of '{later[-1].prog}': put it after '{later[-1].prog.split()[-1]}'"
    close = difflib.get_close_matches(option, _long_options(parser), n=1, cutoff=0.6)
    if close:
        return f"unrecognized argument {option}: did you mean {close[0]}?"
    return f"unrecognized argument {option} ('{parser.prog} --help' lists the options)"


def global_options() -> Parser:
    """--config and --api-base, also accepted after a subcommand. SUPPRESS defaults: a value given before the
    subcommand is not overwritten by the subcommand's parser when the option is not repeated there."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group(GLOBALS_TITLE)
    group.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
    group.add_argument("--api-base", metavar="URL", default=argparse.SUPPRESS, help=API_BASE_HELP)
    return parent


def no_globals(command: str) -> str:
    """The --help text of a command that takes no global option: it still says which ones exist."""
    return f"{GLOBALS_TITLE}: {', '.join(GLOBAL_OPTIONS)} do not apply here: {NO_GLOBALS[command]}."


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="portal-tui",
        description="Set up subscription billing for a SaaS or hosting portal on Stripe, from a terminal.",
    )
    parser.top = True
    parser.add_argument("--version", action="version", version=f"portal-tui {__version__}")
    group = parser.add_argument_group(GLOBALS_TITLE)
    group.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    group.add_argument("--api-base", metavar="URL", help=API_BASE_HELP)
    parser.add_argument("--demo", action="store_true", help="run against a built-in sandbox with a demo catalog")
    parser.add_argument("--no-demo", action="store_true", help="use your own Stripe account even before a key is saved")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    quote = sub.add_parser(
        "quote", help="what a customer pays for a price at given quantities", epilog=no_globals("quote")
    )
    quote.add_argument("price", help="a Stripe Price as JSON: a file path, or - for standard input")
    quote.add_argument("quantities", nargs="+", help="quantities or usage amounts, e.g. 12000")
    quote.add_argument(
        "--currency", help="bill in another of the price's currencies (its JSON needs currency_options expanded)"
    )

    sandbox = sub.add_parser("sandbox", help="serve the local Stripe sandbox", epilog=no_globals("sandbox"))
    sandbox.add_argument("--port", type=int, default=12111, help="port on 127.0.0.1 (0 picks a free one)")
    sandbox.add_argument("--no-seed", action="store_true", help="start with an empty catalog")
    add_fault_options(sandbox)

    shared = global_options()
    check = sub.add_parser(
        "check",
        parents=[shared],
        help="validate the plan config, its linked prices, test/live drift and (live) go-live readiness",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--mode",
        choices=("test", "live"),
        help="check with this mode's key (default: $STRIPE_API_KEY or the active key); live adds the readiness checks",
    )
    add_catalog_parser(sub, shared)
    return parser


def add_fault_options(sandbox: argparse.ArgumentParser) -> None:
    """`portal-tui sandbox`'s bad-network-day options (parsed in commands/sandbox.py, imported lazily)."""

    def faults(text: str) -> dict[str, float]:
        from portal_tui.commands.sandbox import parse_faults

        return parse_faults(text)

    def duration(text: str) -> float:
        from portal_tui.commands.sandbox import parse_duration

        return parse_duration(text)

    sandbox.add_argument(
        "--faults",
        metavar="KIND=RATE,…",
        type=faults,
        default=None,
        help="inject random faults per request: 429, 500, reset (dropped connection), lock_timeout; "
        "e.g. 429=0.1,500=0.05,reset=0.02",
    )
    sandbox.add_argument("--fault-seed", type=int, default=None, help="repeat the same fault sequence")
    sandbox.add_argument("--latency", type=duration, default=0.0, help="delay every answer, e.g. 150ms")
    sandbox.add_argument(
        "--meter-event-lag", type=duration, default=0.0, help="meter events count in usage after this long, e.g. 30s"
    )


def add_catalog_parser(sub: argparse._SubParsersAction[Parser], shared: Parser) -> None:
    catalog = sub.add_parser(
        "catalog",
        parents=[shared],
        help="copy the catalog between modes: export to catalog.toml, diff it against an account, apply it",
    )
    actions = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    file_help = "catalog file (default: catalog.toml beside the plan config)"

    export = actions.add_parser(
        "export", parents=[shared], help="write the prices plans link (or --all active prices) to catalog.toml"
    )
    export.add_argument("--mode", choices=("test", "live"), default="test", help="account to read (default: test)")
    export.add_argument("--all", action="store_true", help="every active price, not only those plans link")
    export.add_argument("--file", metavar="PATH", help=file_help)
    export.add_argument(
        "--set-lookup-key",
        metavar="PRICE=KEY",
        action="append",
        default=[],
        help="give a price a lookup key first (its identity across modes); repeatable",
    )

    diff = actions.add_parser("diff", parents=[shared], help="compare catalog.toml with an account (read-only)")
    diff.add_argument("--mode", choices=("test", "live"), required=True, help="account to compare with")
    diff.add_argument("--file", metavar="PATH", help=file_help)
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON")

    apply = actions.add_parser(
        "apply", parents=[shared], help="create what catalog.toml has and the account lacks; link live prices"
    )
    apply.add_argument("--mode", choices=("test", "live"), required=True, help="account to write to")
    apply.add_argument("--file", metavar="PATH", help=file_help)
    apply.add_argument(
        "--replace",
        action="store_true",
        help="prices whose terms differ: create the catalog's price, move the lookup key, archive the old one",
    )
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation in live mode (scripts)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "quote":
        from portal_tui.commands.quote import run_quote

        return run_quote(
            args.price, args.quantities, stdin=sys.stdin, out=sys.stdout, err=sys.stderr, currency=args.currency
        )
    if args.command == "sandbox":
        from portal_tui.commands.sandbox import run_sandbox

        return run_sandbox(
            port=args.port,
            seed=not args.no_seed,
            faults=args.faults,
            latency=args.latency,
            meter_event_lag=args.meter_event_lag,
            fault_seed=args.fault_seed,
        )
    if args.command == "check":
        from portal_tui.commands.check import run_check

        return run_check(config=args.config, api_base=args.api_base, as_json=args.json, mode=args.mode)
    if args.command == "catalog":
        from portal_tui.commands.catalog import run_catalog

        return run_catalog(args, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)
    from portal_tui.commands.app import run_app

    return run_app(config=args.config, api_base=args.api_base, demo=args.demo, no_demo=args.no_demo)
