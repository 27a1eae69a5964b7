"""A yes/no question in a modal: used before destructive actions and before every write in live mode.

Destructive and live-mode questions (the default) have no single-key "yes": a stray `y` typed by someone who thought
a field had focus must not delete or change live data. Cancel has the focus; confirming takes tab then enter."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmModal(ModalScreen[bool]):
    """Asks one question; `dismiss(True)` when confirmed."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 70; max-width: 95%; height: auto; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ConfirmModal.live > Vertical { border: thick $error; }
    ConfirmModal #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmModal #confirm-details { margin-bottom: 1; color: $text-muted; }
    ConfirmModal #confirm-keys { color: $text-muted; width: 1fr; padding-top: 1; }
    ConfirmModal Horizontal { height: auto; }
    ConfirmModal Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "yes", "Yes", show=False),
    ]

    def __init__(
        self,
        title: str,
        details: str = "",
        *,
        confirm_label: str = "Confirm",
        live: bool = False,
        destructive: bool = True,
    ) -> None:
        super().__init__(classes="live" if live else "")
        self.question = title
        self.details = details
        self.confirm_label = confirm_label
        # Only a harmless question (destructive=False, never in live mode) may be answered with one key.
        self.careful = live or destructive

    def keys_hint(self) -> str:
        if self.careful:
            return f"tab → {self.confirm_label}, enter confirms · esc cancels"
        return "enter or y confirms · esc cancels"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="confirm-title")
            if self.details:
                yield Static(self.details, id="confirm-details", markup=False)
            with Horizontal():
                yield Static(self.keys_hint(), id="confirm-keys", markup=False)
                yield Button("Cancel", id="cancel-button")
                yield Button(
                    self.confirm_label, id="confirm-button", variant="error" if self.has_class("live") else "warning"
                )

    def on_mount(self) -> None:
        self.query_one("#cancel-button" if self.careful else "#confirm-button", Button).focus()

    def action_yes(self) -> None:
        if not self.careful:
            self.dismiss(True)

    @on(Button.Pressed, "#confirm-button")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel-button")
    def action_cancel(self) -> None:
        self.dismiss(False)
