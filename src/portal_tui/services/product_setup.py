"""Creating a product and its price on Stripe as one resumable action.

The builder hands over a `SetupRequest` (what the admin filled in). `review()` lists exactly what will be sent.
`ProductSetup.run()` first checks that the lookup key is free (or to be transferred), then performs the steps — meter
(if new), product (if new), price, archive of a replaced price — each with an idempotency key derived from one key per
action and the step's parameters, so a retry after a network error replays Stripe's first answer instead of creating a
duplicate. Progress records what exists already: a half-finished action (product made, price failed) resumes from where
it stopped, reusing the product even when only the price was changed in between.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from portal_tui.domain.catalog import meter_create_params
from portal_tui.domain.pricing import PriceDraft
from portal_tui.services.errors import InvalidRequestError

if TYPE_CHECKING:
    from portal_tui.services.gateway import StripeGateway

Aggregation = Literal["sum", "count", "last"]

# Metadata key on an archived price naming the price that replaced it (read by plan_check.find_replacement).
REPLACED_BY = "portal_tui_replaced_by"


@dataclass(frozen=True)
class NewMeter:
    """A billing meter to create inline with the price."""

    display_name: str
    event_name: str
    aggregation: Aggregation = "sum"
    customer_key: str = "stripe_customer_id"
    value_key: str = "value"

    def params(self) -> dict[str, Any]:
        return meter_create_params(
            self.display_name, self.event_name, self.aggregation, self.customer_key, self.value_key
        )


@dataclass
class SetupRequest:
    """What the admin asked for: a new product (or an existing one), a price, maybe a new meter or a replacement."""

    draft: PriceDraft
    product_name: str = ""
    product_description: str = ""
    existing_product_id: str | None = None
    new_meter: NewMeter | None = None
    replaces_price_id: str | None = None
    # Whether the replaced price is its product's default_price (Dashboard-made products have one); None: not known
    # yet, checked when creating. Stripe refuses to archive a default price, so the default moves to the new price.
    replaced_is_default: bool | None = None

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

    def review(self, progress: SetupProgress | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Each call that will be made, with its parameters, in order (placeholders for ids not known yet).

        With `progress` from an unfinished attempt, what already exists for this request is reused, not listed.
        """
        calls: list[tuple[str, dict[str, Any]]] = []
        made_meter = progress.meter_for(self) if progress else None
        made_product = progress.product_for(self) if progress else None
        if self.new_meter is not None and made_meter is None:
            calls.append(("POST /v1/billing/meters", self.new_meter.params()))
        if self.existing_product_id is None and made_product is None:
            calls.append(("POST /v1/products", self.product_params()))
        product = self.existing_product_id or made_product or "(new product id)"
        meter = made_meter or ("(new meter id)" if self.new_meter is not None else None)
        calls.append(("POST /v1/prices", self.price_params(product, meter)))
        if self.replaces_price_id:
            if self.replaced_is_default is not False and not (progress and progress.default_moved):
                step = "Make the new price the product's default"
                if self.replaced_is_default is None:
                    step += " (if the old price is its default)"
                calls.append((f"POST /v1/products/{product} · {step}", {"default_price": "(new price id)"}))
            calls.append(
                (
                    f"POST /v1/prices/{self.replaces_price_id}",
                    {"active": False, "metadata": {REPLACED_BY: "(new price id)"}},
                )
            )
        return calls


def _with_meter(draft: PriceDraft, meter_id: str) -> PriceDraft:
    from dataclasses import replace

    return replace(draft, meter_id=meter_id)


def fingerprint(params: Any) -> str:
    """A short stable digest of request parameters: the same parameters always get the same idempotency key."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class LookupKeyTakenError(InvalidRequestError):
    """The lookup key belongs to another price (active or archived) and the admin did not ask to transfer it."""

    title = "The lookup key is taken"

    def __init__(self, lookup_key: str, holder: dict[str, Any]) -> None:
        self.lookup_key = lookup_key
        self.holder_id = str(holder.get("id", "another price"))
        # Archived prices keep their lookup key on Stripe and still block it until it is transferred.
        state = "an archived price" if holder.get("active") is False else "the price"
        super().__init__(
            f"'{lookup_key}' is held by {state} {self.holder_id}. Tick 'Transfer the lookup key' to move it to the "
            "new price, or choose another key.",
            param="lookup_key",
            hint="Nothing was created.",
        )


@dataclass
class SetupProgress:
    """What already exists on Stripe for this action; kept by the screen so a retry resumes instead of repeating.

    Made objects are remembered by the fingerprint of their parameters: a retry after the admin changed only the
    price reuses the product made earlier, while a changed product name or description needs a new product.
    """

    action_key: str = field(default_factory=lambda: f"portal-tui-{uuid.uuid4()}")
    meters_made: dict[str, str] = field(default_factory=dict)  # fingerprint of the meter params -> meter id
    products_made: dict[str, str] = field(default_factory=dict)  # fingerprint of the product params -> product id
    meter_id: str | None = None  # the meter and product the price was (or is being) created with
    product_id: str | None = None
    price: dict[str, Any] | None = None
    default_moved: bool = False  # the replaced price's product now has the new price as its default
    archived: bool = False

    @property
    def price_id(self) -> str | None:
        return self.price["id"] if self.price else None

    def meter_for(self, request: SetupRequest) -> str | None:
        """The meter made earlier in this action for the request's new meter, if any."""
        if request.new_meter is None:
            return None
        return self.meters_made.get(fingerprint(request.new_meter.params()))

    def product_for(self, request: SetupRequest) -> str | None:
        """The product made earlier in this action with the request's name and description, if any."""
        if request.existing_product_id is not None:
            return None
        return self.products_made.get(fingerprint(request.product_params()))

    def orphans(self, request: SetupRequest) -> list[str]:
        """Objects made earlier in this action that the request would no longer use."""
        used = {self.meter_for(request), self.product_for(request)}
        made = [*self.meters_made.values(), *self.products_made.values()]
        return [made_id for made_id in made if made_id not in used]

    def describe(self) -> str:
        made = ", ".join(
            [*(f"meter {m}" for m in self.meters_made.values()), *(f"product {p}" for p in self.products_made.values())]
        )
        return f"Already created: {made}" if made else "Nothing was created yet"


