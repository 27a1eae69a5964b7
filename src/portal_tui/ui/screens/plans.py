"""Plans & quotas (step 4): link each portal plan to its Stripe prices (test and live) and set resource quotas.

The screen binds widgets to `forms.plan_form.PlanForm`, which holds the plans, the rules and what a save writes.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, ListView, Static
from textual.widgets.input import Selection

from portal_tui.domain.plans import PlanConfig
from portal_tui.forms.plan_form import (
    SLOTS,
    InputError,
    Offer,
    PlanForm,
    Slot,
    look_up_price,
)
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.confirm import ConfirmModal
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.new_resource import NewResource
from portal_tui.ui.widgets.plan_fields import PlanFields
from portal_tui.ui.widgets.plan_list import PlanList
from portal_tui.ui.widgets.price_offer import PriceOffer
from portal_tui.ui.widgets.price_slot import PriceSlot
from portal_tui.ui.widgets.quota_rows import QuotaRows
from portal_tui.ui.widgets.top_bar import TopBar


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
        self.form = PlanForm(portal(self).context.config_store)
        self._left_step = False

    @property
    def config(self) -> PlanConfig:
        return self.form.config

    @property
    def unsaved(self) -> bool:
        return self.form.dirty

    @property
    def key_mode(self) -> Slot:
        return "live" if portal(self).context.livemode else "test"

    # ---- layout ------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar("4 Plans & quotas")
        yield Static("", id="plans-header", markup=False)
        yield PriceOffer()
        yield Static("", id="broken", classes="notice-live", markup=False)
        yield Static("", id="currency-warning", classes="notice", markup=False)
        with Horizontal(id="plans-body"):
            yield PlanList()
            with VerticalScroll(id="plan-form", can_focus=False):
                yield Static("No plan selected. Press ctrl+n to create one.", id="empty-form")
                yield PlanFields(self.form, self.lookup_delay)
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
        self.form.forget_price_checks()
        self.update_currency_warning()
        if self.form.broken is not None:
            return
        for slot in SLOTS:
            self.query_one(PlanFields).check_price(slot, look_up=False)  # check_all_prices looks it up
        self.check_all_prices()

    # ---- file ----------------------------------------------------------------------------------------------------

    async def load_file(self) -> None:
        loaded = self.form.load()
        broken = self.query_one("#broken", Static)
        self.query_one("#plans-body").display = loaded
        broken.set_class(not loaded, "visible")
        if self.form.broken is not None:
            error = self.form.broken
            broken.update(f"{error.message}\n{error.hint or ''}\nFix the file, then press ctrl+r to reload.")
            self.update_header()
            return
        await self.rebuild_list()
        await self.query_one(QuotaRows).rebuild(self.config.resources)
        self.fill_form(look_up=False)  # check_all_prices looks up the shown plan's prices too: once each
        self.check_all_prices()

    def adopt_verify_records(self) -> bool:
        """Take Verify's records written on disk meanwhile, when they are all that changed (see PlanForm)."""
        adopted = self.form.adopt_verify_records()
        if adopted:
            self.update_header()
        return adopted

    async def action_reload(self) -> None:
        if not self.unsaved:
            await self.load_file()
            return

        async def answer(ok: bool | None) -> None:
            if ok:
                await self.load_file()

        self.app.push_screen(ConfirmModal("Reload and discard your changes?", confirm_label="Discard"), answer)

    def update_header(self) -> None:
        self.query_one("#plans-header", Static).update(self.form.header())

    def action_save(self) -> None:
        if self.form.broken is not None:
            self.notify("The plan file is broken: fix it and reload first.", severity="error")
            return
        if self.point_at_bad_input():
            return
        invalid = self.form.invalid()
        if invalid:
            self.notify(invalid, title="Fix the highlighted fields", severity="error")
            return
        if portal(self).context.livemode:
            # The portal provisions live customers from this file: in live mode a save is a live change too.
            self.run_worker(self.confirm_then_save(), exclusive=True, group="save")
            return
        self.save_unless_changed_on_disk()

    async def confirm_then_save(self) -> None:
        if await portal(self).confirm_write(
            "Save the plan file the portal uses for live customers", self.form.live_links()
        ):
            self.save_unless_changed_on_disk()
        else:
            self.notify("Not saved: your edits are still here.", severity="warning")

    def save_unless_changed_on_disk(self) -> None:
        change = self.form.disk_change()  # adopts a Verify result recorded meanwhile: no conflict, and kept
        self.update_header()
        if change is None:
            self.write_file()
            return
        store = self.form.store
        title, details, confirm = change.question(store.path.name, store.backup_path.name)
        self.app.push_screen(ConfirmModal(title, details, confirm_label=confirm), self.overwrite_answered)

    def overwrite_answered(self, ok: bool | None) -> None:
        if ok:
            self.write_file()
            return
        self.notify(
            "Not saved: your edits are still here. ctrl+r reloads the file from disk (and discards them).",
            severity="warning",
            timeout=10,
        )

    def write_file(self) -> None:
        from portal_tui.services.errors import PortalError

        try:
            self.form.save()
        except PortalError as error:
            self.notify(f"{error.message} {error.hint or ''}", title=error.title, severity="error", timeout=10)
            return
        self.fill_form()
        self.update_header()
        message, title, warn = self.form.saved_notice()
        if warn:
            self.notify(message, title=title, severity="warning", timeout=15)
        else:
            self.notify(message, title=title)
        note = portal(self).context.plans_note
        if note:  # the demo's plan file goes away on quit: say so where the admin just saved
            self.notify(note, title="Demo", severity="warning", timeout=12)

    def point_at_bad_input(self) -> bool:
        """Refuse to save while any plan holds invalid text: select that plan and focus the first bad field."""
        bad = self.form.first_bad_input()
        if bad is None:
            return False
        if self.form.select(bad.index):
            self.query_one("#plan-list", ListView).index = bad.index
            self.fill_form()
        self.notify(bad.notice(), title="Fix the highlighted fields", severity="error", timeout=10)
        self.call_after_refresh(self.query_one(PlanFields).field(bad.field).focus)
        return True

    # ---- plan list ----------------------------------------------------------------------------------------------

    def labels(self) -> list[str]:
        return [self.form.label(plan, self.key_mode) for plan in self.config.plans]

    async def rebuild_list(self) -> None:
        await self.query_one(PlanList).rebuild(self.labels(), self.form.selected)
        self.update_header()

    def rebuild_list_labels(self) -> None:
        self.query_one(PlanList).relabel(self.labels())

    @on(ListView.Highlighted, "#plan-list")
    def plan_highlighted(self, event: ListView.Highlighted) -> None:
        if self.form.select(event.list_view.index):
            self.fill_form()

    @on(Button.Pressed, "#new-plan")
    async def action_new_plan(self) -> None:
        if self.form.broken is not None:
            return
        self.form.add_plan()
        await self.rebuild_list()
        self.fill_form()
        name_field = self.query_one("#plan-name", Input)
        name_field.focus()
        name_field.selection = Selection(0, len(name_field.value))  # typing replaces "New plan"

    @on(Button.Pressed, "#delete-plan")
    def action_delete_plan(self) -> None:
        plan = self.form.plan
        if plan is None or self.form.broken is not None:
            return

        async def done(ok: bool | None) -> None:
            if ok and self.form.delete_plan(plan):
                await self.rebuild_list()
                self.fill_form()
                self.notify(f"Deleted plan '{plan.name}' (not saved yet: ctrl+s).")

        question = ConfirmModal(
            f"Delete plan '{plan.name}'?",
            "Its price links and quotas go with it once you save.",
            confirm_label="Delete",
        )
        self.app.push_screen(question, done)

    # ---- the form --------------------------------------------------------------------------------------------------

    def fill_form(self, *, look_up: bool = True) -> None:
        self.query_one("#empty-form").display = self.form.plan is None
        self.query_one(PlanFields).display = self.form.plan is not None
        self.update_header()
        self.query_one(PlanFields).fill(look_up=look_up)

    @on(PlanFields.Edited)
    def changed(self, event: PlanFields.Edited | None = None) -> None:
        if event is not None and event.prices:
            self.update_currency_warning()
        self.rebuild_list_labels()
        self.update_header()

    def check_all_prices(self) -> None:
        """Check every plan's linked prices, so the list marks problems of plans not on screen too."""
        wanted = self.form.unchecked_prices() if portal(self).context.connected else []
        if wanted:
            self.run_worker(partial(self.fetch_prices, wanted), thread=True, exclusive=True, group="check-all")

    def fetch_prices(self, wanted: list[tuple[str, Slot]]) -> None:
        """Runs in a worker thread (one slot's lookup runs in its PriceSlot)."""
        context = portal(self).context
        for price_id, slot in wanted:
            result = look_up_price(context.gateway, price_id, slot, self.key_mode)
            self.app.call_from_thread(self.price_checked, PriceSlot.Checked(slot, price_id, result))

    @on(PriceSlot.Checked)
    def price_checked(self, event: PriceSlot.Checked) -> None:
        if self.form.record_lookup(event.price_id, event.slot, event.result):
            self.query_one(PlanFields).slot(event.slot).show_state(event.result.text, event.result.ok)
        self.rebuild_list_labels()
        self.update_currency_warning()

    def update_currency_warning(self) -> None:
        lines = self.form.currency_warnings()
        warning = self.query_one("#currency-warning", Static)
        warning.update("\n".join(lines))
        warning.set_class(bool(lines), "visible")

    def action_link_replacement(self) -> None:
        """Link the price that replaced an archived one, in every slot of the selected plan that links one."""
        plan = self.form.plan
        if plan is None:
            return
        swapped = self.form.replacements_for(plan)
        if not swapped:
            self.notify("This plan links no replaced price.", severity="warning")
            return
        for slot, _old, new in swapped:
            self.set_price(slot, new)
        done = "; ".join(f"{slot}: {new} instead of {old}" for slot, old, new in swapped)
        self.notify(f"Linked '{plan.name or plan.id}' to the new price ({done}). Press ctrl+s to save.")

    def action_focus_new_resource(self) -> None:
        self.query_one("#new-resource-key", Input).focus()

    @on(Button.Pressed, "#add-resource")
    @on(Input.Submitted, "#new-resource-unit")
    async def add_resource(self) -> None:
        row = self.query_one(NewResource)
        try:
            resource = self.form.add_resource(*(field.value for field in row.fields))
        except InputError as refused:
            row.show_error(refused.message)
            return
        row.show_error(None)
        await self.query_one(QuotaRows).add(resource)
        row.clear()
        self.changed()
        self.notify(f"Added resource '{resource.label}' to every plan's quotas.")

    # ---- picking and offered prices ------------------------------------------------------------------------------

    @on(Button.Pressed, "#pick-test")
    @on(Button.Pressed, "#pick-live")
    def pick_pressed(self, event: Button.Pressed) -> None:
        self.action_pick("test" if event.button.id == "pick-test" else "live")

    def action_pick(self, slot: Slot) -> None:
        from portal_tui.ui.screens.price_picker import PricePickerModal

        if self.form.plan is None:
            return
        refusal = self.form.pick_refusal(slot, portal(self).context.connected, self.key_mode)
        if refusal:
            self.notify(refusal, severity="warning")
            return

        def picked(price_id: str | None) -> None:
            if price_id:
                self.set_price(slot, price_id)

        # The Pick button opened the picker, also when ctrl+o did: focus comes back to it, not to a text field
        # where the next step key would be typed.
        self.set_focus(self.query_one(f"#pick-{slot}", Button))
        self.app.push_screen(PricePickerModal(f"Pick the {slot} price for '{self.form.plan.name}'"), picked)

    def set_price(self, slot: Slot, price_id: str) -> None:
        self.query_one(f"#price-{slot}", Input).value = price_id  # fires price_changed

    async def offer_price(self, price_id: str, livemode: bool | None = None) -> None:
        """Called from the catalog's "Link to plan…": the admin picks a plan; the slot is the price's own mode.

        `livemode` defaults to the connected key's mode: the catalog and the builder only show prices of that mode.
        """
        slot: Slot = self.key_mode if livemode is None else ("live" if livemode else "test")
        self.form.offer = Offer(price_id, slot)
        self.query_one(PriceOffer).show(self.form.offer)
        if not self.config.plans:
            await self.action_new_plan()
        self.query_one("#plan-list", ListView).focus()

    @on(Button.Pressed, "#offer-test")
    @on(Button.Pressed, "#offer-live")
    def offer_pressed(self, event: Button.Pressed) -> None:
        self.action_use_offer("test" if event.button.id == "offer-test" else "live")

    def action_use_offer(self, slot: Slot) -> None:
        offer = self.form.offer
        refusal = offer.refusal(slot) if offer is not None else None
        if refusal:
            self.notify(refusal, title=f"Not linked as the {slot} price", severity="error", timeout=10)
            return
        price_id = self.form.take_offer(slot)
        if price_id is not None and self.form.plan is not None:
            self.set_price(slot, price_id)
            self.notify(f"{price_id} linked to '{self.form.plan.name}' ({slot}). Press ctrl+s to save.")
            self.query_one(PriceOffer).hide()

    @on(Button.Pressed, "#offer-dismiss")
    def offer_dismiss(self) -> None:
        self.form.offer = None
        self.query_one(PriceOffer).hide()
