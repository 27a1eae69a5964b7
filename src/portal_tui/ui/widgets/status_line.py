"""The status line above the key bar: the latest notice, on a row of its own, so it never covers a field or a dialog.

Every `notify()` in the app lands here (`PortalApp.notify`). `NoticeBoard` decides what shows: each notice once per
run (the demo's "where plans are saved" at start-up, not again at every save); a repeat of the latest notice shows
it again, marked ×2 in front; an error always shows (it failed again) and stays longer. The board keeps the last notices
for the log (F8).
"""

from __future__ import annotations

from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.content import Content
from textual.markup import MarkupError
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.widgets import Static

# Severity shows as a prefix and a colour (the CSS classes below), never as colour alone.
PREFIX: dict[str, str] = {"information": "", "warning": "! ", "error": "✗ "}
ERROR_TIMEOUT = 20.0  # seconds: an error stays until read (or the next notice)


@dataclass(frozen=True)
class Notice:
    """One notice as shown: plain text (markup already rendered), its title and severity, how long it stays."""

    message: str
    title: str = ""
    severity: SeverityLevel = "information"
    timeout: float = 5.0
    at: datetime = field(default_factory=datetime.now)
    count: int = 1  # shown this many times in a row

    @classmethod
    def of(cls, message: str, title: str, severity: SeverityLevel, timeout: float, *, markup: bool) -> Notice:
        plain = message
        if markup:
            # Brackets that are not markup ("plans[0].name") leave the text as it is.
            with suppress(MarkupError):
                plain = Content.from_markup(message).plain
        if severity == "error":
            timeout = max(timeout, ERROR_TIMEOUT)
        return cls(plain, title, severity, timeout)

    @property
    def key(self) -> str:
        """What makes two notices the same notice: the message (the demo's note comes with and without a title)."""
        return " ".join(self.message.split())

    def text(self) -> str:
        """Title and message on one line."""
        body = " · ".join(line.strip() for line in self.message.splitlines() if line.strip())
        repeat = f"×{self.count} " if self.count > 1 else ""  # in front: a long line is cut at its end
        return repeat + (f"{self.title}: {body}" if self.title else body)


class NoticePosted(Message):
    """A notice from any thread, on its way to the app (App.notify may be called from a worker)."""

    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


class NoticeBoard:
    """Which notices show (each once per run), and the last few for the log."""

    def __init__(self, keep: int = 30) -> None:
        self.seen: set[str] = set()
        self.recent: deque[Notice] = deque(maxlen=keep)
        self.current: Notice | None = None

    def add(self, notice: Notice) -> Notice | None:
        """The notice to show now, or None when it was shown before this run (and is not an error).

        The latest notice again (ctrl+s twice: "Plans saved") is not a new one: it comes back counted, ×2."""
        last = self.recent[-1] if self.recent else None
        if last is not None and last.key == notice.key:
            notice = replace(notice, count=last.count + 1)
            self.recent[-1] = notice
        elif notice.key in self.seen and notice.severity != "error":
            return None
        else:
            self.recent.append(notice)
        self.seen.add(notice.key)
        self.current = notice
        return notice

    def expire(self, notice: Notice) -> bool:
        """The notice's time is up: True when it was still the one showing (the line is cleared)."""
        if self.current is notice:
            self.current = None
            return True
        return False


class StatusLine(Static):
    """One row above the key bar showing the app's current notice (empty when there is none)."""

    DEFAULT_CSS = """
    StatusLine { dock: bottom; height: 1; margin-bottom: 1; padding: 0 1; background: $boost; }
    StatusLine.-warning { background: $warning 15%; color: $text-warning; }
    StatusLine.-error { background: $error 25%; color: $text-error; }
    """
    MORE: ClassVar[str] = " F8: more"

    notice: Notice | None = None

    def on_mount(self) -> None:
        self.watch(self.app, "notice", self.show, init=True)

    def show(self, notice: Notice | None) -> None:
        for severity in PREFIX:
            self.set_class(notice is not None and notice.severity == severity, f"-{severity}")
        self.notice = notice
        self.refresh()

    def render(self) -> Text:
        notice = self.notice
        if notice is None:
            return Text()
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(PREFIX.get(notice.severity, ""), style="bold")
        line.append(notice.text())
        width = self.content_region.width or self.size.width
        if line.cell_len > width:
            line.truncate(max(0, width - len(self.MORE)), overflow="ellipsis")
            line.append(self.MORE, style="bold")
        return line
