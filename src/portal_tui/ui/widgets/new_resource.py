"""The row adding a resource (key, label, unit) that every plan can then set a quota for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from portal_tui.ui.widgets.field_error import FieldError


class NewResource(Vertical):
    """The admin types a key, a label and a unit, then presses Add (or enter in the unit); the screen adds it."""

    def compose(self) -> ComposeResult:
        # The hint is in the heading: at 80 columns each field shows about ten characters.
        yield Label("Add a resource: key, label, unit (ctrl+g)", classes="step-title")
        with Horizontal(classes="row"):
            yield Input(placeholder="gpu_hours", id="new-resource-key")
            yield Input(placeholder="GPU", id="new-resource-label")
            yield Input(placeholder="hours", id="new-resource-unit")
            yield Button("Add", id="add-resource")
        yield FieldError(id="error-new-resource")

    @property
    def fields(self) -> list[Input]:
        return [self.query_one(f"#new-resource-{name}", Input) for name in ("key", "label", "unit")]

    def show_error(self, message: str | None) -> None:
        self.query_one("#error-new-resource", FieldError).show(message)

    def clear(self) -> None:
        for field in self.fields:
            field.value = ""
