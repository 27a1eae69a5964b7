"""Creating a product and its price on Stripe as one resumable action.

The builder hands over a `SetupRequest` (what the admin filled in). `review()` lists exactly what will be sent.
`ProductSetup.run()` performs the steps — meter (if new), product (if new), price, archive of a replaced price — each
with an idempotency key derived from one key per action, so a retry after a network error replays Stripe's first
answer instead of creating a duplicate. Progress records what exists already: a half-finished action (product made,
price failed) resumes from where it stopped and never repeats a finished step.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.domain.pricing import PriceDraft

if TYPE_CHECKING:
    from portal_tui.services.gateway import StripeGateway

Aggregation = Literal["sum", "count", "last"]


@dataclass(frozen=True)
class NewMeter:
    """A billing meter to create inline with the price."""

    display_name: str
    event_name: str
    aggregation: Aggregation = "sum"
    customer_key: str = "stripe_customer_id"
    value_key: str = "value"

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "display_name": self.display_name,
            "event_name": self.event_name,
            "default_aggregation": {"formula": self.aggregation},
            "customer_mapping": {"type": "by_id", "event_payload_key": self.customer_key},
        }
        if self.aggregation != "count":
            params["value_settings"] = {"event_payload_key": self.value_key}
        return params


@dataclass
class SetupRequest:
    """What the admin asked for: a new product (or an existing one), a price, maybe a new meter or a replacement."""

    draft: PriceDraft
    product_name: str = ""
    product_description: str = ""
    existing_product_id: str | None = None
    new_meter: NewMeter | None = None
    replaces_price_id: str | None = None

    def product_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"name": self.product_name.strip()}
        if self.product_description.strip():
            params["description"] = self.product_description.strip()
        return params

    def price_params(self, product_id: str, meter_id: str | None) -> dict[str, Any]:
        draft = self.draft
        if self.new_meter is not None and meter_id is not None:
            draft = _with_meter(draft, meter_id)
        return dict(draft.to_stripe_params(product_id))

    def review(self) -> list[tuple[str, dict[str, Any]]]:
        """Each call that will be made, with its parameters, in order (placeholders for ids not known yet)."""
        calls: list[tuple[str, dict[str, Any]]] = []
        if self.new_meter is not None:
            calls.append(("POST /v1/billing/meters", self.new_meter.params()))
        product = self.existing_product_id or "(new product id)"
        if self.existing_product_id is None:
            calls.append(("POST /v1/products", self.product_params()))
        meter = "(new meter id)" if self.new_meter is not None else None
        calls.append(("POST /v1/prices", self.price_params(product, meter)))
        if self.replaces_price_id:
            calls.append((f"POST /v1/prices/{self.replaces_price_id}", {"active": False}))
        return calls


def _with_meter(draft: PriceDraft, meter_id: str) -> PriceDraft:
    from dataclasses import replace

    return replace(draft, meter_id=meter_id)


@dataclass
class SetupProgress:
    """What already exists on Stripe for this action; kept by the screen so a retry resumes instead of repeating."""

    action_key: str = field(default_factory=lambda: f"portal-tui-{uuid.uuid4()}")
    meter_id: str | None = None
    product_id: str | None = None
    price: dict[str, Any] | None = None
    archived: bool = False

    @property
    def price_id(self) -> str | None:
        return self.price["id"] if self.price else None

    def describe(self) -> str:
        done = [
            f"meter {self.meter_id}" if self.meter_id else "",
            f"product {self.product_id}" if self.product_id else "",
        ]
        made = ", ".join(part for part in done if part)
        return f"Already created: {made}" if made else "Nothing was created yet"


class ProductSetup:
    """Runs a SetupRequest against Stripe, resumable through its SetupProgress."""

    def __init__(self, gateway: StripeGateway, request: SetupRequest, progress: SetupProgress | None = None) -> None:
        self.gateway = gateway
        self.request = request
        self.progress = progress or SetupProgress()

    def run(self, on_step: Callable[[str], None] = lambda text: None) -> SetupProgress:
        request, progress, key = self.request, self.progress, self.progress.action_key
        if request.new_meter is not None and progress.meter_id is None:
            on_step("Creating meter…")
            meter = request.new_meter
            created = self.gateway.create_meter(
                meter.display_name,
                meter.event_name,
                meter.aggregation,
                meter.customer_key,
                meter.value_key,
                idempotency_key=f"{key}-meter",
            )
            progress.meter_id = created["id"]
        if progress.product_id is None:
            if request.existing_product_id:
                progress.product_id = request.existing_product_id
            else:
                on_step("Creating product…")
                product = self.gateway.create_product(
                    request.product_params()["name"],
                    request.product_params().get("description"),
                    idempotency_key=f"{key}-product",
                )
                progress.product_id = product["id"]
        if progress.price is None:
            on_step("Creating price…")
            params = request.price_params(progress.product_id, progress.meter_id)
            progress.price = self.gateway.create_price(params, idempotency_key=f"{key}-price")
        if request.replaces_price_id and not progress.archived:
            on_step(f"Archiving {request.replaces_price_id}…")
            self.gateway.update_price(request.replaces_price_id, {"active": False}, idempotency_key=f"{key}-archive")
            progress.archived = True
        on_step("Done")
        return progress
