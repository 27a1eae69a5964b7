"""The bottom line: the keys that work right now. One Static, redrawn when the bindings change. It brings the status
line (widgets/status_line.py) with it, so every screen that shows its keys shows notices on the row above them.

Textual's Footer builds a widget per key; with the dozen bindings of a form that costs ~140 ms before the first frame.
This draws the same information as a single line of text, so start-up stays close to a bare Textual app.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, Static

from portal_tui.ui.widgets.status_line import StatusLine


class KeyBar(Static):
    """`^s Save  ^n New plan  ? Help  ^q Quit … ^p palette` for the focused widget and its screen."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        parent = self.parent
        if isinstance(parent, Widget) and not parent.query_children(StatusLine):
            parent.mount(StatusLine(), before=self)
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, _screen: object) -> None:
        self.refresh()

    def render(self) -> Text:
        # Left: the keys of the focused widget and screen (cut with … when too long). Right, always visible: the
        # app's own keys (home, help, quit) and the palette, so "? Help" never falls off an 80-column terminal.
        # When the roomy layout does not fit, a compact one (one space apart, "^p" alone) is tried first: at 80
        # columns Home then shows all five steps plus ? Help and ^q Quit.
        left, right = self.keys(compact=False)
        if left.cell_len + right.cell_len > self.size.width:
            left, right = self.keys(compact=True)
        room = max(0, self.size.width - right.cell_len)
        if left.cell_len > room:
            left.truncate(room, overflow="ellipsis")
        left.append(" " * max(0, room - left.cell_len))
        left.append_text(right)
        return left

    def keys(self, *, compact: bool) -> tuple[Text, Text]:
        gap = "" if compact else " "
        left = Text(no_wrap=True, overflow="ellipsis")
        right = Text(no_wrap=True)
        if isinstance(self.screen.focused, Input):
            # Digits, h and ? go into the field: the function keys still switch steps.
            left.append(" F1-F6", style="bold")
            left.append(f" step{gap}")
            left.append(" F7", style="bold")
            left.append(f" home{gap}")
        seen: set[str] = set()
        palette = None
        here = f"open_step('{getattr(self.app, 'current_mode', '')}')"
        for node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action == "command_palette":
                palette = binding
                continue
            if not binding.show or binding.action in seen or binding.action == here:
                continue  # (a key to the step already on screen does nothing)
            seen.add(binding.action)
            style = "" if enabled else "dim"
            target = right if node is self.app else left
            target.append(f" {self.app.get_key_display(binding)}", style=f"bold {style}".strip())
            target.append(f" {binding.description}{gap}", style=style)
        if palette is not None:
            right.append(f" {self.app.get_key_display(palette)}", style="bold")
            right.append(" " if compact else " palette ")
        return left, right
