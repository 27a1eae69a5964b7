"""The selected plan's fields: name, ID, the test and live price slots, the quotas and the new-resource row."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static

from portal_tui.forms.plan_form import PlanForm, Slot, price_field, quota_field
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.new_resource import NewResource
from portal_tui.ui.widgets.price_slot import PriceSlot
from portal_tui.ui.widgets.quota_rows import QuotaRows, widget_key


def widget_id(field: str) -> str:
    """The input showing a form field: "name" -> "plan-name", "test_price_id" -> "price-test", "quotas.vcpu"."""
    if field.startswith("quotas."):
        return f"quota-{widget_key(field.removeprefix('quotas.'))}"
    if field.endswith("_price_id"):
        return f"price-{field.removesuffix('_price_id')}"
    return f"plan-{field}"


class PlanFields(Vertical):
    """The admin edits the form's selected plan here: each field writes to the `PlanForm` as typed and shows its
    message under it; `Edited` tells the screen (list marks, header, currency warning)."""

    class Edited(Message):
        """A field of the plan changed; `prices` when a price link did."""

        def __init__(self, prices: bool = False) -> None:
            super().__init__()
            self.prices = prices

    def __init__(self, form: PlanForm, lookup_delay: float) -> None:
        super().__init__(id="plan-fields")
        self.form = form
        self.lookup_delay = lookup_delay  # the typing pause before a typed price ID is looked up

    def compose(self) -> ComposeResult:
        for field, label in (("name", "Plan name"), ("id", "Plan ID")):
            with Horizontal(classes="row"):
                yield Label(label)
                yield Input(id=f"plan-{field}")
            yield FieldError(id=f"error-plan-{field}")
        yield Static("", id="plan-id-note", classes="price-state", markup=False)
        yield PriceSlot("test")
        yield PriceSlot("live")
        yield Label("Quotas (a number or 'unlimited'; empty = not offered)", classes="step-title")
        yield QuotaRows()
        yield NewResource()

    def field(self, field: str) -> Input:
        return self.query_one(f"#{widget_id(field)}", Input)

    def slot(self, slot: Slot) -> PriceSlot:
        return self.query_one(f"#slot-{slot}", PriceSlot)

    def fill(self, *, look_up: bool = True) -> None:
        """Show the selected plan: values (text as typed where it is not valid), its errors only, its prices' state
        (`look_up=False`: the caller looks every linked price up itself)."""
        plan = self.form.plan
        if plan is None:
            return
        self.query_one(QuotaRows).show_units(self.form.config.resources, plan.quotas)
        # Filling is not an edit: no Changed messages (they would arrive late, possibly for another plan).
        with self.prevent(Input.Changed):
            for field, value in self.form.values(plan).items():
                found = self.query(f"#{widget_id(field)}")
                if found:
                    found.first(Input).value = value
        for error in self.query(FieldError):
            if error.id != "error-new-resource":
                error.clear()
        for field, message in self.form.errors(plan).items():
            self.show_error(field, message)
        self.query_one("#plan-id-note", Static).update(self.form.id_note(plan))
        for slot in ("test", "live"):
            self.check_price(slot, look_up=look_up)

    def show_error(self, field: str, message: str | None) -> None:
        errors = self.query(f"#error-{widget_id(field)}")
        if errors:
            errors.first(FieldError).show(message)

    def check_price(self, slot: Slot, delay: float = 0.0, *, look_up: bool = True) -> None:
        """Show what is known about the slot's price; look it up (after `delay`) when nothing is."""
        self.slot(slot).show(self.form.slot_state(slot, portal(self).context.connected), delay, look_up=look_up)

    @on(Input.Changed, "#plan-name")
    @on(Input.Changed, "#plan-id")
    def name_or_id_changed(self, event: Input.Changed) -> None:
        plan = self.form.plan
        if plan is None:
            return
        if event.input.id == "plan-id":
            self.show_error("id", self.form.set_id(event.value))
        else:
            self.show_error("name", self.form.set_name(event.value))
            if event.value.strip() and self.form.id_follows_name(plan):
                with self.prevent(Input.Changed):
                    self.field("id").value = plan.id
                self.show_error("id", None)
        self.query_one("#plan-id-note", Static).update(self.form.id_note(plan))
        self.post_message(self.Edited())

    @on(Input.Changed, "#price-test")
    @on(Input.Changed, "#price-live")
    def price_changed(self, event: Input.Changed) -> None:
        if self.form.plan is None:
            return
        slot: Slot = "test" if (event.input.id or "").endswith("test") else "live"
        edit = self.form.set_price(slot, event.value)
        if edit.cleared:  # a secret key: it must not stay on screen
            with self.prevent(Input.Changed):
                event.input.value = ""
        self.show_error(price_field(slot), edit.message)
        if edit.cleared or edit.look_up:
            self.check_price(slot, delay=0.0 if edit.cleared else self.lookup_delay)
        else:
            self.slot(slot).show_state()
        self.post_message(self.Edited(prices=True))

    @on(Input.Changed, "#quota-rows Input")
    def quota_changed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("quota-")
        resource = next((r for r in self.form.config.resources if widget_key(r.key) == key), None)
        plan = self.form.plan
        if plan is None or resource is None:
            return
        message = self.form.set_quota(resource.key, event.value)
        self.show_error(quota_field(resource.key), message)
        self.query_one(QuotaRows).show_unit(resource, None if message else plan.quotas.get(resource.key))
        self.post_message(self.Edited())
