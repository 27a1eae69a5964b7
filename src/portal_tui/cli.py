"""Command line: `portal-tui` launches the app; `quote`, `sandbox` and `check` run without a screen."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from portal_tui import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-tui",
        description="Set up subscription billing for a SaaS or hosting portal on Stripe, from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"portal-tui {__version__}")
    parser.add_argument("--config", metavar="PATH", help="plan config file (default: user config dir)")
    parser.add_argument("--api-base", metavar="URL", help="Stripe API base URL (e.g. a local sandbox)")
    parser.add_argument("--demo", action="store_true", help="run against a built-in sandbox with a demo catalog")
    parser.add_argument("--no-demo", action="store_true", help="use your own Stripe account even before a key is saved")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    quote = sub.add_parser("quote", help="what a customer pays for a price at given quantities")
    quote.add_argument("price", help="a Stripe Price as JSON: a file path, or - for standard input")
    quote.add_argument("quantities", nargs="+", help="quantities or usage amounts, e.g. 12000")

    sandbox = sub.add_parser("sandbox", help="serve the local Stripe sandbox")
    sandbox.add_argument("--port", type=int, default=12111, help="port on 127.0.0.1 (0 picks a free one)")
    sandbox.add_argument("--no-seed", action="store_true", help="start with an empty catalog")

    check = sub.add_parser("check", help="validate the plan config and its linked prices")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "quote":
        from portal_tui.commands.quote import run_quote

        return run_quote(args.price, args.quantities, stdin=sys.stdin, out=sys.stdout, err=sys.stderr)
    if args.command == "sandbox":
        from portal_tui.commands.sandbox import run_sandbox

        return run_sandbox(port=args.port, seed=not args.no_seed)
    if args.command == "check":
        from portal_tui.commands.check import run_check

        return run_check(config=args.config, api_base=args.api_base, as_json=args.json)
    from portal_tui.commands.app import run_app

    return run_app(config=args.config, api_base=args.api_base, demo=args.demo, no_demo=args.no_demo)
