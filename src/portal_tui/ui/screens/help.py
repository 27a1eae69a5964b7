"""Help: every key binding of every screen, in one list."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Everywhere",
        [
            ("h", "Home: the setup overview"),
            ("1 … 5", "Open a step of the setup flow"),
            ("?", "This help"),
            ("ctrl+p", "Command palette: every screen and action"),
            ("tab / shift+tab", "Next / previous field"),
            ("ctrl+q", "Quit"),
        ],
    ),
    (
        "1 Connect Stripe",
        [
            ("ctrl+s / enter", "Verify and save the key"),
            ("ctrl+r", "Reveal or hide the key"),
            ("escape", "Cancel a running check"),
            ("ctrl+d", "Disconnect (remove the key)"),
        ],
    ),
    (
        "2 Products & pricing",
        [
            ("ctrl+n", "Create (review first)"),
            ("ctrl+t", "Add a tier"),
            ("ctrl+x", "Remove the last tier"),
            ("ctrl+r", "Reset the form"),
        ],
    ),
    (
        "3 Price IDs",
        [
            ("/", "Filter"),
            ("↑ ↓ pgup pgdn", "Move"),
            ("c", "Copy the price ID (OSC 52, works over SSH)"),
            ("l", "Link to a plan…"),
            ("a", "Show or hide archived prices"),
            ("r", "Refresh"),
        ],
    ),
    (
        "4 Plans & quotas",
        [
            ("n", "New plan"),
            ("ctrl+s", "Save the plan file"),
            ("p", "Pick the test price from the catalog"),
            ("ctrl+delete", "Delete the plan"),
            ("ctrl+u", "Add a custom resource"),
        ],
    ),
    (
        "5 Verify in test mode",
        [("ctrl+r", "Run the test"), ("escape", "Cancel (cleans up)"), ("ctrl+y", "Copy the summary")],
    ),
]


class HelpScreen(ModalScreen[None]):
    """Lists every binding; escape or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 76; max-width: 98%; height: 90%; border: round $accent; background: $surface;
                                  padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]portal-tui keys[/b]  (escape closes)")
            for title, rows in SECTIONS:
                table = Table(
                    title=title,
                    title_justify="left",
                    title_style="bold",
                    box=None,
                    expand=True,
                    show_header=False,
                    pad_edge=False,
                )
                table.add_column("key", style="bold cyan", width=18)
                table.add_column("what")
                for key, what in rows:
                    table.add_row(key, what)
                yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
