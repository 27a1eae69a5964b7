"""The bottom line: the keys that work right now. One Static, redrawn when the bindings change.

Textual's Footer builds a widget per key; with the dozen bindings of a form that costs ~140 ms before the first frame.
This draws the same information as a single line of text, so start-up stays close to a bare Textual app.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    """`^s Save  ^n New plan  ? Help  ^q Quit … ^p palette` for the focused widget and its screen."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, _screen: object) -> None:
        self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        palette = None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action == "command_palette":
                palette = binding
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            style = "" if enabled else "dim"
            text.append(f" {self.app.get_key_display(binding)}", style=f"bold {style}".strip())
            text.append(f" {binding.description} ", style=style)
        if palette is not None:
            hint = Text(f" {self.app.get_key_display(palette)} palette ", style="bold")
            room = max(0, self.size.width - hint.cell_len)
            if text.cell_len > room:
                text.truncate(room, overflow="ellipsis")
            text.append(" " * max(0, room - text.cell_len))
            text.append_text(hint)
        return text
