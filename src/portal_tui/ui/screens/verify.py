"""Verify in test mode (step 5): subscribe a test customer to a plan's price and check the invoice line by line."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from portal_tui.domain.money import format_money
from portal_tui.domain.plans import PlanConfig, format_quota
from portal_tui.services.walkthrough import TEST_CARDS, Scenario, Step, StepStatus, WalkthroughResult
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar

MARKS = {
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("…", "yellow"),
    StepStatus.DONE: ("✓", "green"),
    StepStatus.FAILED: ("✗", "red"),
    StepStatus.SKIPPED: ("–", "dim"),
}


class VerifyScreen(Screen[None]):
    """Runs the walkthrough in a worker; escape cancels, and the test clock is always deleted."""

    DEFAULT_CSS = """
    VerifyScreen Vertical { height: auto; }
    VerifyScreen #verify-body { padding: 0 1; }
    VerifyScreen .row { height: auto; }
    VerifyScreen .row > Label { width: 18; padding: 1 1 0 0; }
    VerifyScreen .row > Select, VerifyScreen .row > Input { width: 1fr; }
    VerifyScreen #plan-info { height: auto; padding: 0 1; color: $text-muted; }
    VerifyScreen #live-refusal { display: none; }
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
                yield Select([], prompt="No plans: create them in step 4", id="plan")
            yield Static("", id="plan-info")
            with Horizontal(classes="row"):
                yield Label("Test card")
                yield Select(
                    [(label, card) for card, (_pm, label) in TEST_CARDS.items()],
                    value="succeeds",
                    allow_blank=False,
                    id="card",
                )
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
        ids = [p.id for p in self.config.plans]
        if current in ids:
            select.value = current
        elif ids:
            linked = [p.id for p in self.config.plans if p.test_price_id]
            select.value = (linked or ids)[0]
        self.show_plan()

    @on(Select.Changed, "#plan")
    def show_plan(self) -> None:
        plan = self.config.plan(str(self.query_one("#plan", Select).value))
        info = self.query_one("#plan-info", Static)
        if plan is None:
            info.update("Create plans and link their test prices in step 4 (F4).")
            return
        lines = [f"Test price: {plan.test_price_id or 'not linked (step 4)'}"]
        quotas = []
        for key, quota in plan.quotas.items():
            resource = self.config.resource(key)
            unit = f" {resource.unit}" if resource and resource.unit and quota != "unlimited" else ""
            quotas.append(f"{resource.label if resource else key} {format_quota(quota)}{unit}")
        lines.append("Quotas: " + (", ".join(quotas) if quotas else "none set"))
        self.plan_info = "\n".join(lines)
        info.update(self.plan_info)
        self.describe_price(plan.test_price_id)

    @work(thread=True, exclusive=True, group="verify-price")
    def describe_price(self, price_id: str | None) -> None:
        from portal_tui.domain.pricing import describe_price
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        if not price_id or not context.connected or context.livemode:
            return
        try:
            price = context.gateway().retrieve_price(price_id)
        except PortalError as error:
            self.app.call_from_thread(self._price_note, f"Price {price_id}: {error.message}", False)
            return
        metered = (price.get("recurring") or {}).get("usage_type") == "metered"
        meter = (price.get("recurring") or {}).get("meter")
        note = f"{describe_price(price)}" + (f" · meter {meter}" if meter else "")
        self.app.call_from_thread(self._price_note, note, metered)

    def _price_note(self, note: str, metered: bool) -> None:
        self.query_one("#plan-info", Static).update(f"{self.plan_info}\n{note}")
        self.query_one("#quantity-label", Label).update("Usage" if metered else "Quantity")

    # ---- running ----------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
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
        raw = self.query_one("#quantity", Input).value.replace(",", "").replace("_", "")
        error = self.query_one("#error-quantity", FieldError)
        if not raw.isdigit():
            error.show("Enter a whole number: the seats or units for licensed prices, the usage for metered ones")
            return
        error.clear()
        scenario = Scenario(
            card=str(self.query_one("#card", Select).value),  # type: ignore[arg-type]
            quantity=int(raw),
            advance_clock=self.query_one("#advance", Checkbox).value,
        )
        self.cancel_requested = False
        self.query_one("#run", Button).disabled = True
        self.query_one("#verdict", Static).update("Running… (escape cancels and cleans up)")
        self.query_one("#lines", Static).update("")
        self.worker = self.run_walkthrough(plan.id, scenario)

    @work(thread=True, exclusive=True, group="walkthrough")
    def run_walkthrough(self, plan_id: str, scenario: Scenario) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.services.walkthrough import Walkthrough

        worker = get_current_worker()
        context = portal(self).context
        plan = self.config.plan(plan_id)
        assert plan is not None
        walk = Walkthrough(
            context.gateway(),
            self.config,
            plan,
            scenario,
            on_step=lambda step: self.app.call_from_thread(self.step_changed, walk.steps),
            is_cancelled=lambda: self.cancel_requested or worker.is_cancelled,
        )
        try:
            result = walk.run()
        except PortalError as error:
            self.app.call_from_thread(self.refused, error.message)
            return
        self.app.call_from_thread(self.finished, result)

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

    def finished(self, result: WalkthroughResult) -> None:
        self.result = result
        self.step_changed(result.steps)
        self.query_one("#run", Button).disabled = False
        self.query_one("#copy", Button).disabled = False
        verdict = {
            "PASS": ("✓ PASS: Stripe invoices what the calculator expects", "bold green"),
            "MISMATCH": ("✗ MISMATCH: Stripe's invoice differs from the expected amount", "bold red"),
            "FAILED": (f"✗ FAILED: {result.error.message if result.error else ''}", "bold red"),
            "CANCELLED": ("Cancelled", "bold yellow"),
        }[result.verdict]
        self.query_one("#verdict", Static).update(Text(verdict[0], style=verdict[1]))
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("", "Line", "Expected", "Invoiced"):
            table.add_column(column, justify="right" if column in ("Expected", "Invoiced") else "left")
        for line in result.lines:
            table.add_row(
                Text("✓", style="green") if line.ok else Text("✗", style="red"),
                line.description,
                format_money(line.expected, line.currency),
                format_money(line.invoiced, line.currency),
            )
        breakdown = "\n".join(f"   {row.text}" for row in result.lines[0].breakdown.rows) if result.lines else ""
        lines = self.query_one("#lines", Static)
        if result.lines:
            text = Text()
            lines.update(table)
            text.append("Expected breakdown:\n" + breakdown)
            self.query_one("#quotas", Static).update(Text.assemble(text, "\n", self._outcome(result)))
        else:
            lines.update("")
            self.query_one("#quotas", Static).update(self._outcome(result))
        self.notify(f"Test {result.verdict.lower()}; {', '.join(result.removed) or 'nothing left behind'}.")

    def _outcome(self, result: WalkthroughResult) -> Text:
        text = Text()
        if result.subscription_status:
            text.append(f"Subscription status: {result.subscription_status}\n")
        if result.invoice_status:
            text.append(f"Finalized invoice: {result.invoice_status}")
            text.append(f" ({result.payment_note})\n" if result.payment_note else "\n")
        if result.quotas:
            text.append("Quotas the portal grants: " + ", ".join(f"{k} {v}" for k, v in result.quotas) + "\n")
        if result.removed:
            text.append("Cleaned up: " + ", ".join(result.removed) + "\n", style="dim")
        return text

    def action_cancel(self) -> None:
        worker = self.worker
        if worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            self.cancel_requested = True
            self.query_one("#verdict", Static).update("Cancelling after the current step; cleaning up…")

    @on(Button.Pressed, "#copy")
    def action_copy_summary(self) -> None:
        if self.result is None:
            return
        self.app.copy_to_clipboard(self.result.summary_text())
        self.notify("Summary copied to the clipboard.")
