"""Plans & quotas (step 4): link each portal plan to its Stripe prices (test and live) and set resource quotas."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, ListItem, ListView, Static
from textual.widgets.input import Selection

from portal_tui.domain.plans import (
    PLAN_ID,
    Plan,
    PlanConfig,
    Quota,
    Resource,
    format_quota,
    parse_quota,
    slugify,
    unit_label,
)
from portal_tui.services.redact import redact
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.confirm import ConfirmModal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar

Slot = Literal["test", "live"]
PRICE_ID = re.compile(r"^price_[A-Za-z0-9]+$")
SLOTS: tuple[Slot, Slot] = ("test", "live")
# A price check result: True fine, False a problem (shown as ✗), None unknown (not checkable right now).
Check = tuple[bool | None, str]
# A lookup: its check, the price's currency (when found) and the active price that replaced it (when archived).
Lookup = tuple[Check, str | None, str | None]
SECRET_KEY_PASTED = "That was a secret API key — removed from this field; price IDs start with price_"


def _safe(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", key)


def _without_records(data: dict[str, Any]) -> dict[str, Any]:
    """A plan file's TOML dict without the plans' Verify records (what the admin edits here)."""
    plans = [{k: v for k, v in plan.items() if k != "verified"} for plan in data.get("plans", [])]
    return {**data, "plans": plans}


class PlansScreen(Screen[None]):
    """Edits the plan file in memory; ctrl+s writes it atomically. Nothing typed is lost on a bad value."""

    DEFAULT_CLASSES = "dense"  # one-row fields (app CSS): at 80×24 name, ID, both prices and the quotas fit
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
    PlansScreen .row Label { width: 22; padding: 0 1 0 0; }
    PlansScreen .row Input { width: 1fr; }
    PlansScreen .row Button { width: auto; min-width: 8; }
    PlansScreen .unit { width: 14; padding: 0 0 0 1; color: $text-muted; }
    PlansScreen .price-state { padding: 0 1 0 23; color: $text-muted; height: auto; }
    PlansScreen .price-state.ok { color: $success; }
    PlansScreen .price-state.bad { color: $error; }
    PlansScreen #offer { display: none; height: auto; }
    PlansScreen #offer.visible { display: block; }
    PlansScreen #offer Horizontal { height: auto; }
    PlansScreen #broken { display: none; padding: 1 2; height: auto; }
    PlansScreen #broken.visible { display: block; }
    PlansScreen #currency-warning { display: none; }
    PlansScreen #currency-warning.visible { display: block; }
    PlansScreen #empty-form { padding: 1 2; }
    PlansScreen FieldError { padding-left: 23; }
    /* At 80 columns the list and the labels leave the price-ID field room for a whole ID and the Pick button. */
    PlansScreen.narrow #plan-list-box { width: 20; }
    PlansScreen.narrow .row Label { width: 14; }
    PlansScreen.narrow .price-state { padding-left: 15; }
    PlansScreen.narrow FieldError { padding-left: 15; }
    PlansScreen.narrow .unit { width: 11; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+n", "new_plan", "New plan"),
        Binding("ctrl+o", "pick('test')", "Pick test price"),
        Binding("ctrl+l", "pick('live')", "Pick live price", show=False),
        # ctrl+d deletes a character in a text field, so the plan key must win over the field (it asks first).
        Binding("ctrl+d", "delete_plan", "Delete plan", show=False, priority=True),
        # ctrl+u is the text field's "delete to start of line"; ctrl+g is free in fields.
        Binding("ctrl+g", "focus_new_resource", "Add resource", show=False),
        Binding("ctrl+r", "reload", "Reload file", show=False),
        Binding("ctrl+y", "link_replacement", "Link the replacement price", show=False),
        Binding("t", "use_offer('test')", "Link as test price", show=False),
        Binding("v", "use_offer('live')", "Link as live price", show=False),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Plans: save the plan file", "Write the TOML atomically", "save"),
        ("Plans: new plan", "Add a plan", "new_plan"),
        ("Plans: delete the selected plan", "Asks first", "delete_plan"),
        ("Plans: reload the plan file from disk", "Discard unsaved changes", "reload"),
    ]

    # Typing a price ID fires one lookup once the admin pauses, not one per keystroke (enter looks it up at once).
    lookup_delay: ClassVar[float] = 0.3

    def __init__(self) -> None:
        super().__init__()
        self.config = PlanConfig()
        self.saved: dict[str, Any] = self.config.to_toml_dict()
        self.selected: int | None = None
        self.broken = False
        self.offered_price: str | None = None
        self.offered_slot: Slot = "test"
        # Per plan (by identity), the fields holding text that is not a valid value: widget id -> (text, message).
        # Kept across plan switches, so a bad value is neither lost nor silently dropped on save.
        self.bad: dict[int, dict[str, tuple[str, str]]] = {}
        # Plans created here and never saved: their ID follows their name until the admin edits the ID.
        self.fresh: set[int] = set()
        self.price_checks: dict[tuple[str, Slot], tuple[bool, str]] = {}
        # What the last checks learnt beyond ok/not ok: each price's currency, and the successor of a replaced one.
        self.currencies: dict[tuple[str, Slot], str] = {}
        self.replacements: dict[str, str] = {}
        self._left_step = False
        self.loaded_fingerprint: str | None = None
        # Each plan as last loaded or saved, with its ID in the file: Verify's records are kept by that ID.
        self.file_ids: list[tuple[Plan, str]] = []
        self._lookup_timers: dict[Slot, Timer] = {}

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
        yield Static("", id="currency-warning", classes="notice", markup=False)
        with Horizontal(id="plans-body"):
            with Vertical(id="plan-list-box"):
                yield ListView(id="plan-list")
                with Horizontal(id="plan-buttons"):
                    yield Button("New", id="new-plan")
                    yield Button("Delete", id="delete-plan", variant="error")
            with VerticalScroll(id="plan-form", can_focus=False):
                yield Static("No plan selected. Press ctrl+n to create one.", id="empty-form")
                with Vertical(id="plan-fields"):
                    with Horizontal(classes="row"):
                        yield Label("Plan name")
                        yield Input(id="plan-name")
                    yield FieldError(id="error-plan-name")
                    with Horizontal(classes="row"):
                        yield Label("Plan ID")
                        yield Input(id="plan-id")
                    yield FieldError(id="error-plan-id")
                    yield Static("", id="plan-id-note", classes="price-state", markup=False)
                    for slot in ("test", "live"):
                        with Horizontal(classes="row"):
                            yield Label(f"{slot.capitalize()} price ID")
                            yield Input(placeholder="price_…", id=f"price-{slot}")
                            yield Button("Pick…", id=f"pick-{slot}")
                        yield FieldError(id=f"error-price-{slot}")
                        yield Static("", id=f"state-price-{slot}", classes="price-state", markup=False)
                    yield Label("Quotas (a number or 'unlimited'; empty = not offered)", classes="step-title")
                    yield Vertical(id="quota-rows")
                    # The hint is in the heading: at 80 columns each field shows about ten characters.
                    yield Label("Add a resource: key, label, unit (ctrl+g)", classes="step-title")
                    with Horizontal(classes="row"):
                        yield Input(placeholder="gpu_hours", id="new-resource-key")
                        yield Input(placeholder="GPU", id="new-resource-label")
                        yield Input(placeholder="hours", id="new-resource-unit")
                        yield Button("Add", id="add-resource")
                    yield FieldError(id="error-new-resource")
        yield KeyBar()

    async def on_mount(self) -> None:
        await self.load_file()
        self.query_one("#plan-list", ListView).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100, "narrow")

    def on_screen_suspend(self) -> None:
        # A modal on top (picker, question) changes no price; another step (the builder's "Replace price") may.
        self._left_step = not isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        self.adopt_verify_records()
        if self._left_step:
            # Prices may have been replaced or archived (there or in the Dashboard) since they were checked.
            self._left_step = False
            self.forget_price_checks()

    def connection_changed(self) -> None:
        self.forget_price_checks()

    def catalog_changed(self) -> None:
        """A price was created, replaced or archived: what the editor knows about linked prices may be stale."""
        self.forget_price_checks()

    def forget_price_checks(self) -> None:
        self.price_checks.clear()
        self.currencies.clear()
        self.replacements.clear()
        self.update_currency_warning()
        if self.broken:
            return
        plan = self.plan
        if plan is not None:
            for slot in SLOTS:
                if plan.price_id(slot) and portal(self).context.connected:
                    self.show_price_state(slot, "checking…")  # check_all_prices looks it up with the others
                else:
                    self.check_price(slot)
        self.check_all_prices()

    # ---- file ----------------------------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return not self.broken and (self.config.to_toml_dict() != self.saved or any(self.bad.values()))

    @property
    def unsaved(self) -> bool:
        return self.dirty

    async def load_file(self) -> None:
        from portal_tui.services.errors import ConfigFileError

        store = portal(self).context.config_store
        broken = self.query_one("#broken", Static)
        # Fingerprint first: if the file changes between this and the read, the next save asks (the safe side).
        fingerprint = store.fingerprint()
        try:
            self.config = store.load()
        except ConfigFileError as error:
            self.broken = True
            broken.update(f"{error.message}\n{error.hint or ''}\nFix the file, then press ctrl+r to reload.")
            broken.add_class("visible")
            self.query_one("#plans-body").display = False
            self.update_header()
            return
        self.loaded_fingerprint = fingerprint
        self.broken = False
        broken.remove_class("visible")
        self.query_one("#plans-body").display = True
        self.saved = self.config.to_toml_dict()
        self.file_ids = [(plan, plan.id) for plan in self.config.plans]
        self.bad.clear()
        self.fresh.clear()
        # A reload re-checks every linked price: one may have been replaced since it was last looked up.
        self.price_checks.clear()
        self.currencies.clear()
        self.replacements.clear()
        self.selected = 0 if self.config.plans else None
        await self.rebuild_list()
        await self.rebuild_quota_rows()
        self.fill_form()
        self.check_all_prices()

    def adopt_verify_records(self) -> bool:
        """Take the plans' Verify records from the file when they are all that changed on disk since it was loaded.

        Verify (step 5) records each run's verdict in the plan file. Unsaved edits here stay and the records join
        them; the file counts as loaded again, so the next save neither asks about a change on disk nor drops a
        record. Any other change on disk is left to the save's question. True when the records were taken.
        """
        from portal_tui.services.errors import ConfigFileError

        if self.broken:
            return False
        store = portal(self).context.config_store
        fingerprint = store.fingerprint()  # first: a change after it makes the next save ask (the safe side)
        if fingerprint is None or fingerprint == self.loaded_fingerprint:
            return False
        try:
            disk = store.load()
        except ConfigFileError:
            return False
        on_disk = disk.to_toml_dict()
        if _without_records(on_disk) != _without_records(self.saved):
            return False
        records = {plan.id: plan.verified for plan in disk.plans}
        editing = {id(plan) for plan in self.config.plans}
        for plan, file_id in self.file_ids:
            if id(plan) in editing:  # a plan deleted here (not saved yet) stays deleted
                plan.verified = records.get(file_id)
        # Equal to what was loaded but for the records: the file as it is now is what this editor started from.
        self.saved = on_disk
        self.loaded_fingerprint = fingerprint
        self.update_header()
        return True

    async def action_reload(self) -> None:
        if not self.dirty:
            await self.load_file()
            return

        async def answer(ok: bool | None) -> None:
            if ok:
                await self.load_file()

        self.app.push_screen(ConfirmModal("Reload and discard your changes?", confirm_label="Discard"), answer)

    def update_header(self) -> None:
        store = portal(self).context.config_store
        marker = "  ● modified (ctrl+s saves)" if self.dirty else ("" if store.exists() else "  (new file)")
        self.query_one("#plans-header", Static).update(f"Plan file: {store.path}{marker}")

    def action_save(self) -> None:
        if self.broken:
            self.notify("The plan file is broken: fix it and reload first.", severity="error")
            return
        if self.point_at_bad_input():
            return
        problems = self.config.validate()
        if problems:
            self.notify(
                f"Not saved: {len(problems)} problem(s). {problems[0].message}",
                title="Fix the highlighted fields",
                severity="error",
            )
            return
        if portal(self).context.livemode:
            # The portal provisions live customers from this file: in live mode a save is a live change too.
            self.run_worker(self.confirm_then_save(), exclusive=True, group="save")
            return
        self.save_unless_changed_on_disk()

    async def confirm_then_save(self) -> None:
        linked = [f"{plan.name or plan.id}: {plan.live_price_id}" for plan in self.config.plans if plan.live_price_id]
        details = "Live prices linked:\n" + "\n".join(linked) if linked else "No plan links a live price yet."
        if await portal(self).confirm_write("Save the plan file the portal uses for live customers", details):
            self.save_unless_changed_on_disk()
        else:
            self.notify("Not saved: your edits are still here.", severity="warning")

    def save_unless_changed_on_disk(self) -> None:
        store = portal(self).context.config_store
        self.adopt_verify_records()  # a Verify result recorded meanwhile is no conflict, and is kept
        now = store.fingerprint()
        if now == self.loaded_fingerprint:
            self.write_file()
            return
        self.app.push_screen(self.overwrite_question(now), lambda ok: self.write_file() if ok else self.not_saved())

    def not_saved(self) -> None:
        self.notify(
            "Not saved: your edits are still here. ctrl+r reloads the file from disk (and discards them).",
            severity="warning",
            timeout=10,
        )

    def overwrite_question(self, now: str | None) -> ConfirmModal:
        from portal_tui.services.errors import ConfigFileError

        store = portal(self).context.config_store
        name = store.path.name
        if now is None:
            return ConfirmModal(
                f"{name} was deleted since it was loaded",
                "Save writes your version as a new file.",
                confirm_label="Write it",
            )
        try:
            store.load()
        except ConfigFileError as error:
            return ConfirmModal(
                f"{name} changed on disk and no longer parses",
                f"{error.message}\n\nSomeone edited it after portal-tui read it. Overwriting replaces their "
                f"version, broken part and all, with yours (the current file is kept as {store.backup_path.name}).",
                confirm_label="Overwrite the broken file",
            )
        return ConfirmModal(
            f"{name} changed on disk since it was loaded",
            "Someone (or another editor) saved it after portal-tui read it. Overwriting replaces their changes "
            f"with yours (the current file is kept as {store.backup_path.name}). Cancel, then ctrl+r, to load theirs.",
            confirm_label="Overwrite",
        )

    def write_file(self) -> None:
        from portal_tui.services.errors import PortalError

        store = portal(self).context.config_store
        try:
            store.save(self.config)
        except PortalError as error:
            self.notify(f"{error.message} {error.hint or ''}", title=error.title, severity="error", timeout=10)
            return
        self.loaded_fingerprint = store.fingerprint()
        self.saved = self.config.to_toml_dict()
        self.file_ids = [(plan, plan.id) for plan in self.config.plans]
        self.fresh.clear()
        self.fill_form()
        self.update_header()
        warnings = self.price_warnings()
        if warnings:
            self.notify(
                f"Saved {len(self.config.plans)} plan(s) to {store.path}, but {len(warnings)} linked price(s) have "
                "problems:\n" + "\n".join(warnings),
                title="Saved with price problems",
                severity="warning",
                timeout=15,
            )
        else:
            self.notify(f"Saved {len(self.config.plans)} plan(s) to {store.path}", title="Plans saved")
        note = portal(self).context.plans_note
        if note:  # the demo's plan file goes away on quit: say so where the admin just saved
            self.notify(note, title="Demo", severity="warning", timeout=12)

    def price_warnings(self) -> list[str]:
        """The known problems of linked prices, one line per plan and slot."""
        lines = []
        for plan in self.config.plans:
            for slot in SLOTS:
                price_id = plan.price_id(slot)
                result = self.price_checks.get((price_id, slot)) if price_id else None
                if result is not None and result[0] is False:
                    lines.append(f"'{plan.name or plan.id}' {slot}: {result[1].removeprefix('✗ ')}")
        return lines

    def point_at_bad_input(self) -> bool:
        """Refuse to save while any plan holds invalid text: select that plan and focus the first bad field."""
        for index, plan in enumerate(self.config.plans):
            bad = self.bad.get(id(plan))
            if not bad:
                continue
            widget_id, (_text, message) = next(iter(bad.items()))
            if self.selected != index:
                self.selected = index
                self.query_one("#plan-list", ListView).index = index
                self.fill_form()
            others = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            self.notify(
                f"Not saved: plan '{plan.name or plan.id}' has an invalid value{others}. {message}",
                title="Fix the highlighted fields",
                severity="error",
                timeout=10,
            )
            self.call_after_refresh(self.query_one(f"#{widget_id}", Input).focus)
            return True
        return False

    # ---- plan list ----------------------------------------------------------------------------------------------

    def mark(self, plan: Plan) -> str:
        """✓ linked and fine, ✗ a problem (bad input or a flagged price), · not linked in the key's mode."""
        if self.bad.get(id(plan)):
            return "✗"
        for slot in SLOTS:
            price_id = plan.price_id(slot)
            result = self.price_checks.get((price_id, slot)) if price_id else None
            if result is not None and result[0] is False:
                return "✗"
        mode: Slot = "live" if portal(self).context.livemode else "test"
        return "✓" if plan.price_id(mode) else "·"

    async def rebuild_list(self) -> None:
        view = self.query_one("#plan-list", ListView)
        await view.clear()
        await view.extend(
            ListItem(Label(f"{self.mark(plan)} {plan.name or plan.id}", markup=False)) for plan in self.config.plans
        )
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
    async def action_new_plan(self) -> None:
        if self.broken:
            return
        name = "New plan"
        plan = Plan(self.config.unique_plan_id(name), name)
        self.config.plans.append(plan)
        self.fresh.add(id(plan))
        self.selected = len(self.config.plans) - 1
        await self.rebuild_list()
        self.fill_form()
        name_field = self.query_one("#plan-name", Input)
        name_field.focus()
        name_field.selection = Selection(0, len(name_field.value))  # typing replaces "New plan"

    @on(Button.Pressed, "#delete-plan")
    def action_delete_plan(self) -> None:
        plan = self.plan
        if plan is None or self.broken:
            return

        async def done(ok: bool | None) -> None:
            if ok and plan in self.config.plans:
                self.config.plans.remove(plan)
                self.bad.pop(id(plan), None)
                self.fresh.discard(id(plan))
                self.selected = min(self.selected or 0, len(self.config.plans) - 1) if self.config.plans else None
                await self.rebuild_list()
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

    async def rebuild_quota_rows(self) -> None:
        rows = self.query_one("#quota-rows", Vertical)
        # The new rows reuse the old rows' IDs: the old ones must be gone before they are mounted.
        await rows.remove_children()
        widgets: list[Horizontal | FieldError] = []
        for resource in self.config.resources:
            widgets += [self._quota_row(resource), FieldError(id=f"error-quota-{_safe(resource.key)}")]
        await rows.mount_all(widgets)

    def _quota_row(self, resource: Resource) -> Horizontal:
        return Horizontal(
            Label(resource.label),
            Input(placeholder="—", id=f"quota-{_safe(resource.key)}"),
            Static(resource.unit, classes="unit", id=f"unit-{_safe(resource.key)}", markup=False),
            classes="row",
        )

    def fill_form(self) -> None:
        plan = self.plan
        self.query_one("#empty-form").display = plan is None
        self.query_one("#plan-fields").display = plan is not None
        self.update_header()
        if plan is None:
            return
        bad = self.bad.get(id(plan), {})
        values = {
            "plan-name": plan.name,
            "plan-id": plan.id,
            "price-test": plan.price_id("test") or "",
            "price-live": plan.price_id("live") or "",
        }
        for resource in self.config.resources:
            values[f"quota-{_safe(resource.key)}"] = format_quota(plan.quotas.get(resource.key))
            self.show_unit(resource, plan.quotas.get(resource.key))
        # Filling the form is not an edit: no Changed messages (they would arrive late, possibly for another plan).
        with self.prevent(Input.Changed):
            for widget_id, value in values.items():
                field = self.query(f"#{widget_id}")
                if field:
                    field.first(Input).value = bad[widget_id][0] if widget_id in bad else value
        for error in self.query(FieldError):
            if error.id != "error-new-resource":
                error.clear()
        for widget_id, (_text, message) in bad.items():
            errors = self.query(f"#error-{widget_id}")
            if errors:
                errors.first(FieldError).show(message)
        self.show_id_note(plan)
        for slot in SLOTS:
            self.check_price(slot)

    def show_id_note(self, plan: Plan) -> None:
        note = self.query_one("#plan-id-note", Static)
        if id(plan) in self.fresh:
            note.update("follows the name until you edit it; the portal refers to the plan by this ID")
        else:
            saved_ids = {str(p.get("id")) for p in self.saved.get("plans", [])}
            note.update(
                "the portal refers to the plan by this ID: changing it breaks that link"
                if plan.id in saved_ids
                else "the portal will refer to the plan by this ID"
            )

    def set_bad(self, widget_id: str, text: str, message: str | None) -> None:
        """Record (or clear) invalid text in a field of the selected plan and show it under the field."""
        plan = self.plan
        if plan is None:
            return
        bad = self.bad.setdefault(id(plan), {})
        error = self.query_one(f"#error-{widget_id}", FieldError)
        if message is None:
            bad.pop(widget_id, None)
            error.clear()
        else:
            bad[widget_id] = (text, message)
            error.show(message)

    def changed(self) -> None:
        self.rebuild_list_labels()
        self.update_header()

    def rebuild_list_labels(self) -> None:
        view = self.query_one("#plan-list", ListView)
        for item, plan in zip(view.children, self.config.plans, strict=False):
            label = item.query(Label)
            if label:
                label.first(Label).update(f"{self.mark(plan)} {plan.name or plan.id}")

    @on(Input.Changed, "#plan-name")
    def name_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None:
            return
        name = event.value
        self.set_bad("plan-name", name, None if name.strip() else "Give the plan a name")
        if name.strip():
            plan.name = name
            if id(plan) in self.fresh:
                # A plan nobody has saved yet: nothing refers to its ID, so it follows the name.
                others = [p.id for p in self.config.plans if p is not plan]
                base, n, candidate = slugify(name), 2, slugify(name)
                while candidate in others:
                    candidate, n = f"{base}-{n}", n + 1
                plan.id = candidate
                with self.prevent(Input.Changed):
                    self.query_one("#plan-id", Input).value = candidate
                self.set_bad("plan-id", candidate, None)
        self.changed()

    @on(Input.Changed, "#plan-id")
    def id_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None:
            return
        value = event.value.strip()
        self.fresh.discard(id(plan))
        if not PLAN_ID.match(value):
            message = "Use lower-case letters, digits, - and _ (e.g. pro-vps)"
        elif any(p.id == value for p in self.config.plans if p is not plan):
            message = f"Another plan already has the ID '{value}'"
        else:
            message = None
            plan.id = value
        self.set_bad("plan-id", event.value, message)
        self.show_id_note(plan)
        self.changed()

    @on(Input.Changed, "#price-test")
    @on(Input.Changed, "#price-live")
    def price_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None or event.input.id is None:
            return
        slot: Slot = "test" if event.input.id.endswith("test") else "live"
        value = event.value.strip()
        if redact(value) != value:
            # A secret key pasted into the wrong field: it must not stay on screen (nor in the plan, nor the file).
            with self.prevent(Input.Changed):
                event.input.value = ""
            self.set_bad(f"price-{slot}", "", None)
            setattr(plan, f"{slot}_price_id", None)
            self.query_one(f"#error-price-{slot}", FieldError).show(SECRET_KEY_PASTED)
            self.check_price(slot)
        elif value and not PRICE_ID.match(value):
            message = f"'{value}' is not a price ID: they start with price_ (a prod_ ID is the product)"
            self.set_bad(f"price-{slot}", event.value, message)
            self.show_price_state(slot)
        else:
            self.set_bad(f"price-{slot}", event.value, None)
            setattr(plan, f"{slot}_price_id", value or None)
            self.check_price(slot, delay=self.lookup_delay)
        self.update_currency_warning()
        self.changed()

    @on(Input.Submitted, "#price-test")
    @on(Input.Submitted, "#price-live")
    def price_submitted(self, event: Input.Submitted) -> None:
        """Enter looks the typed ID up now instead of after the typing pause."""
        slot: Slot = "test" if (event.input.id or "").endswith("test") else "live"
        if slot in self._lookup_timers:
            self.check_price(slot)

    def show_price_state(self, slot: Slot, text: str | None = None, ok: bool | None = None) -> None:
        state = self.query_one(f"#state-price-{slot}", Static)
        state.set_class(ok is True, "ok")
        state.set_class(ok is False, "bad")
        state.update(text or "")

    def check_price(self, slot: Slot, delay: float = 0.0) -> None:
        plan = self.plan
        timer = self._lookup_timers.pop(slot, None)
        if timer is not None:
            timer.stop()
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
        cached = self.price_checks.get((price_id, slot))
        if cached is not None:
            self.show_price_state(slot, cached[1], cached[0])
            return
        self.show_price_state(slot, "checking…")
        if delay:
            self._lookup_timers[slot] = self.set_timer(delay, partial(self.start_lookup, price_id, slot))
        else:
            self.start_lookup(price_id, slot)

    def start_lookup(self, price_id: str, slot: Slot) -> None:
        self._lookup_timers.pop(slot, None)  # fired (or overtaken): enter has nothing left to hurry
        # One lookup per slot at a time: a newer ID replaces the pending one.
        self.run_worker(
            partial(self.fetch_price, price_id, slot), thread=True, exclusive=True, group=f"price-check-{slot}"
        )

    def lookup(self, price_id: str, slot: Slot) -> Lookup:
        """Runs in a worker thread. With a key of the other mode, finding the price proves it is in the wrong slot."""
        from portal_tui.domain.pricing import describe_price
        from portal_tui.services.errors import NotFoundError, PortalError
        from portal_tui.services.plan_check import find_replacement, price_problems

        context = portal(self).context
        key_mode: Slot = "live" if context.livemode else "test"
        try:
            gateway = context.gateway()
            price = gateway.retrieve_price(price_id)
            problems = price_problems(price, slot)
            successor = (
                find_replacement(price, gateway.retrieve_price, gateway.find_price_by_lookup_key)
                if not price.get("active", True) and bool(price.get("livemode")) == (slot == "live")
                else None
            )
        except NotFoundError:
            if key_mode == slot:
                return (False, f"✗ {price_id} does not exist in {slot} mode"), None, None
            return (None, f"not a {key_mode}-mode price; connect a {slot} key to check it fully"), None, None
        except PortalError as error:
            return (None, f"could not check: {error.message}"), None, None
        currency = str(price.get("currency") or "") or None
        if successor is not None:
            new_id = str(successor["id"])
            problems = [p for p in problems if "archived" not in p]
            problems.insert(0, f"{price_id} is archived, replaced by {new_id} — press ctrl+y to link the new price")
            return (False, "✗ " + "; ".join(problems)), currency, new_id
        if problems:
            return (False, "✗ " + "; ".join(problems)), currency, None
        product = price.get("product")
        name = product.get("name") if isinstance(product, dict) else product
        return (True, f"✓ {name} · {describe_price(price)}"), currency, None

    def fetch_price(self, price_id: str, slot: Slot) -> None:
        result = self.lookup(price_id, slot)
        self.app.call_from_thread(self._price_checked, price_id, slot, result)

    def _price_checked(self, price_id: str, slot: Slot, result: Lookup) -> None:
        (ok, text), currency, successor = result
        if ok is not None:
            self.price_checks[(price_id, slot)] = (bool(ok), text)
        if currency:
            self.currencies[(price_id, slot)] = currency
        if successor:
            self.replacements[price_id] = successor
        plan = self.plan
        if plan is not None and plan.price_id(slot) == price_id:
            self.show_price_state(slot, text, ok)
        self.rebuild_list_labels()
        self.update_currency_warning()

    def update_currency_warning(self) -> None:
        """Flag plans whose linked prices (same slot) bill in different currencies, as `portal-tui check` does."""
        from portal_tui.services.plan_check import CURRENCY_CLASH

        lines = []
        for slot in SLOTS:
            found = [
                (plan.id, currency)
                for plan in self.config.plans
                if (price_id := plan.price_id(slot)) and (currency := self.currencies.get((price_id, slot)))
            ]
            if len({currency for _plan, currency in found}) > 1:
                listing = ", ".join(f"{plan_id}={currency.upper()}" for plan_id, currency in found)
                lines.append(f"⚠ {slot.capitalize()} prices bill in different currencies ({listing}): {CURRENCY_CLASH}")
        warning = self.query_one("#currency-warning", Static)
        warning.update("\n".join(lines))
        warning.set_class(bool(lines), "visible")

    def action_link_replacement(self) -> None:
        """Link the price that replaced an archived one, in every slot of the selected plan that links one."""
        plan = self.plan
        if plan is None:
            return
        swapped = [
            (slot, old, self.replacements[old])
            for slot in SLOTS
            if (old := plan.price_id(slot)) and old in self.replacements
        ]
        if not swapped:
            self.notify("This plan links no replaced price.", severity="warning")
            return
        for slot, _old, new in swapped:
            self.set_price(slot, new)
        done = "; ".join(f"{slot}: {new} instead of {old}" for slot, old, new in swapped)
        self.notify(f"Linked '{plan.name or plan.id}' to the new price ({done}). Press ctrl+s to save.")

    def check_all_prices(self) -> None:
        """Check every plan's linked prices, so the list marks problems of plans not on screen too."""
        if not portal(self).context.connected:
            return
        wanted = {
            (price_id, slot)
            for plan in self.config.plans
            for slot in SLOTS
            if (price_id := plan.price_id(slot)) and (price_id, slot) not in self.price_checks
        }
        if wanted:
            self.run_worker(partial(self._check_each, sorted(wanted)), thread=True, exclusive=True, group="check-all")

    def _check_each(self, wanted: list[tuple[str, Slot]]) -> None:
        for price_id, slot in wanted:
            result = self.lookup(price_id, slot)
            self.app.call_from_thread(self._price_checked, price_id, slot, result)

    @on(Input.Changed, "#quota-rows Input")
    def quota_changed(self, event: Input.Changed) -> None:
        plan = self.plan
        if plan is None or event.input.id is None:
            return
        safe = event.input.id.removeprefix("quota-")
        resource = next((r for r in self.config.resources if _safe(r.key) == safe), None)
        if resource is None:
            return
        self.show_unit(resource, None)
        if not event.value.strip():
            plan.quotas.pop(resource.key, None)
            self.set_bad(event.input.id, event.value, None)
        else:
            try:
                plan.quotas[resource.key] = parse_quota(event.value)
            except ValueError as exc:
                self.set_bad(event.input.id, event.value, str(exc))
            else:
                self.set_bad(event.input.id, event.value, None)
                self.show_unit(resource, plan.quotas[resource.key])
        self.changed()

    def show_unit(self, resource: Resource, quota: Quota | None) -> None:
        """"1 server", "4 servers": the unit beside a quota agrees with it."""
        units = self.query(f"#unit-{_safe(resource.key)}")
        if units:
            units.first(Static).update(unit_label(resource.unit, quota))

    def action_focus_new_resource(self) -> None:
        self.query_one("#new-resource-key", Input).focus()

    @on(Button.Pressed, "#add-resource")
    @on(Input.Submitted, "#new-resource-unit")
    async def add_resource(self) -> None:
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
        await rows.mount_all([self._quota_row(resource), FieldError(id=f"error-quota-{_safe(key)}")])
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

        # The Pick button opened the picker, also when ctrl+o did: focus comes back to it, not to a text field
        # where the next step key would be typed.
        self.set_focus(self.query_one(f"#pick-{slot}", Button))
        self.app.push_screen(PricePickerModal(f"Pick the {slot} price for '{self.plan.name}'"), picked)

    def set_price(self, slot: Slot, price_id: str) -> None:
        self.query_one(f"#price-{slot}", Input).value = price_id  # fires price_changed

    async def offer_price(self, price_id: str, livemode: bool | None = None) -> None:
        """Called from the catalog's "Link to plan…": the admin picks a plan; the slot is the price's own mode.

        `livemode` defaults to the connected key's mode: the catalog and the builder only show prices of that mode.
        """
        if livemode is None:
            livemode = portal(self).context.livemode
        slot: Slot = "live" if livemode else "test"
        self.offered_price, self.offered_slot = price_id, slot
        self.query_one("#offer-text", Static).update(
            f"Link {price_id} (a {slot}-mode price) to a plan: choose the plan on the left (↑ ↓), then press "
            f"{slot[0]} to make it the plan's {slot} price (or the button below)."
        )
        self.query_one("#offer-test").display = slot == "test"
        self.query_one("#offer-live").display = slot == "live"
        self.query_one("#offer").add_class("visible")
        if not self.config.plans:
            await self.action_new_plan()
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
        if self.offered_price and slot != self.offered_slot:
            # Test and live are separate worlds: a price of one mode never exists in the other.
            self.notify(
                f"{self.offered_price} is a {self.offered_slot}-mode price: it can only be a plan's "
                f"{self.offered_slot} price. The {slot} slot needs a price made with a {slot} key "
                f"({'sk_live_' if slot == 'live' else 'sk_test_'}…).",
                title=f"Not linked as the {slot} price",
                severity="error",
                timeout=10,
            )
            return
        if self.offered_price and self.plan is not None:
            self.set_price(slot, self.offered_price)
            self.notify(f"{self.offered_price} linked to '{self.plan.name}' ({slot}). Press ctrl+s to save.")
            self.offered_price = None
            self.query_one("#offer").remove_class("visible")

    @on(Button.Pressed, "#offer-dismiss")
    def offer_dismiss(self) -> None:
        self.offered_price = None
        self.query_one("#offer").remove_class("visible")
