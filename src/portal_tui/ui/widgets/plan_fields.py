"""The selected plan's fields: name, ID, the test and live price slots, the quotas and the new-resource row."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

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
    """The admin edits one plan here; `fill` shows a plan's values (text as typed where it is not valid) and errors."""

    def __init__(self) -> None:
        super().__init__(id="plan-fields")

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

    def fill(self, values: Mapping[str, str], errors: Mapping[str, str], id_note: str) -> None:
        """Set every field without Changed messages (filling is not an edit; they would arrive late, possibly for
        another plan) and show the plan's errors only."""
        with self.prevent(Input.Changed):
            for field, value in values.items():
                found = self.query(f"#{widget_id(field)}")
                if found:
                    found.first(Input).value = value
        for error in self.query(FieldError):
            if error.id != "error-new-resource":
                error.clear()
        for field, message in errors.items():
            self.show_error(field, message)
        self.show_id_note(id_note)

    def show_error(self, field: str, message: str | None) -> None:
        errors = self.query(f"#error-{widget_id(field)}")
        if errors:
            errors.first(FieldError).show(message)

    def show_id_note(self, note: str) -> None:
        self.query_one("#plan-id-note", Static).update(note)