def find_lookup_key_holder(gateway: StripeGateway, lookup_key: str) -> dict[str, Any] | None:
    """The price holding `lookup_key`, active or archived (see `StripeGateway.find_lookup_key_holder`)."""
    return gateway.find_lookup_key_holder(lookup_key)


def set_default_price(gateway: StripeGateway, product_id: str, price_id: str, *, idempotency_key: str) -> None:
    """Stripe refuses to archive a product's default price: the replacement becomes the default first."""
    gateway.update_product(product_id, {"default_price": price_id}, idempotency_key=idempotency_key)


class ProductSetup:
    """Runs a SetupRequest against Stripe, resumable through its SetupProgress."""

    def __init__(self, gateway: StripeGateway, request: SetupRequest, progress: SetupProgress | None = None) -> None:
        self.gateway = gateway
        self.request = request
        self.progress = progress or SetupProgress()

    def run(self, on_step: Callable[[str], None] = lambda text: None) -> SetupProgress:
        request, progress, key = self.request, self.progress, self.progress.action_key
        draft = request.draft
        if progress.price is None and draft.lookup_key and not draft.transfer_lookup_key:
            # Checked first so a taken key stops the action before anything exists (no orphan product).
            on_step("Checking the lookup key…")
            holder = find_lookup_key_holder(self.gateway, draft.lookup_key)
            if holder is not None:
                raise LookupKeyTakenError(draft.lookup_key, holder)
        meter_id: str | None = None
        if request.new_meter is not None:
            meter_id = progress.meter_for(request)
            if meter_id is None:
                on_step("Creating meter…")
                meter = request.new_meter
                spec = fingerprint(meter.params())
                created = self.gateway.create_meter(
                    meter.display_name,
                    meter.event_name,
                    meter.aggregation,
                    meter.customer_key,
                    meter.value_key,
                    idempotency_key=f"{key}-meter-{spec}",
                )
                meter_id = progress.meters_made[spec] = created["id"]
        progress.meter_id = meter_id
        product_id = request.existing_product_id or progress.product_for(request)
        if product_id is None:
            on_step("Creating product…")
            params = request.product_params()
            spec = fingerprint(params)
            product = self.gateway.create_product(
                params["name"], params.get("description"), idempotency_key=f"{key}-product-{spec}"
            )
            product_id = progress.products_made[spec] = product["id"]
        progress.product_id = product_id
        if progress.price is None:
            on_step("Creating price…")
            params = request.price_params(product_id, meter_id)
            # Keyed by the parameters: a retry of the same price replays Stripe's answer, a changed one is new.
            progress.price = self.gateway.create_price(params, idempotency_key=f"{key}-price-{fingerprint(params)}")
        if request.replaces_price_id and not progress.default_moved:
            # Stripe refuses to archive a product's default price: the new price becomes the default first.
            old = self.gateway.retrieve_price(request.replaces_price_id)
            owner = old.get("product")
            owner_id = owner.get("id") if isinstance(owner, dict) else owner
            default = owner.get("default_price") if isinstance(owner, dict) else None
            default_id = default.get("id") if isinstance(default, dict) else default
            if owner_id and default_id == request.replaces_price_id:
                on_step("Making the new price the product's default…")
                set_default_price(self.gateway, str(owner_id), progress.price["id"], idempotency_key=f"{key}-default")
            progress.default_moved = True
        if request.replaces_price_id and not progress.archived:
            on_step(f"Archiving {request.replaces_price_id}…")
            # The archived price names its successor, so plans that link it can be offered the new one.
            params = {"active": False, "metadata": {REPLACED_BY: progress.price["id"]}}
            self.gateway.update_price(request.replaces_price_id, params, idempotency_key=f"{key}-archive")
            progress.archived = True
        on_step("Done")
        return progress
