"""Plans & quotas (step 4): link each portal plan to its Stripe prices (test and live) and set resource quotas."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, ListItem, ListView, Static

from portal_tui.domain.plans import Plan, PlanConfig, Resource, format_quota, parse_quota
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.confirm import ConfirmModal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar

Slot = Literal["test", "live"]
PRICE_ID = re.compile(r"^price_[A-Za-z0-9]+$")


def _safe(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", key)


class PlansScreen(Screen[None]):
    """Edits the plan file in memory; ctrl+s writes it atomically. Nothing typed is lost on a bad value."""

    DEFAULT_CSS = """
    PlansScreen Vertical { height: auto; }
    PlansScreen #plans-header { height: auto; padding: 0 1; }
    PlansScreen #plans-body { height: 1fr; }
    PlansScreen #plan-list-box { width: 30; height: 1fr; border-right: vkey $panel; }
    PlansScreen #plan-list { height: 1fr; }
    PlansScreen #plan-buttons { height: auto; }
    PlansScreen #plan-buttons Button { min-width: 8; margin: 0 1 0 0; }
    PlansScreen #plan-form { padding: 0 1; }
    PlansScreen .row { height: auto; }
    PlansScreen .row Label { width: 22; padding: 1 1 0 0; }
    PlansScreen .row Input { width: 1fr; }
    PlansScreen .row Button { width: auto; min-width: 8; }
    PlansScreen .unit { width: 14; padding: 1 0 0 1; color: $text-muted; }
    PlansScreen .price-state { padding: 0 1 0 23; color: $text-muted; height: auto; }
    PlansScreen .price-state.ok { color: $success; }
    PlansScreen .price-state.bad { color: $error; }
    PlansScreen #offer { display: none; height: auto; }
    PlansScreen #offer.visible { display: block; }
    PlansScreen #offer Horizontal { height: auto; }
    PlansScreen #broken { display: none; padding: 1 2; height: auto; }
    PlansScreen #broken.visible { display: block; }
    PlansScreen #empty-form { padding: 1 2; }
    PlansScreen FieldError { padding-left: 23; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+n", "new_plan", "New plan"),
        Binding("ctrl+o", "pick('test')", "Pick test price"),
        Binding("ctrl+l", "pick('live')", "Pick live price", show=False),
        Binding("ctrl+u", "focus_new_resource", "Add resource", show=False),
        Binding("ctrl+r", "reload", "Reload file", show=False),
        Binding("t", "use_offer('test')", "Link as test price", show=False),
        Binding("v", "use_offer('live')", "Link as live price", show=False),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Plans: save the plan file", "Write the TOML atomically", "save"),
        ("Plans: new plan", "Add a plan", "new_plan"),
        ("Plans: delete the selected plan", "Asks first", "delete_plan"),
        ("Plans: reload the plan file from disk", "Discard unsaved changes", "reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config = PlanConfig()
        self.saved: dict[str, Any] = self.config.to_toml_dict()
        self.selected: int | None = None
        self.broken = False
        self.offered_price: str | None = None
        self.errors: dict[str, str] = {}
        self.price_checks: dict[tuple[str, Slot], tuple[bool, str]] = {}
        self._filling = False

    # ---- layout ------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar("4 Plans & quotas")
        yield Static("", id="plans-header", markup=False)
        with Vertical(id="offer", classes="notice"):
            yield Static("", id="offer-text", markup=False)
            with Horizontal():
                yield Button("Use as test price", id="offer-test", variant="primary")
                yield Button("Use as live price", id="offer-live")
                yield Button("Dismiss", id="offer-dismiss")
        yield Static("", id="broken", classes="notice-live", markup=False)
        with Horizontal(id="plans-body"):
            with Vertical(id="plan-list-box"):
                yield ListView(id="plan-list")
                with Horizontal(id="plan-buttons"):
                    yield Button("New", id="new-plan")
                    yield Button("Delete", id="delete-plan", variant="error")
            with VerticalScroll(id="plan-form"):
                yield Static("No plan selected. Press ctrl+n to create one.", id="empty-form")
                with Vertical(id="plan-fields"):
                    with Horizontal(classes="row"):
                        yield Label("Plan name")
                        yield Input(id="plan-name")
                    yield FieldError(id="error-name")
                    yield Static("", id="plan-id", classes="price-state")
                    for slot in ("test", "live"):
                        with Horizontal(classes="row"):
                            yield Label(f"{slot.capitalize()} price ID")
                            yield Input(placeholder="price_…", id=f"price-{slot}")
                            yield Button("Pick…", id=f"pick-{slot}")
                        yield FieldError(id=f"error-price-{slot}")
                        yield Static("", id=f"state-price-{slot}", classes="price-state")
                    yield Label("Quotas (a number or 'unlimited'; empty = not offered)", classes="step-title")
                    yield Vertical(id="quota-rows")
                    yield Label("Add a resource", classes="step-title")
                    with Horizontal(classes="row"):
                        yield Input(placeholder="key, e.g. gpu_hours", id="new-resource-key")
                        yield Input(placeholder="label, e.g. GPU", id="new-resource-label")
                        yield Input(placeholder="unit, e.g. hours", id="new-resource-unit")
                        yield Button("Add", id="add-resource")
                    yield FieldError(id="error-new-resource")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load_file()

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()

    def connection_changed(self) -> None:
        self.price_checks.clear()
        self.fill_form()

    # ---- file ----------------------------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return not self.broken and self.config.to_toml_dict() != self.saved

    @property
    def unsaved(self) -> bool:
        return self.dirty

    def load_file(self) -> None:
        from portal_tui.services.errors import ConfigFileError

        store = portal(self).context.config_store
        broken = self.query_one("#broken", Static)
        try:
            self.config = store.load()
        except ConfigFileError as error:
            self.broken = True
            where = f" (line {error.line})" if error.line else ""
            broken.update(f"{error.message}{where}\n{error.hint or ''}\nFix the file, then press ctrl+r to reload.")
            broken.add_class("visible")
            self.query_one("#plans-body").display = False
            self.update_header()
            return
        self.broken = False
        broken.remove_class("visible")
        self.query_one("#plans-body").display = True
        self.saved = self.config.to_toml_dict()
        self.errors.clear()
        self.selected = 0 if self.config.plans else None
        self.rebuild_list()
        self.rebuild_quota_rows()
        self.fill_form()
        self.call_after_refresh(self.fill_form)  # the quota rows are mounted by then

    def action_reload(self) -> None:
        if self.dirty:
            self.app.push_screen(
                ConfirmModal("Reload and discard your changes?", confirm_label="Discard"),
                lambda ok: self.load_file() if ok else None,
            )
        else:
            self.load_file()

    def update_header(self) -> None:
        store = portal(self).context.config_store
        marker = "  ● modified (ctrl+s saves)" if self.dirty else ("" if store.exists() else "  (new file)")
        self.query_one("#plans-header", Static).update(f"Plan file: {store.path}{marker}")

    def action_save(self) -> None:
        from portal_tui.services.errors import PortalError

        if self.broken:
            self.notify("The plan file is broken: fix it and reload first.", severity="error")
            return
        problems = dict(self.errors)
        for error in self.config.validate():
            problems.setdefault(error.field, error.message)
        if problems:
            first = next(iter(problems.values()))
            self.notify(
                f"Not saved: {len(problems)} problem(s). {first}", title="Fix the highlighted fields", severity="error"
            )
            return
        store = portal(self).context.config_store
        try:
            store.save(self.config)
        except PortalError as error:
            self.notify(f"{error.message} {error.hint or ''}", title=error.title, severity="error", timeout=10)
            return
        self.saved = self.config.to_toml_dict()
        self.update_header()
        self.notify(f"Saved {len(self.config.plans)} plan(s) to {store.path}", title="Plans saved")

    # ---- plan list ----------------------------------------------------------------------------------------------

    def rebuild_list(self) -> None:
        view = self.query_one("#plan-list", ListView)
        view.clear()
        mode: Slot = "live" if portal(self).context.livemode else "test"
        for plan in self.config.plans:
            mark = "✓" if plan.price_id(mode) else "·"
            view.append(ListItem(Label(f"{mark} {plan.name or plan.id}", markup=False)))
        if self.selected is not None and self.config.plans:
            view.index = min(self.selected, len(self.config.plans) - 1)
        self.update_header()

    @on(ListView.Highlighted, "#plan-list")
    def plan_highlighted(self, event: ListView.Highlighted) -> None:
        index = event.list_view.index
        if index is not None and index != self.selected and 0 <= index < len(self.config.plans):
            self.selected = index
            self.fill_form()

    @property
    def plan(self) -> Plan | None:
        if self.selected is None or not 0 <= self.selected < len(self.config.plans):
            return None
        return self.config.plans[self.selected]

    @on(Button.Pressed, "#new-plan")
    def action_new_plan(self) -> None:
        if self.broken:
            return
        name = "New plan"
        plan = Plan(self.config.unique_plan_id(name), name)
        self.config.plans.append(plan)
        self.selected = len(self.config.plans) - 1
        self.rebuild_list()
        self.fill_form()
        self.query_one("#plan-name", Input).focus()

    @on(Button.Pressed, "#delete-plan")
    def action_delete_plan(self) -> None:
        plan = self.plan
        if plan is None:
            return

        def done(ok: bool | None) -> None:
            if ok and plan in self.config.plans:
                self.config.plans.remove(plan)
                self.selected = min(self.selected or 0, len(self.config.plans) - 1) if self.config.plans else None
                self.rebuild_list()
                self.fill_form()
                self.notify(f"Deleted plan '{plan.name}' (not saved yet: ctrl+s).")

        self.app.push_screen(
            ConfirmModal(
                f"Delete plan '{plan.name}'?",
                "Its price links and quotas go with it once you save.",
                confirm_label="Delete",
            ),
            done,
        )

    # ---- the form --------------------------------------------------------------------------------------------------

    def rebuild_quota_rows(self) -> None:
        rows = self.query_one("#quota-rows", Vertical)
        rows.remove_children()
        for resource in self.config.resources:
            rows.mount(self._quota_row(resource))
            rows.mount(FieldError(id=f"error-quota-{_safe(resource.key)}"))

    def _quota_row(self, resource: Resource) -> Horizontal:
        return Horizontal(
            Label(resource.label),
            Input(placeholder="—", id=f"quota-{_safe(resource.key)}"),
            Static(resource.unit, classes="unit"),
            classes="row",
        )

    def fill_form(self) -> None:
        plan = self.plan
        self.query_one("#empty-form").display = plan is None
        self.query_one("#plan-fields").display = plan is not None
        self.update_header()
        if plan is None:
            return
        self._filling = True
        try:
            self.query_one("#plan-name", Input).value = plan.name
            self.query_one("#plan-id", Static).update(f"Plan ID (used by the portal): {plan.id}")
            for slot in ("test", "live"):
                self.query_one(f"#price-{slot}", Input).value = plan.price_id(slot) or ""
            for resource in self.config.resources:
                field = self.query(f"#quota-{_safe(resource.key)}")
                if field:
                    field.first(Input).value = format_quota(plan.quotas.get(resource.key))
        finally:
            self._filling = False
        for key in list(self.errors):
            self.errors.pop(key)
        for error in self.query(FieldError):
            if error.id != "error-new-resource":
                error.clear()
        for slot in ("test", "live"):
            self.show_price_state(slot)  # type: ignore[arg-type]
            self.check_price(slot)  # type: ignore[arg-type]

    def changed(self) -> None:
        self.rebuild_list_labels()
        self.update_header()

    def rebuild_list_labels(self) -> None:
        view = self.query_one("#plan-list", ListView)
        mode: Slot = "live" if portal(self).context.livemode else "test"
        for item, plan in zip(view.children, self.config.plans, strict=False):
            label = item.query(Label)
            if label:
                mark = "✓" if plan.price_id(mode) else "·"
                label.first(Label).update(f"{mark} {plan.name or plan.id}")

    @on(Input.Changed, "#plan-name")
    def name_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None or self._filling:
            return
        error = self.query_one("#error-name", FieldError)
        if not event.value.strip():
            self.errors[f"plans[{self.selected}].name"] = "Give the plan a name"
            error.show("Give the plan a name")
        else:
            self.errors.pop(f"plans[{self.selected}].name", None)
            error.clear()
        plan.name = event.value
        self.changed()

    @on(Input.Changed, "#price-test")
    @on(Input.Changed, "#price-live")
    def price_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None or self._filling or event.input.id is None:
            return
        slot: Slot = "test" if event.input.id.endswith("test") else "live"
        value = event.value.strip()
        key = f"plans[{self.selected}].{slot}_price_id"
        error = self.query_one(f"#error-price-{slot}", FieldError)
        if value and not PRICE_ID.match(value):
            message = f"'{value}' is not a price ID: they start with price_ (a prod_ ID is the product)"
            self.errors[key] = message
            error.show(message)
        else:
            self.errors.pop(key, None)
            error.clear()
            setattr(plan, f"{slot}_price_id", value or None)
            self.check_price(slot)
        self.changed()

    def show_price_state(self, slot: Slot, text: str | None = None, ok: bool | None = None) -> None:
        state = self.query_one(f"#state-price-{slot}", Static)
        state.set_class(ok is True, "ok")
        state.set_class(ok is False, "bad")
        state.update(text or "")

    def check_price(self, slot: Slot) -> None:
        plan = self.plan
        if plan is None:
            return
        price_id = plan.price_id(slot)
        context = portal(self).context
        if not price_id:
            self.show_price_state(slot, "not linked")
            return
        if not context.connected:
            self.show_price_state(slot, "connect Stripe to check this price")
            return
        key_mode: Slot = "live" if context.livemode else "test"
        if key_mode != slot:
            self.show_price_state(slot, f"connect a {slot} key to check this price")
            return
        cached = self.price_checks.get((price_id, slot))
        if cached is not None:
            self.show_price_state(slot, cached[1], cached[0])
            return
        self.show_price_state(slot, "checking…")
        self.fetch_price(price_id, slot)

    @work(thread=True, group="price-check")
    def fetch_price(self, price_id: str, slot: Slot) -> None:
        from portal_tui.domain.pricing import describe_price
        from portal_tui.services.errors import NotFoundError, PortalError
        from portal_tui.services.plan_check import price_problems

        context = portal(self).context
        try:
            price = context.gateway().retrieve_price(price_id)
        except NotFoundError:
            result = (False, f"✗ {price_id} does not exist in {slot} mode")
        except PortalError as error:
            self.app.call_from_thread(self.show_price_state, slot, f"could not check: {error.message}", None)
            return
        else:
            problems = price_problems(price, slot)
            product = price.get("product")
            name = product.get("name") if isinstance(product, dict) else product
            result = (False, "✗ " + "; ".join(problems)) if problems else (True, f"✓ {name} · {describe_price(price)}")
        self.price_checks[(price_id, slot)] = result
        self.app.call_from_thread(self._price_checked, price_id, slot, result)

    def _price_checked(self, price_id: str, slot: Slot, result: tuple[bool, str]) -> None:
        plan = self.plan
        if plan is not None and plan.price_id(slot) == price_id:
            self.show_price_state(slot, result[1], result[0])

    @on(Input.Changed, "#quota-rows Input")
    def quota_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None or self._filling or event.input.id is None:
            return
        safe = event.input.id.removeprefix("quota-")
        resource = next((r for r in self.config.resources if _safe(r.key) == safe), None)
        if resource is None:
            return
        key = f"plans[{self.selected}].quotas.{resource.key}"
        error = self.query_one(f"#error-quota-{safe}", FieldError)
        if not event.value.strip():
            plan.quotas.pop(resource.key, None)
            self.errors.pop(key, None)
            error.clear()
        else:
            try:
                plan.quotas[resource.key] = parse_quota(event.value)
            except ValueError as exc:
                self.errors[key] = str(exc)
                error.show(str(exc))
            else:
                self.errors.pop(key, None)
                error.clear()
        self.changed()

    def action_focus_new_resource(self) -> None:
        self.query_one("#new-resource-key", Input).focus()

    @on(Button.Pressed, "#add-resource")
    @on(Input.Submitted, "#new-resource-unit")
    def add_resource(self) -> None:
        key = self.query_one("#new-resource-key", Input).value.strip()
        label = self.query_one("#new-resource-label", Input).value.strip() or key
        unit = self.query_one("#new-resource-unit", Input).value.strip()
        error = self.query_one("#error-new-resource", FieldError)
        if not re.match(r"^[a-z][a-z0-9_]*$", key):
            error.show("Resource keys use lower-case letters, digits and _ (e.g. gpu_hours)")
            return
        if self.config.resource(key) is not None:
            error.show(f"'{key}' already exists")
            return
        error.clear()
        resource = Resource(key, label, unit)
        self.config.resources.append(resource)
        rows = self.query_one("#quota-rows", Vertical)
        rows.mount(self._quota_row(resource))
        rows.mount(FieldError(id=f"error-quota-{_safe(key)}"))
        for name in ("key", "label", "unit"):
            self.query_one(f"#new-resource-{name}", Input).value = ""
        self.changed()
        self.notify(f"Added resource '{label}' to every plan's quotas.")

    # ---- picking and offered prices ------------------------------------------------------------------------------

    @on(Button.Pressed, "#pick-test")
    def pick_test(self) -> None:
        self.action_pick("test")

    @on(Button.Pressed, "#pick-live")
    def pick_live(self) -> None:
        self.action_pick("live")

    def action_pick(self, slot: Slot) -> None:
        from portal_tui.ui.screens.price_picker import PricePickerModal

        if self.plan is None:
            return
        context = portal(self).context
        if not context.connected:
            self.notify("Connect Stripe first, or paste the price ID.", severity="warning")
            return
        key_mode = "live" if context.livemode else "test"
        if key_mode != slot:
            self.notify(
                f"The connected key is in {key_mode} mode: the picker shows {key_mode} prices only. "
                f"Paste the {slot} price ID instead.",
                severity="warning",
            )
            return

        def picked(price_id: str | None) -> None:
            if price_id:
                self.set_price(slot, price_id)

        self.app.push_screen(PricePickerModal(f"Pick the {slot} price for '{self.plan.name}'"), picked)

    def set_price(self, slot: Slot, price_id: str) -> None:
        self.query_one(f"#price-{slot}", Input).value = price_id  # fires price_changed

    def offer_price(self, price_id: str) -> None:
        """Called from the catalog's "Link to plan…": the admin picks a plan, then a slot."""
        self.offered_price = price_id
        self.query_one("#offer-text", Static).update(
            f"Link {price_id} to a plan: choose the plan on the left (↑ ↓), then press t for its test price or "
            "v for its live price (or the buttons below)."
        )
        self.query_one("#offer").add_class("visible")
        if not self.config.plans:
            self.action_new_plan()
        self.query_one("#plan-list", ListView).focus()

    @on(Button.Pressed, "#offer-test")
    def offer_test(self) -> None:
        self._use_offer("test")

    @on(Button.Pressed, "#offer-live")
    def offer_live(self) -> None:
        self._use_offer("live")

    def action_use_offer(self, slot: Slot) -> None:
        if self.offered_price:
            self._use_offer(slot)

    def _use_offer(self, slot: Slot) -> None:
        if self.offered_price and self.plan is not None:
            self.set_price(slot, self.offered_price)
            self.notify(f"{self.offered_price} linked to '{self.plan.name}' ({slot}). Press ctrl+s to save.")
            self.offered_price = None
            self.query_one("#offer").remove_class("visible")

    @on(Button.Pressed, "#offer-dismiss")
    def offer_dismiss(self) -> None:
        self.offered_price = None
        self.query_one("#offer").remove_class("visible")
