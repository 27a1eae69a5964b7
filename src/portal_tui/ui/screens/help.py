"""Help: every key binding of every screen, read from the screens' own BINDINGS so it cannot drift from them."""

from __future__ import annotations

from importlib import import_module
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# (section title, "module:Class" whose BINDINGS it lists). Modules are imported when help opens, not at start-up.
SECTIONS: list[tuple[str, list[str]]] = [
    ("Everywhere", ["portal_tui.ui.app:PortalApp"]),
    ("Setup overview (home)", ["portal_tui.ui.screens.home:HomeScreen"]),
    ("1 Connect Stripe", ["portal_tui.ui.screens.connect:ConnectScreen"]),
    (
        "2 Products & pricing",
        ["portal_tui.ui.screens.builder:BuilderScreen", "portal_tui.ui.screens.builder:ReviewModal"],
    ),
    (
        "3 Price IDs",
        [
            "portal_tui.ui.screens.catalog:CatalogScreen",
            "portal_tui.ui.widgets.catalog_view:CatalogView",
            "portal_tui.ui.widgets.price_table:PriceTable",
        ],
    ),
    ("4 Plans & quotas", ["portal_tui.ui.screens.plans:PlansScreen"]),
    ("Price picker (from the plan editor)", ["portal_tui.ui.screens.price_picker:PricePickerModal"]),
    ("5 Verify in test mode", ["portal_tui.ui.screens.verify:VerifyScreen"]),
    (
        "6 Go live",
        [
            "portal_tui.ui.screens.go_live:GoLiveScreen",
            "portal_tui.ui.widgets.live_key_modal:LiveKeyModal",
            "portal_tui.ui.widgets.lookup_key_modal:LookupKeyModal",
        ],
    ),
    ("Questions", ["portal_tui.ui.widgets.confirm:ConfirmModal"]),
]
# Keys that are not bindings of ours (Textual's own, or a field's Enter), listed with the section they belong to.
EXTRA_KEYS: dict[str, list[tuple[str, str]]] = {
    "Everywhere": [
        ("ctrl+p", "Command palette: every screen and its main actions"),
        ("tab / shift+tab", "Next / previous field"),
    ],
    "1 Connect Stripe": [("enter", "In the key field: verify and save the key")],
    "3 Price IDs": [("tab", "From the table to the quantity preview (what a customer pays)")],
}
KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "escape": "esc",
    "enter": "enter",
    "pageup": "pgup",
    "pagedown": "pgdn",
    "up": "↑",
    "down": "↓",
}


def key_text(key: str) -> str:
    """How one key of a binding is shown: "question_mark" -> "?", "ctrl+up" -> "ctrl+↑"."""
    parts = key.split("+")
    return "+".join(KEY_NAMES.get(part, part) for part in parts)


def rows_for(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """One row per action: every key that triggers it, and its description."""
    rows: dict[str, tuple[list[str], str]] = {}
    for item in bindings:
        if not isinstance(item, Binding):
            continue
        keys, _description = rows.setdefault(item.action, ([], item.description or item.action))
        for key in item.key.split(","):
            shown = key_text(key.strip())
            if shown not in keys:
                keys.append(shown)
    return [(" / ".join(keys), description) for keys, description in rows.values()]


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    sections = []
    for title, targets in SECTIONS:
        rows: list[tuple[str, str]] = []
        for target in targets:
            module_name, class_name = target.split(":")
            cls = getattr(import_module(module_name), class_name)
            rows += rows_for(list(getattr(cls, "BINDINGS", [])))
        sections.append((title, rows + EXTRA_KEYS.get(title, [])))
    return sections


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
            yield Static("[b]portal-tui keys[/b]  (escape closes; ↑ ↓ pgup pgdn scroll)")
            for title, rows in help_sections():
                table = Table(
                    title=title,
                    title_justify="left",
                    title_style="bold",
                    box=None,
                    expand=True,
                    show_header=False,
                    pad_edge=False,
                )
                table.add_column("key", style="bold cyan", width=22)
                table.add_column("what", ratio=1)
                for key, what in rows:
                    table.add_row(key, what)
                yield Static(table, classes="help-section")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
