"""Ask which currency to add to the price in the builder ("Add currency", ctrl+g); a typo gets the likely codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from portal_tui.domain.money import CURRENCIES
from portal_tui.ui.widgets.field_error import FieldError


class CurrencyPrompt(ModalScreen[str | None]):
    """Dismisses with a currency code `refusal` accepts (lower-case), or None."""

    DEFAULT_CSS = """
    CurrencyPrompt { align: center middle; }
    CurrencyPrompt > Vertical {
        width: 64; max-width: 98%; height: auto; padding: 0 1; border: thick $accent; background: $surface;
    }
    CurrencyPrompt #currency-title { text-style: bold; }
    CurrencyPrompt .muted { color: $text-muted; }
    CurrencyPrompt Horizontal { height: auto; }
    CurrencyPrompt #currency-keys { width: 1fr; padding-top: 1; }
    CurrencyPrompt Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back to the form")]

    def __init__(self, refusal: Callable[[str], str | None]) -> None:
        super().__init__()
        self.refusal = refusal  # why a code cannot be added (None: it can)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Add a currency to this price", id="currency-title")
            yield Static(
                "Customers billed in it pay its own amounts (Stripe's currency_options).", classes="muted", markup=False
            )
            yield Input(
                placeholder="ISO code: eur, jpy, cad… (→ completes)",
                id="currency-code",
                suggester=SuggestFromList(sorted(CURRENCIES)),
                restrict=r"[A-Za-z]{0,3}",
            )
            yield FieldError(id="currency-error")
            with Horizontal():
                yield Static("enter adds it · esc cancels", classes="muted", id="currency-keys")
                yield Button("Cancel", id="currency-cancel")
                yield Button("Add", id="currency-add", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#currency-code", Input).focus()

    @on(Input.Submitted, "#currency-code")
    @on(Button.Pressed, "#currency-add")
    def add(self) -> None:
        code = self.query_one("#currency-code", Input).value.strip().lower()
        refusal = self.refusal(code)
        if refusal:
            self.query_one("#currency-error", FieldError).show(refusal)
            return
        self.dismiss(code)

    @on(Button.Pressed, "#currency-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
