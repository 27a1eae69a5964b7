"""`portal-tui catalog export|diff|apply`: copy the catalog the plans use from test mode to live mode.

The catalog file (catalog.toml beside plans.toml) holds meters, products and prices without account IDs; items
are known by identity (a price by its lookup key, a meter by its event name, a product by its key), so the same
file describes the test and the live account.

Exit codes:
  export  0 written; 2 not written (no key, no plans, a price without a lookup key, Stripe unreachable, bad file)
  diff    0 the account has everything; 1 changes pending (items to create, or differing); 2 could not check
  apply   0 applied (or nothing to do); 1 applied, but prices that differ were left alone (no --replace);
          2 nothing sent, or stopped (no key, refused without confirmation, cancelled, Stripe error, interrupted)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from portal_tui.commands.keys import gateway_for, key_for_mode, missing_key_message
from portal_tui.services.errors import PortalError

if TYPE_CHECKING:
    from portal_tui.domain.catalog import Catalog
    from portal_tui.domain.plans import PlanConfig
    from portal_tui.services.gateway import AccountInfo, StripeGateway
    from portal_tui.services.promotion import ApplyResult, CatalogDiff, MissingLookupKeyError

Mode = Literal["test", "live"]
OK, PENDING, FAILED = 0, 1, 2
CONFIRM_WORD = "live"


class CommandError(Exception):
    """Stops a catalog command with exit code 2 and this message (and an optional hint)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Console:
    """Where a command writes: progress and results to `out`, refusals and errors to `err`; asks on `stdin`."""

    def __init__(self, stdin: TextIO, out: TextIO, err: TextIO) -> None:
        self.stdin, self.out, self.err = stdin, out, err

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def warn(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def interactive(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def ask(self, prompt: str) -> str | None:
        """The answer typed, or None at end of input."""
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        return line.strip() if line else None


def run_catalog(args: argparse.Namespace, *, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    console = Console(stdin, out, err)
    command = args.catalog_command
    as_json = bool(getattr(args, "json", False))
    try:
        if command == "export":
            return export(args, console)
        if command == "diff":
            return diff(args, console)
        return apply(args, console)
    except (PortalError, CommandError) as error:
        hint = error.hint
        if as_json:
            out.write(json.dumps({"error": error.message, "hint": hint, "exit_code": FAILED}, indent=2) + "\n")
        else:
            console.warn(f"portal-tui catalog {command}: {error.message}")
            if hint:
                console.warn(f"  {hint}")
        return FAILED
    except KeyboardInterrupt:
        console.warn(
            f"\nportal-tui catalog {command}: interrupted. Run the same command again: it looks every item up "
            "before creating it, so it continues where it stopped without duplicates."
        )
        return FAILED


# ---- shared -----------------------------------------------------------------------------------------------------


def catalog_path(args: argparse.Namespace) -> Path:
    from portal_tui import locations

    explicit = getattr(args, "file", None)
    return Path(explicit).expanduser() if explicit else locations.catalog_file(getattr(args, "config", None))


def load_catalog(path: Path) -> Catalog:
    from portal_tui.services.catalog_store import CatalogStore

    store = CatalogStore(path)
    if not store.exists():
        raise CommandError(
            f"no catalog file at {path}", "Write it from the test account first: portal-tui catalog export"
        )
    catalog = store.load()  # ConfigFileError naming the line for a broken file
    if not catalog.prices and not catalog.meters and not catalog.products:
        raise CommandError(f"the catalog file {path} is empty", "Fill it: portal-tui catalog export")
    return catalog


def connect(mode: Mode, args: argparse.Namespace) -> tuple[StripeGateway, AccountInfo]:
    gateway = gateway_for(mode, getattr(args, "api_base", None))
    account = gateway.verify()
    return gateway, account


def account_label(account: AccountInfo, mode: Mode) -> str:
    name = account.display_name if account.id.startswith("(") else f"{account.display_name} ({account.id})"
    return f"{name}, {mode} mode"


def load_plans(args: argparse.Namespace) -> tuple[Any, PlanConfig | None]:
    """The plan store and its config (None when there is no plan file yet)."""
    from portal_tui import locations
    from portal_tui.services.config_store import ConfigStore

    store = ConfigStore(locations.plans_file(getattr(args, "config", None)))
    return store, (store.load() if store.exists() else None)


# ---- export -----------------------------------------------------------------------------------------------------


def parse_assignments(values: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        price, sep, key = value.partition("=")
        if not sep or not price.strip() or not key.strip():
            raise CommandError(f"--set-lookup-key wants PRICE=KEY, e.g. price_123=pro-monthly (got '{value}')")
        pairs.append((price.strip(), key.strip()))
    return pairs


def export(args: argparse.Namespace, console: Console) -> int:
    from portal_tui.services import promotion
    from portal_tui.services.catalog_store import CatalogStore

    mode: Mode = args.mode
    assignments = parse_assignments(args.set_lookup_key)
    path = catalog_path(args)
    store = CatalogStore(path)
    existing = store.load()  # refuse early (before any write to Stripe) when the file there is broken
    price_ids: list[str] | None = None
    if not args.all:
        plan_store, config = load_plans(args)
        if config is None:
            raise CommandError(
                f"no plan config at {plan_store.path}: there are no linked prices to export",
                "Link prices to plans in the app (portal-tui, step 4), pass --config PATH, or export every active "
                "price with --all.",
            )
        price_ids = list(dict.fromkeys(pid for plan in config.plans if (pid := plan.price_id(mode))))
        if not price_ids:
            raise CommandError(
                f"no plan links a {mode}-mode price",
                "Link prices in the app (portal-tui, step 4), or export every active price with --all.",
            )
    gateway, account = connect(mode, args)
    console.say(f"Reading the catalog of {account_label(account, mode)}")
    for price_id, key in assignments:
        promotion.set_lookup_key(gateway, price_id, key)
        console.say(f"  lookup key '{key}' set on {price_id}")
    offered: set[str] = set()
    while True:
        try:
            catalog = promotion.export_catalog(gateway, price_ids=price_ids, all_prices=bool(args.all))
            break
        except promotion.MissingLookupKeyError as error:
            key = offer_lookup_key(console, error, offered)
            promotion.set_lookup_key(gateway, error.price_id, key)
            offered.add(error.price_id)
            console.say(f"  lookup key '{key}' set on {error.price_id}")
    merged = existing.merged(catalog)
    store.save(merged)
    kept = len(merged.prices) - len(catalog.prices)
    console.say(
        f"Wrote {path}: {count(len(catalog.prices), 'price')}, {count(len(catalog.products), 'product')}, "
        f"{count(len(catalog.meters), 'meter')} from {mode} mode"
        + (f" (merged: {count(kept, 'other price')} kept from the file)" if existing.prices else "")
    )
    for price in catalog.prices:
        console.say(f"  {price.lookup_key:<28} {price.draft.summary()}")
    other = "live" if mode == "test" else "test"
    console.say(f"Next: portal-tui catalog diff --mode {other}, then portal-tui catalog apply --mode {other}")
    return OK


def offer_lookup_key(console: Console, error: MissingLookupKeyError, offered: set[str]) -> str:
    """A lookup key for a price that has none: asked on a terminal, else refused with the flags to use."""
    price_id, suggestion = error.price_id, error.suggestion
    why = (
        f"{price_id} has no lookup key. The lookup key is how the same price is found in test and live mode "
        "(IDs differ between the modes), so a price without one cannot be copied."
    )
    if len(error.missing) > 1:
        why += f" {count(len(error.missing) - 1, 'other price')} to export lack one too."
    flags = " ".join(f"--set-lookup-key {pid}={key}" for pid, key in error.missing)
    if price_id in offered or not console.interactive():
        raise CommandError(
            why, f"Give them one (keys can be changed later) and export again: portal-tui catalog export {flags}"
        )
    console.say(why)
    answer = console.ask(
        f"Set lookup key '{suggestion}' on {price_id} now? Enter accepts, or type another key, or 'n' to stop: "
    )
    if answer is None or answer.lower() in ("n", "no"):
        raise CommandError(
            f"{price_id} has no lookup key: nothing was exported", f"Or run: portal-tui catalog export {flags}"
        )
    return answer or suggestion


def count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---- diff -------------------------------------------------------------------------------------------------------


def diff(args: argparse.Namespace, console: Console) -> int:
    from portal_tui.services.promotion import diff_catalog

    mode: Mode = args.mode
    path = catalog_path(args)
    catalog = load_catalog(path)
    gateway, account = connect(mode, args)
    result = diff_catalog(catalog, gateway)
    code = PENDING if result.pending else OK
    if args.json:
        console.say(json.dumps({**result.to_json(), "catalog": str(path), "exit_code": code}, indent=2))
        return code
    console.say(f"Catalog file {path}, {account_label(account, mode)}")
    console.say(result.to_text().rstrip("\n"))
    console.say(diff_footer(result, mode))
    return code


def diff_footer(result: CatalogDiff, mode: Mode) -> str:
    states = [item.state for item in result.items]
    create, differs = states.count("create"), states.count("differs")
    if not create and not differs:
        return f"Nothing to do: the {mode} account has every item of the catalog with the same terms."
    parts = []
    if create:
        parts.append(f"{create} to create")
    if differs:
        parts.append(f"{differs} with other terms (apply --replace creates the catalog's price and archives the old)")
    return f"{'; '.join(parts)}. Run: portal-tui catalog apply --mode {mode}"


# ---- apply ------------------------------------------------------------------------------------------------------


def apply(args: argparse.Namespace, console: Console) -> int:
    from portal_tui.services.promotion import apply_catalog, diff_catalog, plan_apply

    mode: Mode = args.mode
    path = catalog_path(args)
    catalog = load_catalog(path)
    gateway, account = connect(mode, args)
    console.say(f"Catalog {path} → {account_label(account, mode)}")
    current = diff_catalog(catalog, gateway)
    planned = plan_apply(catalog, current, replace=args.replace)
    left_alone = [] if args.replace else [item for item in current.items if item.state == "differs"]
    if planned:
        console.say(f"{count(len(planned), 'request')} to send:")
        for request in planned:
            console.say(f"  {request.text()}")
    for item in left_alone:
        changes = "; ".join(difference.text() for difference in item.differences)
        console.say(f"  left alone: {item.label} differs ({changes}); --replace would replace it")
    if planned and mode == "live" and not args.yes:
        confirm(console, account, len(planned))
    try:
        result = apply_catalog(
            catalog, gateway, replace=args.replace, on_progress=lambda line: console.say(f"  {line}")
        )
    except PortalError as error:
        raise CommandError(
            f"stopped: {error.message}",
            "What was created stays, and nothing is created twice: run the same command again to continue.",
        ) from None
    report_result(console, result, mode)
    if mode == "live":
        link_plans(args, console, result.price_ids)
    if result.skipped:
        console.say(
            f"Left alone (terms differ, no --replace): {', '.join(result.skipped)}. "
            f"Run: portal-tui catalog apply --mode {mode} --replace"
        )
    return PENDING if result.skipped else OK


def confirm(console: Console, account: AccountInfo, requests: int) -> None:
    """Live writes reach real customers: a person types the word, or a script says --yes."""
    if not console.interactive():
        raise CommandError(
            "refusing to write to the live account without a confirmation, and standard input is not a terminal "
            "to ask on: nothing was sent",
            "Run it in a terminal to confirm, or add --yes if this script really means to write to live mode.",
        )
    who = account.id if not account.id.startswith("(") else account.display_name
    answer = console.ask(
        f"These {count(requests, 'request')} create real objects in the LIVE account {who}. "
        f'Type "{CONFIRM_WORD}" to send them (anything else cancels): '
    )
    if answer != CONFIRM_WORD:
        raise CommandError("cancelled: nothing was sent to the live account")


def report_result(console: Console, result: ApplyResult, mode: Mode) -> None:
    if result.created:
        console.say(f"Created in {mode} mode ({count(result.writes, 'write request')}):")
        for label, new_id in result.created:
            console.say(f"  {new_id:<32} {label}")
    for label, what in result.updated:
        console.say(f"  updated {label}: {what}")
    for lookup_key, old, new in result.replaced:
        console.say(f"  replaced {old} by {new} ({lookup_key}); the old price is archived")
    if not result.writes:
        console.say(f"No write sent: the {mode} account already has every item of the catalog.")


def link_plans(args: argparse.Namespace, console: Console, price_ids: Mapping[str, str]) -> None:
    """Put the live prices in plans.toml for plans whose test price carries a lookup key the catalog holds."""
    from portal_tui.services.errors import NotFoundError
    from portal_tui.services.gateway import StripeGateway
    from portal_tui.services.promotion import link_live_prices

    store, config = load_plans(args)
    if config is None:
        console.say(f"No plan config at {store.path}: no plan to link to the live prices.")
        return
    test_ids = list(dict.fromkeys(pid for plan in config.plans if (pid := plan.test_price_id)))
    if not test_ids:
        console.say("No plan links a test price: no plan to link to the live prices.")
        return
    stored = key_for_mode("test")
    if stored is None:
        console.say(
            f"Plans not linked: matching them needs their test prices' lookup keys, and {missing_key_message('test')}."
        )
        return
    test_gateway = StripeGateway(stored.key, api_base=getattr(args, "api_base", None))
    test_to_lookup: dict[str, str] = {}
    for price_id in test_ids:
        try:
            price = test_gateway.retrieve_price(price_id)
        except NotFoundError:
            console.say(f"  {price_id} (a plan's test price) does not exist in test mode: that plan is not linked")
            continue
        if price.get("lookup_key"):
            test_to_lookup[price_id] = str(price["lookup_key"])
    changed = link_live_prices(config, test_to_lookup, price_ids)
    if changed:
        store.save(config)
        console.say(f"Linked live prices in {store.path}:")
        for plan_id in changed:
            plan = config.plan(plan_id)
            if plan is not None:
                console.say(f"  {plan.id:<16} {plan.live_price_id}")
    else:
        console.say("Plans: every live slot already links its price.")
    unmatched = [
        plan.id
        for plan in config.plans
        if plan.test_price_id and test_to_lookup.get(plan.test_price_id) not in price_ids and plan.id not in changed
    ]
    if unmatched:
        console.say(
            f"Not linked (their test price's lookup key is not in the catalog): {', '.join(unmatched)}. "
            "Export them first: portal-tui catalog export"
        )
