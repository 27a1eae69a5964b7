"""ProductSetup against the sandbox over HTTP: replacing a Dashboard-like product's default price, lookup keys held by
archived prices, resuming after a failure, and orphans left by a changed form. Cheaper than driving the screen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import stripe

from portal_tui.domain.pricing import PriceDraft, PricingModel
from portal_tui.sandbox import Sandbox
from portal_tui.services.errors import PortalError
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from portal_tui.services.product_setup import (
    LookupKeyTakenError,
    NewMeter,
    ProductSetup,
    SetupProgress,
    SetupRequest,
)
from tests.conftest import TEST_KEY


def gateway(sandbox: Sandbox) -> StripeGateway:
    return StripeGateway(parse_key(TEST_KEY), api_base=sandbox.url, retry_delay=0.01)


def flat(amount: int, *, lookup_key: str | None = None, transfer: bool = False) -> PriceDraft:
    draft = PriceDraft(currency="usd", unit_amount=Decimal(amount))
    draft.lookup_key = lookup_key
    draft.transfer_lookup_key = transfer
    return draft


def sent(sandbox: Sandbox, path: str) -> list[dict[str, Any]]:
    return [r.params for r in sandbox.requests if r.method == "POST" and r.path == path]


def price_with_key(sandbox: Sandbox, key: str) -> dict[str, Any]:
    return next(p for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == key)


def test_seeded_products_have_a_default_price_like_dashboard_ones(seeded_sandbox: Sandbox) -> None:
    products = seeded_sandbox.test_world.objects["product"].values()
    assert products and all(p["default_price"] for p in products)
    pro = price_with_key(seeded_sandbox, "pro_monthly")
    assert seeded_sandbox.test_world.objects["product"][pro["product"]]["default_price"] == pro["id"]


def test_replacing_a_default_price_moves_the_default_then_archives(seeded_sandbox: Sandbox) -> None:
    old = price_with_key(seeded_sandbox, "pro_monthly")
    product_id = old["product"]
    request = SetupRequest(
        draft=flat(2500, lookup_key="pro_monthly", transfer=True),
        existing_product_id=product_id,
        replaces_price_id=old["id"],
        replaced_is_default=True,
    )
    review = [call for call, _ in request.review()]
    assert review == [
        "POST /v1/prices",
        f"POST /v1/products/{product_id} · Make the new price the product's default",
        f"POST /v1/prices/{old['id']}",
    ]
    progress = ProductSetup(gateway(seeded_sandbox), request).run()
    new_id = progress.price_id
    product = seeded_sandbox.test_world.objects["product"][product_id]
    assert product["default_price"] == new_id
    assert old["active"] is False and old["lookup_key"] is None
    active = [
        p for p in seeded_sandbox.test_world.objects["price"].values() if p["product"] == product_id and p["active"]
    ]
    assert {p["id"] for p in active} == {new_id, price_with_key(seeded_sandbox, "pro_yearly")["id"]}
    assert sent(seeded_sandbox, f"/v1/products/{product_id}") == [{"default_price": new_id}]
    assert progress.default_moved and progress.archived


def test_replacing_a_price_that_is_not_the_default_leaves_the_default(seeded_sandbox: Sandbox) -> None:
    old = price_with_key(seeded_sandbox, "pro_yearly")
    product = seeded_sandbox.test_world.objects["product"][old["product"]]
    default_before = product["default_price"]
    request = SetupRequest(
        draft=flat(24000, lookup_key="pro_yearly", transfer=True),
        existing_product_id=old["product"],
        replaces_price_id=old["id"],
        replaced_is_default=False,
    )
    assert all("/v1/products/" not in call for call, _ in request.review())
    ProductSetup(gateway(seeded_sandbox), request).run()
    assert product["default_price"] == default_before and old["active"] is False
    assert sent(seeded_sandbox, f"/v1/products/{old['product']}") == []


def test_archive_failure_resumes_without_a_second_price_or_default_change(seeded_sandbox: Sandbox) -> None:
    old = price_with_key(seeded_sandbox, "pro_monthly")
    request = SetupRequest(
        draft=flat(2500, lookup_key="pro_monthly", transfer=True),
        existing_product_id=old["product"],
        replaces_price_id=old["id"],
    )
    assert any("(if the old price is its default)" in call for call, _ in request.review())
    seeded_sandbox.faults.add(method="POST", path=f"/v1/prices/{old['id']}", kind="500", times=3)
    progress = SetupProgress()
    with pytest.raises(PortalError):
        ProductSetup(gateway(seeded_sandbox), request, progress).run()
    assert progress.price is not None and progress.default_moved and not progress.archived
    # The retry only archives: the review lists that one call.
    assert [call for call, _ in request.review(progress)] == ["POST /v1/prices", f"POST /v1/prices/{old['id']}"]
    prices_before = len(seeded_sandbox.test_world.objects["price"])
    ProductSetup(gateway(seeded_sandbox), request, progress).run()
    assert len(seeded_sandbox.test_world.objects["price"]) == prices_before
    assert old["active"] is False
    assert len(sent(seeded_sandbox, f"/v1/products/{old['product']}")) == 1


def test_the_sandbox_keeps_lookup_keys_on_archived_prices(seeded_sandbox: Sandbox) -> None:
    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": seeded_sandbox.url})
    old = price_with_key(seeded_sandbox, "team_seats")
    product_id = old["product"]
    replacement = client.v1.prices.create(
        params={"product": product_id, "currency": "usd", "unit_amount": 100, "lookup_key": "held"}
    )
    client.v1.prices.update(replacement.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.prices.create(
            params={"product": product_id, "currency": "usd", "unit_amount": 200, "lookup_key": "held"}
        )
    assert refused.value.param == "lookup_key" and replacement.id in str(refused.value.user_message)
    moved = client.v1.prices.create(
        params={
            "product": product_id,
            "currency": "usd",
            "unit_amount": 200,
            "lookup_key": "held",
            "transfer_lookup_key": True,
        }
    )
    assert moved.lookup_key == "held"
    assert seeded_sandbox.test_world.objects["price"][replacement.id]["lookup_key"] is None


def test_a_key_held_by_an_archived_price_stops_before_anything_is_created(seeded_sandbox: Sandbox) -> None:
    held = price_with_key(seeded_sandbox, "team_seats")
    products = seeded_sandbox.test_world.objects["product"]
    products[held["product"]]["default_price"] = None  # so the seeded price can be archived
    held["active"] = False
    request = SetupRequest(draft=flat(500, lookup_key="team_seats"), product_name="Seats 2027")
    before = len(products)
    with pytest.raises(LookupKeyTakenError) as taken:
        ProductSetup(gateway(seeded_sandbox), request).run()
    assert f"held by an archived price {held['id']}" in taken.value.message
    assert len(products) == before and sent(seeded_sandbox, "/v1/prices") == []
    # With the transfer ticked it goes through and the archived price gives the key up.
    request.draft.transfer_lookup_key = True
    progress = ProductSetup(gateway(seeded_sandbox), request).run()
    assert progress.price is not None and progress.price["lookup_key"] == "team_seats"
    assert held["lookup_key"] is None


def test_an_active_holder_is_named_as_the_price(seeded_sandbox: Sandbox) -> None:
    held = price_with_key(seeded_sandbox, "pro_monthly")
    request = SetupRequest(draft=flat(500, lookup_key="pro_monthly"), product_name="Pro 2027")
    with pytest.raises(LookupKeyTakenError) as taken:
        ProductSetup(gateway(seeded_sandbox), request).run()
    assert f"held by the price {held['id']}" in taken.value.message


def test_resume_reuses_the_meter_and_product_made_before_the_failure(sandbox: Sandbox) -> None:
    meter = NewMeter("GB stored", "gb_stored")
    draft = PriceDraft(currency="usd", model=PricingModel.USAGE_PER_UNIT, unit_amount=Decimal(3), meter_id="mtr_new")
    request = SetupRequest(draft=draft, product_name="Storage", new_meter=meter)
    sandbox.faults.add(method="POST", path="/v1/prices", kind="500", times=3)
    progress = SetupProgress()
    with pytest.raises(PortalError):
        ProductSetup(gateway(sandbox), request, progress).run()
    assert progress.describe().startswith("Already created: meter mtr_") and "product prod_" in progress.describe()
    assert [call for call, _ in request.review(progress)] == ["POST /v1/prices"]
    # A lost response after the price was made: the replay of the same idempotency key returns it, no duplicate.
    sandbox.faults.add(method="POST", path="/v1/prices", kind="drop", when="after")
    ProductSetup(gateway(sandbox), request, progress).run()
    world = sandbox.test_world
    assert len(world.objects["product"]) == 1 and len(world.objects["price"]) == 1
    assert len(world.objects["billing.meter"]) == 1
    price = next(iter(world.objects["price"].values()))
    assert price["recurring"]["meter"] == progress.meter_id and price["product"] == progress.product_id


def test_a_renamed_product_leaves_the_first_one_as_an_orphan(sandbox: Sandbox) -> None:
    request = SetupRequest(draft=flat(2000), product_name="First name")
    sandbox.faults.add(method="POST", path="/v1/prices", kind="500", times=3)
    progress = SetupProgress()
    with pytest.raises(PortalError):
        ProductSetup(gateway(sandbox), request, progress).run()
    first = progress.product_id
    assert first is not None and progress.orphans(request) == []
    request.product_name = "Second name"
    assert progress.orphans(request) == [first]
    assert [call for call, _ in request.review(progress)] == ["POST /v1/products", "POST /v1/prices"]
    ProductSetup(gateway(sandbox), request, progress).run()
    assert progress.product_id != first and len(sandbox.test_world.objects["product"]) == 2
    second = progress.product_id
    # Back to the first name: the first product is reused and the second one is the orphan.
    request.product_name = "First name"
    assert progress.orphans(request) == [second]


def test_a_replaced_price_without_key_or_default_still_names_its_successor(sandbox: Sandbox) -> None:
    from portal_tui.services.plan_check import find_replacement

    g = gateway(sandbox)
    first = ProductSetup(g, SetupRequest(draft=flat(1000), product_name="Plain")).run()
    old_id = first.price["id"]
    assert g.retrieve_price(old_id)["product"]["default_price"] is None  # a builder-made product has no default
    second = ProductSetup(
        g,
        SetupRequest(
            draft=flat(1200), existing_product_id=first.product_id, replaces_price_id=old_id, replaced_is_default=False
        ),
    ).run()
    old = g.retrieve_price(old_id)
    assert old["active"] is False
    found = find_replacement(old, g.retrieve_price, g.find_price_by_lookup_key)
    assert found is not None and found["id"] == second.price["id"]
