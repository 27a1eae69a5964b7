"""Verify in test mode (step 5): subscribe a test customer to a plan's price and check the invoice line by line."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.worker import Worker, get_current_worker

from portal_tui.domain.money import AmountError, format_money, parse_quantity
from portal_tui.domain.plans import PlanConfig, format_quota
from portal_tui.services.walkthrough import TEST_CARDS, Scenario, Step, StepStatus, WalkthroughResult
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from portal_tui.services.walkthrough import RecordOutcome

MARKS = {
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("…", "yellow"),
    StepStatus.DONE: ("✓", "green"),
    StepStatus.FAILED: ("✗", "red"),
    StepStatus.SKIPPED: ("–", "dim"),
}
# How long quitting waits for a running test to cancel and delete its test clock (requests time out at 20 s).
CLEANUP_WAIT = 60.0
TONES = {"plain": "", "warn": "yellow", "bad": "bold red", "dim": "dim"}
# How each verdict word reads (services.walkthrough.VERDICT_MEANINGS says what it means): mark and style.
VERDICT_STYLES = {
    "PASS": ("✓", "bold green"),
    "MISMATCH": ("✗", "bold red"),
    "UNEXPECTED PAYMENT": ("✗", "bold red"),
    "UNEXPECTED QUOTAS": ("✗", "bold red"),
    "INCONCLUSIVE": ("…", "bold yellow"),
    "CANCELLED": ("", "bold yellow"),
    "FAILED": ("✗", "bold red"),
}
OUT_OF_DATE = (
    "Out of date: the plan, card, quantity, clock option or account changed since this run — press ctrl+r to run again"
)


def model_note(label: str, description: str) -> str:
    """ "Tiered · graduated" + "Graduated · 1–5 $5.00 …" reads "Tiered · graduated · 1–5 $5.00 …": the model once."""
    head, _, rest = description.partition(" · ")
    if rest and head.casefold() == label.rpartition(" · ")[2].casefold():
        description = rest
    return f"{label} · {description}"


class VerifyScreen(Screen[None]):
    """Runs the walkthrough in a worker; escape cancels, and the test clock is always deleted (also on quit)."""

    class StepsChanged(Message):
        """The worker reports progress (posted, never waited on: the worker must not block on the screen)."""

        def __init__(self, steps: list[Step]) -> None:
            super().__init__()
            self.steps = steps

    class RunFinished(Message):
        def __init__(self, result: WalkthroughResult | None, refusal: str | None = None) -> None:
            super().__init__()
            self.result = result
            self.refusal = refusal

    DEFAULT_CLASSES = "dense"  # one-row fields (app CSS): at 80×24 the form leaves the result most of the screen
    DEFAULT_CSS = """
    VerifyScreen Vertical { height: auto; }
    VerifyScreen #verify-body { padding: 0 1; }
    VerifyScreen .row { height: auto; }
    VerifyScreen .row > Label { width: 18; padding: 0 1 0 0; }
    VerifyScreen .row > Select, VerifyScreen .row > Input { width: 1fr; }
    VerifyScreen #plan-info { height: auto; padding: 0 1; color: $text-muted; }
    VerifyScreen #live-refusal { display: none; }
    VerifyScreen #currency-row { display: none; }
    VerifyScreen #run-row { height: auto; margin-top: 1; }
    VerifyScreen #run-row Button { margin-right: 2; }
    VerifyScreen #verdict { text-style: bold; height: auto; margin-top: 1; }
    VerifyScreen FieldError { padding-left: 19; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "Run test"),
        Binding("escape", "cancel", "Cancel run"),
        Binding("ctrl+y", "copy_summary", "Copy summary"),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Verify: run the test subscription", "Clock, customer, subscription, invoice check", "run"),
        ("Verify: copy the summary", "Copy the last result", "copy_summary"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config = PlanConfig()
        self.result: WalkthroughResult | None = None
        self.steps: list[Step] = []
        self.worker: Worker[None] | None = None
        self.cancel_requested = False
        self.plan_info = ""
        self.run_done: threading.Event | None = None  # set by the worker thread once clean-up has finished
        self.run_inputs: tuple[Any, ...] | None = None  # what the shown result was run with
        self.offered: list[str] = []  # the currencies in the currency choice, the price's own first
        self.offered_for: str | None = None  # the price they were read from

    @property
    def running(self) -> bool:
        return self.run_done is not None and not self.run_done.is_set()

    @property
    def busy(self) -> str | None:
        """What quitting now would interrupt (for the app's quit check); the screen still cleans up on unmount."""
        return "a test run (its test clock is deleted before the app exits)" if self.running else None

    def compose(self) -> ComposeResult:
        yield TopBar("5 Verify in test mode")
        with VerticalScroll(id="verify-body"):
            yield Static(
                "Live mode has no test clocks or test cards: connect a test key (sk_test_…) to verify a plan. "
                "Test and live are separate worlds, so verify the plan's test price, then link the live one.",
                id="live-refusal",
                classes="notice-live",
            )
            yield Static(
                "Runs a real subscription in Stripe's test mode on a test clock, compares the invoice with the "
                "calculator, and deletes everything afterwards.",
                classes="muted",
            )
            with Horizontal(classes="row"):
                yield Label("Plan")
                yield Select([], prompt="Choose a plan", id="plan")
            yield Static("", id="plan-info")
            with Horizontal(classes="row"):
                yield Label("Test card")
                yield Select(
                    [(label, card) for card, (_pm, label) in TEST_CARDS.items()],
                    value="succeeds",
                    allow_blank=False,
                    id="card",
                )
            # Only for a price offered in several currencies (filled in once the plan's price has been read).
            with Horizontal(classes="row", id="currency-row"):
                yield Label("Currency")
                yield Select([("the price's own", "")], value="", allow_blank=False, id="currency")
            with Horizontal(classes="row"):
                yield Label("Quantity", id="quantity-label")
                yield Input(value="1", id="quantity", restrict=r"[0-9,_]*")
            yield FieldError(id="error-quantity")
            yield Checkbox("Advance the clock past the period end and show the finalized invoice", id="advance")
            with Horizontal(id="run-row"):
                yield Button("Run test", id="run", variant="primary")
                yield Button("Copy summary", id="copy", disabled=True)
            yield Static("", id="steps")
            yield Static("", id="verdict")
            yield Static("", id="lines")
            yield Static("", id="quotas")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load_plans()

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        self.load_plans()

    def connection_changed(self) -> None:
        self.load_plans()

    # ---- plans --------------------------------------------------------------------------------------------------

    def load_plans(self) -> None:
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        self.query_one("#live-refusal").display = context.livemode
        try:
            self.config = context.config_store.load()
        except PortalError as error:
            self.query_one("#plan-info", Static).update(f"{error.message}")
            return
        select = self.query_one("#plan", Select)
        current = select.value
        options = [
            (f"{p.name} ({p.id})" + ("" if p.test_price_id else " · no test price"), p.id) for p in self.config.plans
        ]
        select.set_options(options)
        # With no plans the prompt is the hint; with plans the blank choice is no choice at all.
        select.prompt = "Choose a plan" if options else "No plans: create them in step 4"
        ids = [p.id for p in self.config.plans]
        if current in ids:
            select.value = current
        elif ids:
            linked = [p.id for p in self.config.plans if p.test_price_id]
            select.value = (linked or ids)[0]
        self.show_plan()
        # The plan (its price or quotas) may have been edited in step 4, or another account connected.
        self.input_changed()

    def inputs(self) -> tuple[Any, ...]:
        """Everything a run depends on, to tell whether the result on screen still describes the form."""
        plan_id = str(self.query_one("#plan", Select).value)
        account = portal(self).context.account
        typed = self.query_one("#quantity", Input).value
        try:
            quantity: int | str = parse_quantity(typed)  # "1,000" and "1000" are the same run
        except AmountError:
            quantity = typed.strip()
        plan = self.config.plan(plan_id)
        return (
            account.id if account else None,
            # The plan's Verify record is the run's output, not its input: recording it leaves the result current.
            dataclasses.replace(plan, verified=None) if plan is not None else None,
            str(self.query_one("#card", Select).value),
            quantity,
            self.query_one("#advance", Checkbox).value,
            self.chosen_currency(),
        )

    def chosen_currency(self) -> str | None:
        """The currency chosen for the test customer; None (the price's own) when the price has no other."""
        if not self.query_one("#currency-row").display:
            return None
        return str(self.query_one("#currency", Select).value) or None

    @on(Select.Changed)
    @on(Input.Changed, "#quantity")
    @on(Checkbox.Changed, "#advance")
    def input_changed(self) -> None:
        if not self.running:  # a run's result is checked against the form when it arrives
            self.mark_if_stale()

    def mark_if_stale(self) -> None:
        """A result shown for other inputs is stale: say so, and stop it from being copied as if current."""
        if self.run_inputs is None or self.inputs() == self.run_inputs:
            return
        self.run_inputs = None
        self.result = None
        self.query_one("#copy", Button).disabled = True
        for part in ("#steps", "#lines", "#quotas"):
            self.query_one(part, Static).update("")
        self.query_one("#verdict", Static).update(Text(OUT_OF_DATE, style="yellow"))

    @on(Select.Changed, "#plan")
    def show_plan(self) -> None:
        plan = self.config.plan(str(self.query_one("#plan", Select).value))
        info = self.query_one("#plan-info", Static)
        if plan is None or plan.test_price_id != self.offered_for:
            self.query_one("#currency-row").display = False  # until this plan's price says what it offers
        if plan is None:
            info.update("Create plans and link their test prices in step 4 (F4).")
            return
        lines = [f"Test price: {plan.test_price_id or 'not linked (step 4)'}"]
        quotas = []
        for key, quota in plan.quotas.items():
            resource = self.config.resource(key)
            label, unit = (resource.label, resource.unit) if resource else (key, "")
            quotas.append(f"{label} {format_quota(quota, unit)}")
        lines.append("Quotas: " + (", ".join(quotas) if quotas else "none set"))
        self.plan_info = "\n".join(lines)
        info.update(self.plan_info)
        self.describe_price(plan.test_price_id)

    @work(thread=True, exclusive=True, group="verify-price")
    def describe_price(self, price_id: str | None) -> None:
        from portal_tui.domain.pricing import PriceDraft, describe_price, price_currencies
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        if not price_id or not context.connected or context.livemode:
            return
        try:
            gateway = context.gateway()
            price = gateway.retrieve_price(price_id)  # with its currency_options
            recurring = price.get("recurring") or {}
            meter_id = recurring.get("meter")
            meter = next((m for m in gateway.list_meters() if m.get("id") == meter_id), None) if meter_id else None
        except PortalError as error:
            self.app.call_from_thread(self._price_note, f"Price {price_id}: {error.message}", False)
            return
        metered = recurring.get("usage_type") == "metered"
        note = model_note(PriceDraft.from_stripe(price).model.label, describe_price(price))
        if meter_id:
            name = (meter or {}).get("display_name")
            note += f" · meter {name} ({meter_id})" if name else f" · meter {meter_id}"
        self.app.call_from_thread(self._price_note, note, metered)
        self.app.call_from_thread(self.offer_currencies, price_id, price_currencies(price))

    def _price_note(self, note: str, metered: bool) -> None:
        self.query_one("#plan-info", Static).update(f"{self.plan_info}\n{note}")
        self.query_one("#quantity-label", Label).update("Usage" if metered else "Quantity")

    def offer_currencies(self, price_id: str | None, currencies: list[str]) -> None:
        """The currency choice for the plan's price: its own currency first, shown only when there is a choice.
        A choice already made stays while the price still offers it (coming back to the screen, say)."""
        plan = self.config.plan(str(self.query_one("#plan", Select).value))
        if plan is None or plan.test_price_id != price_id:
            return  # an answer about the plan chosen before: the current plan's own is on its way
        row, select = self.query_one("#currency-row"), self.query_one("#currency", Select)
        chosen = self.chosen_currency()
        self.offered_for = price_id
        row.display = len(currencies) > 1
        if not row.display:
            return
        own = currencies[0]
        if currencies != self.offered:
            self.offered = currencies
            select.set_options([(f"{own.upper()} · the price's own", own), *((c.upper(), c) for c in currencies[1:])])
        select.value = chosen if chosen in currencies else own

    # ---- running ----------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
        if self.running:
            self.notify("A test is already running: wait for it, or press escape to cancel it.", severity="warning")
            return
        context = portal(self).context
        if context.livemode:
            self.notify("The walkthrough runs in test mode only: connect a test key.", severity="error")
            return
        if not context.connected:
            self.notify("Connect Stripe first (F1).", severity="warning")
            return
        plan = self.config.plan(str(self.query_one("#plan", Select).value))
        if plan is None or not plan.test_price_id:
            self.notify("Choose a plan with a linked test price (step 4).", severity="warning")
            return
        error = self.query_one("#error-quantity", FieldError)
        try:
            quantity = parse_quantity(self.query_one("#quantity", Input).value)
        except AmountError:
            error.show("Enter a whole number: the seats or units for licensed prices, the usage for metered ones")
            return
        error.clear()
        scenario = Scenario(
            card=str(self.query_one("#card", Select).value),  # type: ignore[arg-type]
            quantity=quantity,
            advance_clock=self.query_one("#advance", Checkbox).value,
            currency=self.chosen_currency(),
        )
        self.cancel_requested = False
        self.run_done = threading.Event()
        self.result = None  # the previous result no longer describes the form, nor may it be copied
        self.run_inputs = self.inputs()
        self.query_one("#copy", Button).disabled = True
        run = self.query_one("#run", Button)
        if self.focused is run or self.focused is None:
            # A disabled button loses focus to nowhere: the result area takes it (↑↓ pgup pgdn scroll the steps).
            self.set_focus(self.query_one("#verify-body", VerticalScroll), scroll_visible=False)
        run.disabled = True
        self.query_one("#verdict", Static).update("Running… (escape cancels and cleans up)")
        self.query_one("#lines", Static).update("")
        self.worker = self.run_walkthrough(plan.id, scenario)

    @work(thread=True, exclusive=True, group="walkthrough")
    def run_walkthrough(self, plan_id: str, scenario: Scenario) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.services.redact import redact
        from portal_tui.services.walkthrough import Walkthrough

        worker = get_current_worker()
        done = self.run_done
        try:
            context = portal(self).context
            plan = self.config.plan(plan_id)
            assert plan is not None

            def report(_step: Step) -> None:
                self.post_message(self.StepsChanged([Step(s.key, s.title, s.status, s.detail) for s in walk.steps]))

            walk = Walkthrough(
                context.gateway(),
                self.config,
                plan,
                scenario,
                on_step=report,
                is_cancelled=lambda: self.cancel_requested or worker.is_cancelled,
            )
            try:
                result = walk.run()
            except PortalError as error:
                self.post_message(self.RunFinished(None, error.message))
                return
            except Exception as exc:  # never crash the app; the walkthrough has already cleaned up
                self.post_message(self.RunFinished(None, redact(f"Unexpected error: {type(exc).__name__}: {exc}")))
                return
            self.post_message(self.RunFinished(result))
        finally:
            if done is not None:
                done.set()

    def on_verify_screen_steps_changed(self, message: StepsChanged) -> None:
        self.step_changed(message.steps)

    def on_verify_screen_run_finished(self, message: RunFinished) -> None:
        if message.result is not None:
            self.finished(message.result)
        else:
            self.refused(message.refusal or "The test could not run.")

    async def on_unmount(self) -> None:
        """Quitting mid-run: cancel the run and give it time to delete its test clock before the app exits."""
        done = self.run_done
        if done is None or done.is_set():
            return
        self.cancel_requested = True
        await asyncio.to_thread(done.wait, CLEANUP_WAIT)

    def step_changed(self, steps: list[Step]) -> None:
        self.steps = steps
        text = Text()
        for step in steps:
            mark, style = MARKS[step.status]
            text.append(f" {mark} ", style=style)
            text.append(step.title, style="bold" if step.status is StepStatus.RUNNING else "")
            if step.detail:
                text.append(f"  {step.detail}", style="dim")
            text.append("\n")
        self.query_one("#steps", Static).update(text)

    def refused(self, message: str) -> None:
        self.query_one("#run", Button).disabled = False
        self.query_one("#verdict", Static).update(Text(f"✗ {message}", style="red"))
        self.show_verdict()
        self.mark_if_stale()

    def show_verdict(self) -> None:
        """At 80×24 the verdict sits below the fold: bring it (and what follows) into view once laid out."""
        verdict = self.query_one("#verdict", Static)

        def scroll() -> None:
            verdict.scroll_visible(top=True, animate=False)

        self.call_after_refresh(scroll)
        # The lines table below the verdict grows in a later layout pass; scroll again once it has (same target).
        self.set_timer(0.15, scroll)

    def finished(self, result: WalkthroughResult) -> None:
        self.result = result
        self.step_changed(result.steps)
        self.query_one("#run", Button).disabled = False
        self.query_one("#copy", Button).disabled = False
        # The whole run in one line: billing, the card, the quotas (each ✓ when as this scenario expects).
        sign, style = VERDICT_STYLES.get(result.verdict, ("✗", "bold red"))
        verdict = f"{sign} {result.headline()}".strip()
        if result.verdict == "FAILED" and result.error is not None and result.error.hint:
            verdict += f"\n  {result.error.hint}"
        self.query_one("#verdict", Static).update(Text(verdict, style=style))
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("", "Line", "Expected", "Invoiced"):
            table.add_column(column, justify="right" if column in ("Expected", "Invoiced") else "left")
        for line in result.lines:
            mark = Text("…", style="yellow") if line.pending else Text("✓", style="green")
            table.add_row(
                mark if line.ok else Text("✗", style="red"),
                line.description,
                format_money(line.expected, line.currency),
                format_money(line.invoiced, line.currency),
            )
        breakdown = "\n".join(f"   {row.text}" for row in result.lines[0].breakdown.rows) if result.lines else ""
        recorded = self.record(result)
        lines = self.query_one("#lines", Static)
        if result.lines:
            text = Text()
            lines.update(table)
            text.append("Expected breakdown:\n" + breakdown)
            self.query_one("#quotas", Static).update(Text.assemble(text, "\n", self._outcome(result, recorded)))
        else:
            lines.update("")
            self.query_one("#quotas", Static).update(self._outcome(result, recorded))
        self.notify(
            f"Test {result.verdict.lower()}; {result.cleanup_text()}.",
            severity="error" if result.left_behind else "information",
        )
        self.show_verdict()
        # The form may have changed while the run went on: then this result is already out of date.
        self.mark_if_stale()

    def record(self, result: WalkthroughResult) -> RecordOutcome:
        """Keep the verdict as the plan's record in the plan file (on the UI thread, like the plan editor's saves,
        so the two never interleave a read and a write). The plan editor picks the record up without a conflict."""
        from portal_tui.services.walkthrough import record_result

        outcome = record_result(portal(self).context.config_store, result)
        if outcome.record is not None:
            plan = self.config.plan(result.plan.id)
            if plan is not None:
                plan.verified = outcome.record
        return outcome

    @staticmethod
    def _outcome(result: WalkthroughResult, recorded: RecordOutcome | None = None) -> Text:
        text = Text()
        for line, tone in result.outcome_lines():
            text.append(line + "\n", style=TONES[tone])
        if recorded is not None:
            text.append(recorded.text + "\n", style=TONES[recorded.tone])
        return text

    def action_cancel(self) -> None:
        if self.running:
            self.cancel_requested = True
            self.query_one("#verdict", Static).update("Cancelling after the current step; cleaning up…")
        elif isinstance(self.focused, Input):
            self.set_focus(None)  # like everywhere else: escape leaves the text field, so step keys work again

    @on(Button.Pressed, "#copy")
    def action_copy_summary(self) -> None:
        if self.result is None:
            # Never copy a summary that no longer matches the form (or none at all).
            why = "a test is running" if self.running else "no current result"
            self.notify(f"Nothing to copy: {why}. Run the test (ctrl+r) first.", severity="warning")
            return
        self.app.copy_to_clipboard(self.result.summary_text())
        self.notify("Summary copied to the clipboard.")
