"""Go live (step 6): promote verified plans' test prices to the live account, link the live IDs, see what else the
live account needs before it can charge real cards."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from portal_tui.ui.context import portal
from portal_tui.ui.widgets.confirm import ConfirmModal
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from portal_tui.domain.catalog import Catalog
    from portal_tui.domain.plans import PlanConfig
    from portal_tui.services.keystore import StoredKey
    from portal_tui.services.promotion import ApplyResult, CatalogDiff, PlannedRequest
    from portal_tui.services.readiness import ReadinessCheck

# Column widths at 80 columns; the test price column takes what a wider terminal adds.
PLAN_WIDTH, TEST_WIDTH, VERIFY_WIDTH, LIVE_WIDTH = 12, 16, 19, 16
COLUMN_KEYS = ("plan", "test", "verify", "live")
VERIFY_MARKS = {"passed": ("✓ passed", "green"), "failed": ("✗ failed", "red"), "stale": ("stale", "yellow")}
# How a live counterpart reads, and its colour: None is neutral.
LIVE_STYLES = {"linked": "green", "same": "green", "missing": "yellow", "differs": "red"}


@dataclass(frozen=True)
class PlanRow:
    """One plan as step 6 sees it: its test price, the last Verify verdict for it, and the live counterpart."""

    plan_id: str
    name: str
    test_price_id: str | None
    summary: str  # the test price in words, or why there is none
    lookup_key: str | None = None
    currency: str | None = None
    verify: str = "never"  # domain.plans.verify_state: never / passed / failed / stale
    verified_on: str = ""  # 2026-12-01
    live: str = "—"  # missing / same / linked / differs / no live key / no lookup key / —
    live_detail: str = ""  # "amount, tiers" for differs; the live price ID otherwise
    problem: bool = False  # the test price could not be read: nothing to promote

    @property
    def promotable(self) -> bool:
        return self.test_price_id is not None and not self.problem

    @property
    def verify_text(self) -> tuple[str, str]:
        if self.test_price_id is None:
            return "—", "dim"
        text, style = VERIFY_MARKS.get(self.verify, ("never", "dim"))
        if self.verify in ("passed", "failed") and self.verified_on:
            text += f" {self.verified_on}"
        return text, style

    @property
    def live_text(self) -> str:
        if self.live == "differs" and self.live_detail:
            return f"differs: {self.live_detail}"
        return self.live


@dataclass
class Survey:
    """What the worker learnt: the rows, the live key (masked, where kept) or why there is none."""

    rows: list[PlanRow] = field(default_factory=list)
    live_key: str | None = None
    problem: str | None = None


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


NO_PLANS = "No plans yet: create them in step 4 and verify them in step 5."


class GoLiveScreen(Screen[None]):
    """Plans table (space chooses, ctrl+n promotes), progress, and the live account's readiness."""

    class Progress(Message):
        """A line from the promotion running in a thread (posted, never waited on)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    DEFAULT_CSS = """
    GoLiveScreen #go-live-body { height: 1fr; padding: 0 1; }
    GoLiveScreen #live-key-line { height: 1; color: $text-muted; }
    GoLiveScreen #live-key-line.missing { color: $text; background: $error 25%; }
    GoLiveScreen #plans-title, GoLiveScreen #readiness-title { height: 1; text-style: bold; }
    GoLiveScreen #plan-table { height: auto; max-height: 9; }
    GoLiveScreen #status { height: auto; max-height: 7; }
    GoLiveScreen #readiness-box { height: 1fr; min-height: 3; }
    GoLiveScreen #readiness-box:focus { background-tint: $foreground 4%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "promote", "Promote"),
        Binding("space", "choose", "Choose"),
        Binding("a", "choose_all", "All"),
        Binding("r", "refresh", "Refresh"),
        Binding("ctrl+k", "live_key", "Paste the live key", show=False),
        Binding("ctrl+l", "switch_live", "Switch the app to live mode", show=False),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Go live: promote the chosen plans", "Create their prices in live mode and link them", "promote"),
        ("Go live: paste the live key", "Checked with Stripe, kept in the keyring", "live_key"),
        ("Go live: refresh plans and readiness", "Read both accounts again", "refresh"),
        ("Go live: switch the app to live mode", "Connect with the live key", "switch_live"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[PlanRow] = []
        self.chosen: set[str] = set()
        self.checks: list[ReadinessCheck] | None = None
        self.has_live_key = False
        self.promoting = False
        self.left_step = False
        self.log_lines: list[tuple[str, str]] = []
        self.widths = (PLAN_WIDTH, TEST_WIDTH, VERIFY_WIDTH, LIVE_WIDTH)

    @property
    def busy(self) -> str | None:
        """What quitting now would interrupt (the app's quit question)."""
        return "a promotion to live mode (some live prices may then be created, others not)" if self.promoting else None

    # ---- layout -----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar("6 Go live")
        with Vertical(id="go-live-body"):
            yield Static("Live key: looking…", id="live-key-line", markup=False)
            yield Static("Plans: space chooses, ctrl+n promotes the chosen (or highlighted) ones", id="plans-title")
            yield DataTable(id="plan-table", cursor_type="row", zebra_stripes=False)
            yield Static("", id="status")
            yield Static("Live account readiness (read-only; r refreshes)", id="readiness-title", markup=False)
            with VerticalScroll(id="readiness-box", can_focus=True):
                yield Static("", id="readiness")
        yield KeyBar()

    def on_mount(self) -> None:
        self.build_columns()
        self.query_one("#plan-table", DataTable).focus()
        self.call_after_refresh(self.survey)

    def on_resize(self) -> None:
        self.build_columns()
        self.show_rows()

    def on_screen_suspend(self) -> None:
        # A question or the help on top changes nothing; another step (plans edited, a plan verified) may.
        self.left_step = not isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        if self.left_step and not self.promoting:
            self.left_step = False
            self.survey()

    def connection_changed(self) -> None:
        if not self.promoting:
            self.survey()

    def catalog_changed(self) -> None:
        if not self.promoting and self.is_mounted:
            self.survey()

    def build_columns(self) -> None:
        """At 80 columns each column has its minimum; a wider terminal gives the test price and live most of it."""
        table = self.query_one("#plan-table", DataTable)
        extra = max(0, self.size.width - 80)
        widths = (
            PLAN_WIDTH + extra // 8,
            TEST_WIDTH + extra - extra // 8 - extra // 4,
            VERIFY_WIDTH,
            LIVE_WIDTH + extra // 4,
        )
        if table.columns and widths == self.widths:
            return
        self.widths = widths
        table.clear(columns=True)
        table.add_column("", width=3, key="chosen")
        for title, key, width in zip(("Plan", "Test price", "Last Verify", "Live"), COLUMN_KEYS, widths, strict=True):
            table.add_column(title, width=width, key=key)

    # ---- reading both accounts --------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.promoting:
            self.notify("A promotion is running: the table refreshes when it ends.", severity="warning")
            return
        self.survey(readiness=True)

    @work(thread=True, exclusive=True, group="go-live-survey")
    def survey(self, readiness: bool = True) -> None:
        survey = self.collect()
        self.app.call_from_thread(self.surveyed, survey, readiness)

    def collect(self) -> Survey:
        """Runs in a thread: the plan file, each test price, its Verify state and live counterpart."""
        from portal_tui.domain.plans import verify_state
        from portal_tui.domain.price_terms import compare_terms, price_terms, terms_fingerprint
        from portal_tui.domain.pricing import describe_price
        from portal_tui.services.errors import NotFoundError, PortalError
        from portal_tui.services.promotion import MeterNames

        context = portal(self).context
        survey = Survey()
        try:
            config = context.config_store.load()
        except PortalError as error:
            survey.problem = f"{error.message} {error.hint or ''}".strip()
            return survey
        test = live = None
        try:
            stored = context.key_for("live")
            if stored is not None:
                survey.live_key = f"{stored.key.masked} kept {stored.description}"
                live = context.gateway_for_mode("live")
        except PortalError as error:
            survey.problem = f"The live key could not be read: {error.message}"
        try:
            test = context.gateway_for_mode("test")
        except PortalError as error:
            survey.problem = f"The test key could not be read: {error.message}"
        meter_names = MeterNames()

        for plan in config.plans:
            if not plan.test_price_id:
                survey.rows.append(PlanRow(plan.id, plan.name, None, "no test price (step 4)", problem=True))
                continue
            if test is None:
                survey.rows.append(PlanRow(plan.id, plan.name, plan.test_price_id, "needs the test key (step 1)"))
                continue
            try:
                price = test.retrieve_price(plan.test_price_id)
                terms = price_terms(price, meter_names.of(test, price))
            except NotFoundError:
                text = f"✗ {plan.test_price_id} not found"
                survey.rows.append(PlanRow(plan.id, plan.name, plan.test_price_id, text, problem=True))
                continue
            except PortalError as error:
                text = f"✗ {error.message}"
                survey.rows.append(PlanRow(plan.id, plan.name, plan.test_price_id, text, problem=True))
                continue
            state = verify_state(plan, terms_fingerprint(terms))
            lookup = price.get("lookup_key") or None
            row = PlanRow(
                plan.id,
                plan.name,
                plan.test_price_id,
                describe_price(price),
                lookup_key=lookup,
                currency=str(price.get("currency") or "") or None,
                verify=state,
                verified_on=plan.verified.at.date().isoformat() if plan.verified else "",
            )
            live_state, detail = "—", ""
            if not price.get("active", True):
                live_state = "test price archived"
            elif live is None:
                live_state = "no live key"
            elif lookup is None:
                live_state = "no lookup key"
            else:
                try:
                    counterpart = live.find_price_by_lookup_key(str(lookup))
                    if counterpart is None:
                        live_state = "missing"
                    else:
                        differences = compare_terms(terms, price_terms(counterpart, meter_names.of(live, counterpart)))
                        if differences:
                            live_state, detail = "differs", ", ".join(d.label for d in differences)
                        elif plan.live_price_id == counterpart["id"]:
                            live_state, detail = "linked", str(counterpart["id"])
                        else:
                            live_state, detail = "same", str(counterpart["id"])
                except PortalError as error:
                    live_state = f"✗ {error.message}"
            survey.rows.append(replace(row, live=live_state, live_detail=detail))
        return survey

    def surveyed(self, survey: Survey, readiness: bool) -> None:
        self.rows = survey.rows
        self.chosen &= {row.plan_id for row in self.rows}
        line = self.query_one("#live-key-line", Static)
        self.has_live_key = survey.live_key is not None
        if survey.live_key:
            line.update(f"Live key: {survey.live_key}")
        else:
            line.update("No live key yet: press ctrl+k to paste it (or promote: it asks)")
        line.set_class(not self.has_live_key, "missing")
        if survey.problem:
            self.say(survey.problem, "red")
        elif not self.rows:
            self.say(NO_PLANS, "yellow")
        elif self.log_lines and self.log_lines[-1][0] == NO_PLANS:
            self.clear_log()  # plans were made since: the hint no longer holds
        self.show_rows()
        if readiness:
            self.check_readiness()

    def show_rows(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        if not table.columns:
            return
        cursor = table.cursor_row
        table.clear()
        plan_width, test_width, verify_width, live_width = self.widths
        for row in self.rows:
            verify, verify_style = row.verify_text
            live_style = LIVE_STYLES.get(row.live, "dim" if row.live in ("—", "no live key") else "yellow")
            table.add_row(
                Text("[x]" if row.plan_id in self.chosen else "[ ]"),  # Text: "[x]" would be read as markup
                cut(row.name or row.plan_id, plan_width),
                Text(cut(row.summary, test_width), style="red" if row.problem else ""),
                Text(cut(verify, verify_width), style=verify_style),
                Text(cut(row.live_text, live_width), style=live_style),
                key=row.plan_id,
            )
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1))

    # ---- readiness ----------------------------------------------------------------------------------------------

    def readiness_currencies(self) -> list[str]:
        """The currencies the live account must charge: of the plans linked live, else of every plan."""
        linked = [row.currency for row in self.rows if row.live == "linked" and row.currency]
        every = [row.currency for row in self.rows if row.currency]
        return sorted(set(linked or every))

    def check_readiness(self) -> None:
        if not self.has_live_key:
            self.query_one("#readiness", Static).update(
                Text("Needs the live key (ctrl+k): the checks read the live account.", style="dim")
            )
            return
        self.query_one("#readiness", Static).update(Text("Checking the live account…", style="dim"))
        self.read_readiness(self.readiness_currencies())

    @work(thread=True, exclusive=True, group="go-live-readiness")
    def read_readiness(self, currencies: list[str]) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.services.readiness import check_readiness

        try:
            gateway = portal(self).context.gateway_for_mode("live")
            if gateway is None:
                return
            checks = check_readiness(gateway, currencies)
        except PortalError as error:
            self.app.call_from_thread(self.readiness_failed, f"{error.message} {error.hint or ''}".strip())
            return
        self.app.call_from_thread(self.show_readiness, checks)

    def readiness_failed(self, message: str) -> None:
        self.query_one("#readiness", Static).update(Text(f"✗ Could not check: {message}", style="red"))

    def show_readiness(self, checks: list[ReadinessCheck]) -> None:
        from rich.table import Table

        self.checks = checks
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=1)
        grid.add_column(ratio=1)
        if all(check.ok is True for check in checks):
            grid.add_row("", Text("Nothing else stands between test mode and real charges.", style="bold green"))
        # What still needs doing first: at 80×24 the passing checks are the ones scrolled out of view.
        for check in sorted(checks, key=lambda check: {False: 0, None: 1, True: 2}[check.ok]):
            mark, style = {True: ("✓", "green"), False: ("✗", "red"), None: ("?", "yellow")}[check.ok]
            text = Text.assemble((check.name, "bold"), f": {check.detail}")
            if check.fix and check.ok is not True:
                text.append(f"\nFix: {check.fix}", style="dim")
            grid.add_row(Text(mark, style=f"bold {style}"), text)
        self.query_one("#readiness", Static).update(grid)
        to_fix = sum(1 for check in checks if check.ok is False)
        unknown = sum(1 for check in checks if check.ok is None)
        counts = [f"{to_fix} to fix"] if to_fix else []
        counts += [f"{unknown} not checked"] if unknown else []
        self.query_one("#readiness-title", Static).update(
            f"Live account readiness: {', '.join(counts) or 'ready'} (read-only; r refreshes)"
        )

    # ---- choosing ---------------------------------------------------------------------------------------------

    def highlighted(self) -> PlanRow | None:
        table = self.query_one("#plan-table", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_choose(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        self.chosen ^= {row.plan_id}
        self.show_rows()

    def action_choose_all(self) -> None:
        every = {row.plan_id for row in self.rows if row.promotable}
        self.chosen = set() if every <= self.chosen else every
        self.show_rows()

    @on(DataTable.RowSelected, "#plan-table")
    def row_selected(self) -> None:
        """enter on the table promotes, like ctrl+n."""
        self.action_promote()

    # ---- the live key -----------------------------------------------------------------------------------------

    async def ask_live_key(self) -> StoredKey | None:
        from portal_tui.ui.widgets.live_key_modal import LiveKeyModal

        stored = await self.app.push_screen_wait(LiveKeyModal())
        if stored is not None:
            self.notify(f"Live key {stored.key.masked} kept {stored.description}. The app stays in its mode.")
            self.survey()
        return stored

    def action_live_key(self) -> None:
        self.run_worker(self.ask_live_key(), exclusive=True, group="go-live-key")

    # ---- promoting ----------------------------------------------------------------------------------------------

    def say(self, line: str, style: str = "") -> None:
        """A progress or result line under the table (the last few stay)."""
        self.log_lines = [*self.log_lines, (line, style)][-6:]
        text = Text()
        for entry, tone in self.log_lines:
            text.append(entry + "\n", style=tone)
        self.query_one("#status", Static).update(text)

    def clear_log(self) -> None:
        self.log_lines = []
        self.query_one("#status", Static).update("")

    def on_go_live_screen_progress(self, message: Progress) -> None:
        self.say(f"  {message.line}")

    def action_promote(self) -> None:
        if self.promoting:
            self.notify("A promotion is already running.", severity="warning")
            return
        if not portal(self).context.connected:
            self.notify("Connect Stripe first (F1): Go live reads the test account.", severity="warning")
            return
        ids = [row.plan_id for row in self.rows if row.plan_id in self.chosen]
        if not ids:
            row = self.highlighted()
            ids = [row.plan_id] if row is not None else []
        if not ids:
            self.notify("No plans to promote: create them in step 4.", severity="warning")
            return
        self.run_worker(self.promote(ids), exclusive=True, group="go-live-promote")

    async def promote(self, plan_ids: list[str]) -> None:
        self.promoting = True
        try:
            await self._promote(plan_ids)
        finally:
            self.promoting = False

    async def _promote(self, plan_ids: list[str]) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.services.promotion import MissingLookupKeyError

        self.clear_log()
        context = portal(self).context
        try:
            live = await asyncio.to_thread(context.gateway_for_mode, "live")
        except PortalError as error:
            self.say(f"✗ The live key could not be read: {error.message}", "red")
            return
        if live is None:
            self.say("Go live needs the live key: paste it to go on.", "yellow")
            if await self.ask_live_key() is None:
                self.say("Not promoted: no live key.", "yellow")
                return
        # A fresh look at both accounts: the Verify verdicts and live counterparts are judged on what is there now.
        self.say("Reading the plans and both accounts…", "dim")
        survey = await asyncio.to_thread(self.collect)
        self.surveyed(survey, readiness=False)
        if survey.problem:
            return
        rows = [row for row in self.rows if row.plan_id in plan_ids]
        skipped = [row for row in rows if not row.promotable]
        rows = [row for row in rows if row.promotable]
        for row in skipped:
            self.say(f"– {row.name or row.plan_id}: skipped, {row.summary}", "yellow")
        if not rows:
            self.say("Nothing to promote.", "yellow")
            return
        unproven = [row for row in rows if row.verify != "passed"]
        if unproven and not await self.ask_unverified(unproven):
            self.say("Not promoted: run Verify (step 5) first, or promote again and confirm.", "yellow")
            return
        built = None
        for _attempt in range(3):  # each round gives the prices that lack one a lookup key
            try:
                built = await asyncio.to_thread(self.build, rows)
                break
            except MissingLookupKeyError as missing:
                keyed = await self.give_lookup_keys(missing.missing, rows)
                if keyed is None:
                    return
                rows = keyed
            except PortalError as error:
                self.say(f"✗ {error.message}" + (f" {error.hint}" if error.hint else ""), "red")
                return
        if built is None:
            return
        catalog, diff, requests = built
        blocked = {
            str(item.key): ", ".join(d.text() for d in item.differences)
            for item in diff.items
            if item.kind == "price" and item.state == "differs"
        }
        replace_differing = False
        if blocked:
            replace_differing = await self.ask_replace(blocked)
            if replace_differing:
                from portal_tui.services.promotion import plan_apply

                requests = plan_apply(catalog, diff, replace=True)  # pure: the same diff, with the replacements
                blocked = {}
        if requests:
            if not await self.review(requests, rows, diff.account_id):
                self.say("Not promoted: nothing was sent to the live account.", "yellow")
                return
            names = ", ".join(row.name or row.plan_id for row in rows)
            details = (
                f"{len(requests)} request(s) to the live account for {names}, as reviewed; then the plan file "
                "links the live price IDs."
            )
            if not await portal(self).confirm_write("Promote the plans' prices to live mode", details, live=True):
                self.say("Not promoted: nothing was sent to the live account.", "yellow")
                return
        elif not blocked:
            self.say("The live account already has identical objects: nothing to create.", "green")
        try:
            result = await asyncio.to_thread(self.apply, catalog, replace_differing)
        except PortalError as error:
            self.say(f"✗ {error.message}" + (f" {error.hint}" if error.hint else ""), "red")
            self.say("What was created stays; promoting again carries on from there (nothing twice).", "yellow")
            self.survey()
            return
        self.say(f"✓ {result.writes} write(s) to the live account.", "green")
        linked = await self.link(rows, result, set(blocked))
        for lookup, why in blocked.items():  # last, so they stay in view
            self.say(f"✗ {lookup}: the live price differs ({why}): not replaced, not linked", "red")
        self.survey()
        if (result.writes or linked) and not context.livemode:
            await self.offer_switch()

    async def ask_replace(self, differing: dict[str, str]) -> bool:
        """A live price under the lookup key bills differently: replace it (new price takes the key, the old one is
        archived: subscriptions on it go on unchanged), or leave it and link nothing for it."""
        listing = "\n".join(f"• {lookup}: {why}" for lookup, why in differing.items())
        question = ConfirmModal(
            "Replace the live prices that differ?",
            f"{listing}\n\nReplacing creates the test terms as a new live price, moves the lookup key to it and "
            "archives the old one (its subscriptions keep their price). The review shows each request first. "
            "Cancel leaves them alone and links nothing for them.",
            confirm_label="Replace them",
        )
        confirmed: bool = await self.app.push_screen_wait(question)
        return confirmed

    async def ask_unverified(self, rows: list[PlanRow]) -> bool:
        listing = "\n".join(
            f"• {row.name or row.plan_id}: "
            + {"never": "never verified", "failed": "the last test run failed"}.get(
                row.verify, "verified, but the plan or its price changed since"
            )
            for row in rows
        )
        question = ConfirmModal(
            "Promote plans whose test run did not pass?",
            f"{listing}\n\nVerify (step 5) runs a test subscription and checks the invoice: without it, live "
            "customers may be billed something nobody checked.",
            confirm_label="Promote anyway",
        )
        confirmed: bool = await self.app.push_screen_wait(question)
        return confirmed

    async def give_lookup_keys(self, missing: list[tuple[str, str]], rows: list[PlanRow]) -> list[PlanRow] | None:
        """Test prices without a lookup key cannot be matched in live mode: the admin gives each one (a suggestion
        free in the account is filled in). A test-mode change: no live confirmation. None when one is refused."""
        from portal_tui.services.errors import PortalError
        from portal_tui.ui.widgets.lookup_key_modal import LookupKeyModal

        for price_id, suggestion in missing:
            users = ", ".join(r.name or r.plan_id for r in rows if r.test_price_id == price_id) or price_id
            key = await self.app.push_screen_wait(LookupKeyModal(price_id, users, suggestion))
            if key is None:
                self.say(f"Not promoted: {price_id} needs a lookup key.", "yellow")
                return None
            try:
                await asyncio.to_thread(self.set_lookup_key, price_id, key)
            except PortalError as error:
                self.say(f"✗ {price_id}: {error.message}" + (f" {error.hint}" if error.hint else ""), "red")
                return None
            self.say(f"✓ {price_id} (test) now has the lookup key {key}", "green")
            rows = [replace(r, lookup_key=key) if r.test_price_id == price_id else r for r in rows]
        if not portal(self).context.livemode:
            portal(self).catalog_changed()  # the catalog (3) shows lookup keys
        return rows

    def set_lookup_key(self, price_id: str, key: str) -> None:
        """Runs in a thread; on the test account (with the test key), so no live confirmation."""
        from portal_tui.services.errors import NotConnectedError
        from portal_tui.services.promotion import set_lookup_key

        test = portal(self).context.gateway_for_mode("test")
        if test is None:
            raise NotConnectedError()
        set_lookup_key(test, price_id, key)

    def build(self, rows: list[PlanRow]) -> tuple[Catalog, CatalogDiff, list[PlannedRequest]]:
        """Runs in a thread: the chosen plans' prices from the test account, compared with the live account."""
        from portal_tui.services.errors import NotConnectedError
        from portal_tui.services.promotion import diff_catalog, export_catalog, plan_apply

        context = portal(self).context
        test, live = context.gateway_for_mode("test"), context.gateway_for_mode("live")
        if test is None or live is None:
            raise NotConnectedError()
        price_ids = sorted({row.test_price_id for row in rows if row.test_price_id})
        self.post_message(self.Progress(f"Exporting {len(price_ids)} price(s) from the test account…"))
        catalog = export_catalog(test, price_ids=price_ids)
        self.post_message(self.Progress("Comparing with the live account…"))
        diff = diff_catalog(catalog, live)
        return catalog, diff, plan_apply(catalog, diff)

    async def review(self, requests: list[PlannedRequest], rows: list[PlanRow], account: str) -> bool:
        from portal_tui.ui.widgets.review_modal import ReviewModal

        calls = [(f"{request.method} {request.path}  · {request.item}", request.params) for request in requests]
        names = ", ".join(row.name or row.plan_id for row in rows)
        note = (
            f"Promote {names} to the live account {account}: {len(requests)} request(s), in this order, and "
            "nothing else. Nothing is deleted; IDs shown as <…> are those of objects created just before."
        )
        confirmed: bool = await self.app.push_screen_wait(ReviewModal(calls, live=True, note=note))
        return confirmed

    def apply(self, catalog: Catalog, replace_differing: bool = False) -> ApplyResult:
        """Runs in a thread: the writes, each reported as it is sent."""
        from portal_tui.services.errors import NotConnectedError
        from portal_tui.services.promotion import apply_catalog

        live = portal(self).context.gateway_for_mode("live")
        if live is None:
            raise NotConnectedError()

        def report(line: str) -> None:
            self.post_message(self.Progress(line))

        return apply_catalog(catalog, live, replace=replace_differing, on_progress=report)

    async def link(self, rows: list[PlanRow], result: ApplyResult, blocked: set[str]) -> bool:
        """Write the live IDs into the plans' live slots and the promoted items into catalog.toml; True when a plan
        was linked."""
        from portal_tui.services.errors import PortalError

        test_to_lookup = {row.test_price_id: row.lookup_key for row in rows if row.test_price_id and row.lookup_key}
        price_ids = {lookup: price for lookup, price in result.price_ids.items() if lookup not in blocked}
        try:
            changed = await asyncio.to_thread(self.write_links, test_to_lookup, price_ids)
        except PortalError as error:
            self.say(f"✗ The plan file was not updated: {error.message}", "red")
            self.say("The live prices exist: promoting again links them without creating anything.", "yellow")
            return False
        for plan_id, price_id in changed:
            self.say(f"✓ {plan_id}: live price {price_id} linked in the plan file", "green")
        if not changed:
            self.say("The plan file already links these live prices.", "green")
        portal(self).plan_file_changed()
        portal(self).catalog_changed()
        try:
            where = await asyncio.to_thread(self.merge_catalog, rows)
        except PortalError as error:
            self.say(f"✗ catalog.toml was not updated: {error.message}", "red")
            return bool(changed)
        self.say(f"✓ Catalog file updated: {where}", "dim")
        return bool(changed)

    def write_links(self, test_to_lookup: dict[str, str], price_ids: dict[str, str]) -> list[tuple[str, str]]:
        """Runs in a thread: load the plan file as it is on disk now, link, save (atomic, .bak)."""
        from portal_tui.services.promotion import link_live_prices

        store = portal(self).context.config_store
        config: PlanConfig = store.load()
        changed = link_live_prices(config, test_to_lookup, price_ids)
        if changed:
            store.save(config)
        return [(plan.id, str(plan.live_price_id)) for plan in config.plans if plan.id in changed]

    def merge_catalog(self, rows: list[PlanRow]) -> str:
        """Runs in a thread: the promoted items merged into catalog.toml beside the plan file."""
        from portal_tui.services.catalog_store import CatalogStore
        from portal_tui.services.errors import NotConnectedError
        from portal_tui.services.promotion import export_catalog

        context = portal(self).context
        test = context.gateway_for_mode("test")
        if test is None:
            raise NotConnectedError()
        # Exported again: the catalog as promoted, lookup keys set on the way included.
        catalog = export_catalog(test, price_ids=sorted({row.test_price_id for row in rows if row.test_price_id}))
        store = CatalogStore(context.config_store.path.with_name("catalog.toml"))
        store.save(store.load().merged(catalog))
        return str(store.path)

    # ---- switching the app to live mode ---------------------------------------------------------------------------

    async def offer_switch(self) -> None:
        question = ConfirmModal(
            "Switch the app to live mode?",
            "The app reconnects with the live key: the catalog (3) and plan checks (4) then show live prices, and "
            "every write asks first. Verify (5) needs test mode: switch back in Connect (1).",
            confirm_label="Switch to live",
            destructive=False,
        )
        switch: bool = await self.app.push_screen_wait(question)
        if switch:
            await self.switch_live()

    def action_switch_live(self) -> None:
        if portal(self).context.livemode:
            self.notify("The app is already in live mode.")
            return
        self.run_worker(self.switch_live(), exclusive=True, group="go-live-switch")

    async def switch_live(self) -> None:
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        try:
            found = await asyncio.to_thread(self.live_account)
        except PortalError as error:
            self.say(f"✗ Not switched: {error.message}", "red")
            return
        if found is None:
            self.say("Not switched: no live key (ctrl+k pastes it).", "yellow")
            return
        stored, account = found
        if context.stored_key is not None:
            context.remember_key(context.stored_key)  # Go live still reads the test account after the switch
        context.connect(stored, account)
        portal(self).connection_changed()
        self.say(f"✓ The app is now in LIVE mode ({account.display_name}).", "bold red")
        self.notify(f"Connected to {account.display_name} in LIVE mode: every write asks first.")

    def live_account(self) -> tuple[StoredKey, Any] | None:
        """Runs in a thread: the live key and its account, checked with Stripe; remembered as the active mode."""
        from portal_tui.services.keystore import KeySource

        context = portal(self).context
        stored = context.key_for("live")
        if stored is None:
            return None
        account = context.gateway_for(stored.key).verify()
        if stored.source in (KeySource.KEYRING, KeySource.FILE):
            context.keystore.active_mode = "live"
        return stored, account
