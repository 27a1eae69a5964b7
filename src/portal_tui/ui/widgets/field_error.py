"""The message shown under a form field when its value is wrong; empty (and hidden) when all is well."""

from __future__ import annotations

from textual.widgets import Static


class FieldError(Static):
    """A red line under a field; `show(message)` / `clear()`."""

    DEFAULT_CSS = """
    FieldError { color: $error; height: auto; padding: 0 1; display: none; }
    FieldError.visible { display: block; }
    FieldError.hint { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.message = ""

    def show(self, message: str | None, *, hint: bool = False) -> None:
        if not message:
            self.clear()
            return
        if message != self.message:  # forms re-show every message on each keystroke: only a change lays out again
            self.message = message
            self.update(message)
        self.set_class(hint, "hint")
        self.add_class("visible")

    def clear(self) -> None:
        if self.message:
            self.message = ""
            self.update("")
        self.remove_class("visible")
