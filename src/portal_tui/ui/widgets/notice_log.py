"""The notice log (F8): the last notices of this run, newest first, in full (the status line shows one line)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from portal_tui.ui.widgets.status_line import PREFIX, Notice

STYLE = {"information": "", "warning": "bold yellow", "error": "bold red"}


class NoticeLogModal(ModalScreen[None]):
    """Read what a notice said after it left the status line."""

    DEFAULT_CSS = """
    NoticeLogModal { align: center middle; }
    NoticeLogModal > Vertical { width: 76; max-width: 100%; height: auto; max-height: 90%; border: round $accent;
                                background: $surface; padding: 0 1; }
    NoticeLogModal #notice-list { height: auto; max-height: 18; }
    NoticeLogModal .muted { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f8,q", "dismiss", "Close"),
    ]

    def __init__(self, notices: Iterable[Notice]) -> None:
        super().__init__()
        self.notices = list(notices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Notices this run (newest first)", classes="step-title")
            with VerticalScroll(id="notice-list"):
                yield Static(self.listing(), id="notice-text")
            yield Label("esc closes", classes="muted")

    def listing(self) -> Text:
        text = Text()
        if not self.notices:
            text.append("Nothing yet.", style="dim")
        for notice in reversed(self.notices):
            text.append(notice.at.strftime("%H:%M:%S "), style="dim")
            text.append(PREFIX.get(notice.severity, ""), style=STYLE.get(notice.severity, ""))
            if notice.title:
                text.append(f"{notice.title}: ", style="bold")
            text.append(notice.message + "\n")
        return text
