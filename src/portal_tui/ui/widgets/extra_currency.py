"""One extra currency of the price in the builder: its amount, or for a tiered price its amounts per tier.

A tiered price's extra currency has the price's own tier bounds (Stripe requires the same `up_to` in every currency),
shown read-only beside each row; only the per-unit price and flat fee are typed. Its inputs are plain Inputs, so
typing bubbles Input.Changed to the screen, which reads `entry()` into the form model. "Remove" (tab to it, enter)
asks the screen to drop the currency.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from portal_tui.forms.price_form import CurrencyInput, TierInput
from portal_tui.ui.widgets.field_error import FieldError


class ExtraCurrency(Vertical):
    """The amount (or tier amounts) of one extra currency, a Remove button, and its problems underneath."""

    DEFAULT_CSS = """
    ExtraCurrency { height: auto; }
    ExtraCurrency .currency-tier { height: auto; }
    ExtraCurrency .currency-bound { width: 18; padding: 0 1 0 0; color: $text-muted; }
    ExtraCurrency .currency-tier Input { width: 1fr; margin-right: 1; }
    ExtraCurrency .currency-note { width: 1fr; color: $text-muted; }
    ExtraCurrency .remove-currency { width: auto; margin-left: 1; }
    """

    def __init__(self, entry: CurrencyInput, *, tiered: bool, bounds: list[str], focus: bool = False) -> None:
        # No ID: a section removed and the currency added again at once would clash with itself while it goes.
        super().__init__(classes=f"currency-{entry.code}")
        self.code = entry.code
        self.start = entry  # what the inputs hold when (re)composed
        self.tiered = tiered
        self.bounds = bounds
        self.rows = min(len(bounds), len(entry.tiers))  # tier rows composed: one per bound the price has now
        self.focus_first = focus  # a currency just added: the cursor goes to its first amount

    def on_mount(self) -> None:
        if self.focus_first:
            self.query(Input).first().focus()

    def compose(self) -> ComposeResult:
        name = self.code.upper()
        remove = Button(f"Remove {name}", id=f"remove-{self.code}", classes="remove-currency")
        with Horizontal(classes="row"):
            if self.tiered:
                yield Label(f"{name} per tier")
                yield Static("per unit · flat fee, on the tiers above", classes="currency-note")
            else:
                yield Label(f"{name} amount")
                yield Input(self.start.amount, placeholder=f"in {name}", id=f"amount-{self.code}")
            yield remove
        if self.tiered:
            for bound, row in zip(self.bounds, self.start.tiers, strict=False):
                with Horizontal(classes="currency-tier"):
                    yield Static(bound, classes="currency-bound")
                    yield Input(row.unit_amount, placeholder="per unit", classes="currency-unit")
                    yield Input(row.flat_amount, placeholder="flat fee", classes="currency-flat")
        yield FieldError(id=f"error-currency-{self.code}")

    def entry(self) -> CurrencyInput:
        """The amounts as typed now."""
        if not self.tiered:
            return CurrencyInput(self.code, self.query_one(f"#amount-{self.code}", Input).value, self.start.tiers)
        rows = [
            TierInput("", row.query_one(".currency-unit", Input).value, row.query_one(".currency-flat", Input).value)
            for row in self.query(".currency-tier")
        ]
        return CurrencyInput(self.code, self.start.amount, rows)

    def fits(self, entry: CurrencyInput, *, tiered: bool, bounds: list[str]) -> bool:
        """Whether the rows on screen have the shape `entry` needs (else the screen composes them again)."""
        # By what it was composed with: a section just mounted has no rows yet and must not be rebuilt for that.
        # (The price's own tiers may have been empty for a moment, while its tier editor refilled: rows composed
        # then are fewer than the entry's, and come back once the tiers do.)
        return tiered == self.tiered and (not tiered or min(len(bounds), len(entry.tiers)) == self.rows)

    def reshape(self, entry: CurrencyInput, *, tiered: bool, bounds: list[str]) -> None:
        """Compose the rows again for another model or tier count, keeping what was typed."""
        self.start, self.tiered, self.bounds = entry, tiered, bounds
        self.rows = min(len(bounds), len(entry.tiers))
        self.call_later(self.recompose)

    def show_bounds(self, bounds: list[str]) -> None:
        self.bounds = bounds
        for label, bound in zip(self.query(".currency-bound").results(Static), bounds, strict=False):
            label.update(bound)
