"""The builder's usage meter: pick the billing meter a usage price bills, or describe a new one to create with it.

The screen supplies the meter list (`set_meters`); the picker never chooses a meter silently while there are some to
choose from. Its fields are plain Inputs and Selects, so their Input.Changed / Select.Changed bubble as usual (the
screen tracks which fields were touched); `MeterPicker.Changed` tells the screen the meter list arrived.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select

from portal_tui.forms.price_form import AGGREGATION_DEFAULT, CUSTOMER_KEY_DEFAULT, NEW, VALUE_KEY_DEFAULT
from portal_tui.ui.widgets.field_error import FieldError


class MeterPicker(Vertical):
    """The meter Select (existing meters plus "Create a new meter…") and the new meter's fields.

    The screen reads the fields into its form model (`PriceForm`), which judges the choice."""

    DEFAULT_CSS = """
    MeterPicker { height: auto; }
    MeterPicker #new-meter { height: auto; }
    MeterPicker .section { text-style: bold; margin-top: 1; color: $accent; }
    MeterPicker .row { height: auto; }
    MeterPicker .row > Label { width: 18; padding: 0 1 0 0; }
    MeterPicker .row > Input, MeterPicker .row > Select { width: 1fr; }
    MeterPicker FieldError { padding-left: 19; }
    """

    class Changed(Message):
        """The meter list arrived, so the choice may have changed (a choice by hand posts Select.Changed)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.meters: list[dict[str, Any]] = []
        self.loaded = False  # the meter list has arrived at least once
        self.wanted: str | None = None  # a meter to select once the meter list has arrived

    def compose(self) -> ComposeResult:
        yield Label("Usage (billing meter)", classes="section")
        with Horizontal(classes="row"):
            yield Label("Meter *")
            yield Select([("Create a new meter…", NEW)], prompt="Choose a meter…", allow_blank=True, id="meter")
        yield FieldError(id="error-meter")
        with Vertical(id="new-meter"):
            with Horizontal(classes="row"):
                yield Label("Display name")
                yield Input(placeholder="e.g. API calls", id="meter-name")
            with Horizontal(classes="row"):
                yield Label("Event name")
                yield Input(placeholder="e.g. api_calls", id="meter-event", restrict=r"[A-Za-z0-9_.\-]*")
            with Horizontal(classes="row"):
                yield Label("Aggregation")
                yield Select(
                    [("Sum of values", "sum"), ("Count of events", "count"), ("Last value", "last")],
                    value=AGGREGATION_DEFAULT,
                    allow_blank=False,
                    id="meter-agg",
                )
            with Horizontal(classes="row"):
                yield Label("Customer key")
                yield Input(value=CUSTOMER_KEY_DEFAULT, id="meter-customer-key")
            with Horizontal(classes="row"):
                yield Label("Value key")
                yield Input(value=VALUE_KEY_DEFAULT, id="meter-value-key")
            yield FieldError(id="error-new-meter")

    def on_mount(self) -> None:
        self.show_fields()

    # ---- reading -------------------------------------------------------------------------------------------------

    @property
    def select(self) -> Select[str]:
        return self.query_one("#meter", Select)

    @property
    def choice(self) -> str:
        """The Select's value: a meter ID, NEW, or "" while none is chosen."""
        return "" if self.select.is_blank() else str(self.select.value)

    # ---- changing ------------------------------------------------------------------------------------------------

    def set_meters(self, meters: list[dict[str, Any]]) -> None:
        """The account's meters as the choices; keeps (or makes, if one was wanted) the current choice if it exists."""
        self.meters, self.loaded = meters, True
        select = self.select
        chosen = self.wanted or select.value
        options = [
            (f"{m['display_name']} ({m['event_name']}, {m['default_aggregation']['formula']})", m["id"]) for m in meters
        ]
        select.set_options([*options, ("Create a new meter…", NEW)])
        if chosen == NEW or chosen in {m["id"] for m in meters}:
            select.value = chosen
            self.wanted = None
        elif not meters:
            select.value = NEW  # nothing to choose from: the new-meter fields are the choice
        else:
            select.clear()  # no silent default: the admin picks the meter usage is billed from
        self.show_fields()
        self.post_message(self.Changed())

    def choose(self, meter_id: str) -> bool:
        """Select `meter_id` now if it is in the list (True), else once the list next has it (False)."""
        if meter_id in {m["id"] for m in self.meters}:
            self.select.value = meter_id
            self.show_fields()
            return True
        self.remember(meter_id)
        return False

    def remember(self, meter_id: str | None) -> None:
        """Select `meter_id` when the meter list next arrives (e.g. a meter just created); None forgets it."""
        self.wanted = meter_id

    def reset(self) -> None:
        """What a fresh picker shows: no meter chosen (the new-meter fields when there are no meters), defaults."""
        for name, value in (
            ("#meter-name", ""),
            ("#meter-event", ""),
            ("#meter-customer-key", CUSTOMER_KEY_DEFAULT),
            ("#meter-value-key", VALUE_KEY_DEFAULT),
        ):
            self.query_one(name, Input).value = value
        self.query_one("#meter-agg", Select).value = AGGREGATION_DEFAULT
        if self.loaded and not self.meters:
            self.select.value = NEW
        else:
            self.select.clear()
        self.wanted = None
        self.show_fields()

    def show_fields(self) -> None:
        """The new meter's fields only while "Create a new meter…" is chosen."""
        self.query_one("#new-meter").display = self.choice == NEW

    def on_select_changed(self, event: Select.Changed) -> None:
        # Not stopped: the screen re-reads the whole form on every change.
        if event.select.id == "meter":
            self.show_fields()
