"""Command line: `portal-tui` launches the app; `quote`, `sandbox`, `check` and `catalog` run without a screen."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from portal_tui import __version__

CONFIG_HELP = "plan config file (default: user config dir)"
API_BASE_HELP = "Stripe API base URL (e.g. a local sandbox)"


def global_options() -> argparse.ArgumentParser:
    """--config and --api-base, also accepted after a subcommand. SUPPRESS defaults: a value given before the
    subcommand is not overwritten by the subcommand's parser when the option is not repeated there."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
    parent.add_argument("--api-base", metavar="URL", default=argparse.SUPPRESS, help=API_BASE_HELP)
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-tui",
        description="Set up subscription billing for a SaaS or hosting portal on Stripe, from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"portal-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help=CONFIG_HELP)
    parser.add_argument("--api-base", metavar="URL", help=API_BASE_HELP)
    parser.add_argument("--demo", action="store_true", help="run against a built-in sandbox with a demo catalog")
    parser.add_argument("--no-demo", action="store_true", help="use your own Stripe account even before a key is saved")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    quote = sub.add_parser("quote", help="what a customer pays for a price at given quantities")
    quote.add_argument("price", help="a Stripe Price as JSON: a file path, or - for standard input")
    quote.add_argument("quantities", nargs="+", help="quantities or usage amounts, e.g. 12000")

    sandbox = sub.add_parser("sandbox", help="serve the local Stripe sandbox")
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


def add_catalog_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shared: argparse.ArgumentParser
) -> None:
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

        return run_quote(args.price, args.quantities, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)
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
