"""Home: the six steps of the setup flow, each with its state and the key that opens it."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from portal_tui.ui.context import portal
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar


class StepRow(Static):
    """One step: key, title, state."""

    DEFAULT_CSS = """
    StepRow { height: auto; padding: 0 1; margin-bottom: 1; border-left: thick $panel; }
    StepRow.done { border-left: thick $success; }
    StepRow.todo { border-left: thick $warning; }
    """


class HomeScreen(Screen[None]):
    """Where the admin starts: what is done, what is next."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "app.open_step('connect')", "Connect"),
        Binding("2", "app.open_step('builder')", "Pricing"),
        Binding("3", "app.open_step('catalog')", "Price IDs"),
        Binding("4", "app.open_step('plans')", "Plans"),
        Binding("5", "app.open_step('verify')", "Verify"),
        Binding("6", "app.open_step('go_live')", "Go live"),
        # Not on the key bar: at 80 columns it would push a step key off it (the help and the palette list it).
        Binding("r", "refresh", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.price_count: int | None = None
        self.price_error: str | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Setup overview")
        with VerticalScroll():
            yield Static(
                "Set up subscription billing for your portal on Stripe. Work through the steps in order; "
                "press a number to open one.",
                classes="muted",
                id="home-intro",
            )
            for key in "123456":
                yield StepRow(id=f"step-{key}")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_steps(read_plans=False)  # the rest follows the first frame (on_screen_resume)

    def on_screen_resume(self) -> None:
        # Also when first shown (Textual resumes a mode's screen when it sets the mode up). The plan file (with the
        # TOML reader and plan model it needs) is read after the frame, and the price count (one page; prices may
        # have been created in step 2 meanwhile) and the stripe import it needs start then: no frame waits for them.
        self.query_one(TopBar).refresh_state()
        self.call_after_refresh(self.refresh_steps)
        self.call_after_refresh(self.count_prices)

    def connection_changed(self) -> None:
        self.price_count = None
        self.refresh_steps()
        self.count_prices()

    def action_refresh(self) -> None:
        self.connection_changed()

    @work(thread=True, exclusive=True, group="home-count")
    def count_prices(self) -> None:
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        if not context.connected:
            self.app.call_from_thread(self._count_done, None, None)
            return
        gateway = context.gateway()
        # One page is enough for an overview: "100+" rather than reading a large catalog twice.
        try:
            first = next(iter(gateway.iter_catalog_pages()), [])
            total = len(first)
        except PortalError as error:
            self.app.call_from_thread(self._count_done, None, error.message, gateway)
            return
        self.app.call_from_thread(self._count_done, total, None, gateway)

    def _count_done(self, total: int | None, error: str | None, gateway: object = None) -> None:
        context = portal(self).context
        if gateway is not None and (not context.connected or context.gateway() is not gateway):
            return  # counted with a key that is no longer the connected one
        self.price_count, self.price_error = total, error
        self.refresh_steps()

    def refresh_steps(self, *, read_plans: bool = True) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.ui.steps import STEPS

        context = portal(self).context
        mode: Literal["test", "live"] = "live" if context.livemode else "test"
        plans = linked = live_linked = 0
        config_note: str | None = "…"  # until the plan file is read
        if read_plans:
            try:
                config = context.config_store.load()
                plans, linked = len(config.plans), config.linked_count(mode)
                live_linked = config.linked_count("live")
                config_note = None
            except PortalError as error:
                config_note = error.message
        states: dict[str, tuple[bool, str]] = {}
        if context.connected:
            who = context.account.display_name if context.account else context.stored_key.key.masked  # type: ignore[union-attr]
            states["connect"] = (True, f"connected to {who}, {mode} mode")
        else:
            states["connect"] = (False, "not connected: paste your secret key")
        if self.price_error:
            catalog = (False, f"could not read the catalog: {self.price_error}")
        elif self.price_count is None:
            catalog = (False, "…" if context.connected else "connect first")
        else:
            count = f"{self.price_count:,}+" if self.price_count >= 100 else f"{self.price_count:,}"
            catalog = (self.price_count > 0, f"{count} active price{'s' if self.price_count != 1 else ''}")
        states["builder"] = catalog
        states["catalog"] = (catalog[0], catalog[1] + (", pick one and press c to copy" if catalog[0] else ""))
        if config_note:
            states["plans"] = (False, config_note)
        elif plans == 0:
            states["plans"] = (False, "no plans yet")
        else:
            states["plans"] = (linked == plans, f"{linked} of {plans} plans linked to a {mode} price")
        if context.livemode:
            states["verify"] = (False, "needs a test key (sk_test_…)")
        elif not read_plans:
            states["verify"] = (False, "…")
        else:
            states["verify"] = (
                False,
                "run a test subscription for a plan" if linked else "link a plan's test price first",
            )
        if config_note:
            states["go_live"] = (False, config_note)
        elif plans == 0:
            states["go_live"] = (False, "create plans and verify them in test mode first")
        else:
            states["go_live"] = (
                live_linked == plans,
                f"{live_linked} of {plans} plans linked to a live price",
            )
        for key, mode_name, title, what in STEPS:
            done, state = states[mode_name]
            text = Text()
            text.append(f"[{key}] ", style="bold")
            text.append(title, style="bold")
            text.append("  ✓" if done else "", style="green")
            text.append(f"\n    {state}\n", style="")
            text.append(f"    {what}", style="dim")
            row = self.query_one(f"#step-{key}", StepRow)
            row.update(text)
            row.set_class(done, "done")
            row.set_class(not done, "todo")
