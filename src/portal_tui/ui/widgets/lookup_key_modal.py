"""A price to promote has no lookup key: the admin gives it one (a slug is suggested), since a lookup key is how the
live price is matched with the test price on every later run."""

from __future__ import annotations

import re
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from portal_tui.ui.widgets.field_error import FieldError

# What Stripe accepts in a lookup key is wide; what travels well between tools, scripts and TOML is narrower.
LOOKUP_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


class LookupKeyModal(ModalScreen[str | None]):
    """Dismisses with the lookup key to set on the test price, or None (the promotion stops)."""

    DEFAULT_CSS = """
    LookupKeyModal { align: center middle; }
    LookupKeyModal > Vertical {
        width: 72; max-width: 98%; height: auto; padding: 0 1; border: thick $warning; background: $surface;
    }
    LookupKeyModal #lookup-title { text-style: bold; }
    LookupKeyModal .muted { color: $text-muted; }
    LookupKeyModal Horizontal { height: auto; }
    LookupKeyModal #lookup-keys { width: 1fr; padding-top: 1; }
    LookupKeyModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Do not promote"),
    ]

    def __init__(self, price_id: str, plans: str, suggestion: str) -> None:
        super().__init__()
        self.price_id = price_id
        self.plans = plans
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.price_id} has no lookup key", id="lookup-title")
            yield Static(
                f"Used by {self.plans}. The live copy is found by its lookup key on every later run, so the test "
                "price needs one first. Setting it changes the test price only (no live write).",
                classes="muted",
                markup=False,
            )
            yield Input(value=self.suggestion, id="lookup-key")
            yield FieldError(id="lookup-error")
            with Horizontal():
                yield Static("enter sets it · esc cancels", classes="muted", id="lookup-keys")
                yield Button("Cancel", id="lookup-cancel")
                yield Button("Set lookup key", id="lookup-set", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#lookup-key", Input).focus()

    @on(Input.Submitted, "#lookup-key")
    @on(Button.Pressed, "#lookup-set")
    def set_key(self) -> None:
        value = self.query_one("#lookup-key", Input).value.strip()
        if not LOOKUP_KEY.match(value):
            self.query_one("#lookup-error", FieldError).show(
                "Use letters, digits and _ . : - (up to 200), starting with a letter or digit: e.g. pro_monthly"
            )
            return
        self.dismiss(value)

    @on(Button.Pressed, "#lookup-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
