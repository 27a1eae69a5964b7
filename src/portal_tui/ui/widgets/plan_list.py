"""The plan editor's list of plans, each marked ✓ / ✗ / ·, with the New and Delete buttons under it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, ListItem, ListView


class PlanList(Vertical):
    """The admin chooses the plan to edit (↑ ↓); the screen handles `#new-plan`, `#delete-plan` and highlights."""

    def __init__(self) -> None:
        super().__init__(id="plan-list-box")

    def compose(self) -> ComposeResult:
        yield ListView(id="plan-list")
        with Horizontal(id="plan-buttons"):
            yield Button("New", id="new-plan")
            yield Button("Delete", id="delete-plan", variant="error")

    @property
    def view(self) -> ListView:
        return self.query_one("#plan-list", ListView)

    async def rebuild(self, labels: list[str], selected: int | None) -> None:
        view = self.view
        await view.clear()
        await view.extend(ListItem(Label(label, markup=False)) for label in labels)
        if selected is not None and labels:
            view.index = min(selected, len(labels) - 1)

    def relabel(self, labels: list[str]) -> None:
        """New marks and names for the plans listed (same plans, same order)."""
        for item, text in zip(self.view.children, labels, strict=False):
            label = item.query(Label)
            if label:
                label.first(Label).update(text)
