"""The plan's quotas: one row per resource (label, the quota as typed, its unit), each with its error line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from portal_tui.domain.plans import Quota, Resource, unit_label
from portal_tui.ui.widgets.field_error import FieldError


def widget_key(resource_key: str) -> str:
    """A resource key as it may appear in a widget ID (`quota-<key>`, `unit-<key>`, `error-quota-<key>`)."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", resource_key)


class QuotaRows(Vertical):
    """The admin types each resource's quota (a number or 'unlimited'; empty = not offered)."""

    def __init__(self) -> None:
        super().__init__(id="quota-rows")

    async def rebuild(self, resources: Iterable[Resource]) -> None:
        # The new rows reuse the old rows' IDs: the old ones must be gone before they are mounted.
        await self.remove_children()
        await self.mount_all([widget for resource in resources for widget in self._row(resource)])

    async def add(self, resource: Resource) -> None:
        await self.mount_all(self._row(resource))

    def _row(self, resource: Resource) -> list[Horizontal | FieldError]:
        key = widget_key(resource.key)
        row = Horizontal(
            Label(resource.label),
            Input(placeholder="—", id=f"quota-{key}"),
            Static(resource.unit, classes="unit", id=f"unit-{key}", markup=False),
            classes="row",
        )
        return [row, FieldError(id=f"error-quota-{key}")]

    def show_units(self, resources: Iterable[Resource], quotas: Mapping[str, Quota]) -> None:
        for resource in resources:
            self.show_unit(resource, quotas.get(resource.key))

    def show_unit(self, resource: Resource, quota: Quota | None) -> None:
        """ "1 server", "4 servers": the unit beside a quota agrees with it."""
        units = self.query(f"#unit-{widget_key(resource.key)}")
        if units:
            units.first(Static).update(unit_label(resource.unit, quota))
