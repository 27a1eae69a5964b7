"""The builder's preview: what a customer pays for the price being built, at sample quantities and at one you type.

It shows a `portal_tui.forms.price_form.Preview` (None: the price is not complete yet). Narrow terminals see only its
two-line compact form under the builder's form; ctrl+o gives it the whole screen (the screen's CSS decides which).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Static

from portal_tui.forms.price_form import Preview

INCOMPLETE = "Complete the price to see what a customer pays."


class PricePreview(VerticalScroll):
    """The price in words, a quantity → total table, and the breakdown at the quantity typed (#preview-quantity)."""

    _shown: tuple[Preview | None] | None = None  # what show() last drew

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-compact", markup=False)
        yield Label("What a customer pays", classes="section")
        yield Static("", id="summary", markup=False)
        yield Static("", id="samples")
        with Horizontal(classes="row"):
            yield Label("At quantity")
            yield Input(placeholder="e.g. 12000", id="preview-quantity", restrict=r"[0-9,_]*")
        yield Static("", id="preview-breakdown")
        yield Static("ctrl+o: back to the form", id="preview-help")

    def show(self, preview: Preview | None) -> None:
        # Shown again after every keystroke in the form; most (a name, a lookup key) change nothing here.
        if self._shown is not None and self._shown[0] == preview:
            return
        self._shown = (preview,)
        summary = self.query_one("#summary", Static)
        samples = self.query_one("#samples", Static)
        detail = self.query_one("#preview-breakdown", Static)
        compact = self.query_one("#preview-compact", Static)
        if preview is None:
            summary.update(INCOMPLETE)
            compact.update(Text(f"{INCOMPLETE}\nctrl+o: full preview", no_wrap=True))
            samples.update("")
            detail.update("")
            return
        summary.update(preview.summary)
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("Quantity", justify="right")
        # With extra currencies, a column per currency: what a customer billed in it pays.
        table.add_column(preview.currency.upper() if preview.others else "Customer pays", justify="right")
        for other in preview.others:
            table.add_column(other.code, justify="right")
        for index, (quantity, total) in enumerate(preview.samples):
            table.add_row(f"{quantity:,}", total, *(other.samples[index] for other in preview.others))
        samples.update(table)
        text = Text()
        for row in preview.rows:
            text.append(f"{row}\n")
        text.append(f"Total at {preview.quantity:,}: ", style="bold")
        text.append(preview.total, style="bold green")
        text.append(preview.period)
        for other in preview.others:
            text.append(f"\nBilled in {other.code}: ")
            text.append(other.total, style="bold green")
            text.append(preview.period)
        detail.update(text)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(preview.summary + "\n")
        line.append(f"At {preview.quantity:,}: ")
        line.append(preview.total, style="bold green")
        for other in preview.others:
            line.append(" · ")
            line.append(other.total, style="bold green")
        line.append(preview.period + " · ctrl+o: full preview", style="")
        compact.update(line)
