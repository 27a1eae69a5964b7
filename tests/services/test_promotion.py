"""Promotion against the sandbox over HTTP, both modes in one server: export the seeded test catalog, apply it to the
empty live world, resume after faults, replace, report drift. Objects are counted in the sandbox's worlds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portal_tui.domain.catalog import PRODUCT_KEY_METADATA, Catalog, CatalogPrice
from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.domain.pricing import CurrencyAmounts, PriceDraft, PricingModel
from portal_tui.pricing import amount_for
from portal_tui.sandbox import Sandbox
from portal_tui.services.catalog_store import CatalogStore
from portal_tui.services.errors import StripeUnreachableError
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from portal_tui.services.product_setup import REPLACED_BY, LookupKeyTakenError
from portal_tui.services.promotion import (
    REPLACES,
    CatalogConflictError,
    MissingLookupKeyError,
    PlannedRequest,
    UnsupportedPriceError,
    apply_catalog,
    diff_catalog,
    export_catalog,
    flatten,
    idempotency_key,
    link_live_prices,
    lookup_keys_of,
    plan_apply,
    plan_drift,
    set_lookup_key,
)
from tests.conftest import LIVE_KEY, TEST_KEY
from tests.domain.test_catalog import multi_currency

# Seed prices without a lookup key, and the keys the tests give them.
UNKEYED = {
    "Storage volume": "storage_volume",
    "Compute per hour": "compute_hours",
    "Bandwidth per GB": "bandwidth",
    "Setup fee": "setup_fee",
    "Tokyo monthly": "tokyo_monthly",
}
ALL_KEYS = {
    "starter_monthly",
    "pro_monthly",
    "pro_yearly",
    "team_seats",
    "api_calls",
    "eu_monthly",
    "worldwide_monthly",
    "support_seats",
    *UNKEYED.values(),
}


def gateway(sandbox: Sandbox, key: str, *, retries: int = 2) -> StripeGateway:
    return StripeGateway(parse_key(key), api_base=sandbox.url, retry_delay=0.001, max_retries=retries)


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """Seeded test world, empty live world, every active seed price keyed."""
    with Sandbox(seed=True) as server:
        for price in server.worlds[False].objects["price"].values():
            if price["active"] and not price["lookup_key"]:
                price["lookup_key"] = UNKEYED[price["nickname"]]
        yield server


def gateway_test_mode(world: Sandbox) -> StripeGateway:
    return gateway(world, TEST_KEY)


def live_gateway(world: Sandbox, retries: int = 2) -> StripeGateway:
    return gateway(world, LIVE_KEY, retries=retries)


def live_objects(sandbox: Sandbox) -> dict[str, int]:
    objects = sandbox.worlds[True].objects
    return {kind: len(objects[kind]) for kind in ("billing.meter", "product", "price")}


def live_price(sandbox: Sandbox, lookup_key: str) -> dict[str, Any]:
    return next(p for p in sandbox.worlds[True].objects["price"].values() if p["lookup_key"] == lookup_key)


def promoted(world: Sandbox) -> tuple[Catalog, dict[str, str]]:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    result = apply_catalog(catalog, live_gateway(world))
    return catalog, result.price_ids


# ---- export --------------------------------------------------------------------------------------------------------


def test_a_price_without_lookup_key_is_refused_with_a_suggestion_until_one_is_set() -> None:
    with Sandbox(seed=True) as server:
        test = gateway(server, TEST_KEY)
        # an archived price elsewhere still holds the key the setup fee would be offered: the next one is
        setup_product = next(p for p in server.worlds[False].objects["product"].values() if p["name"] == "Setup fee")
        old = test.create_price(
            {"product": setup_product["id"], "currency": "usd", "unit_amount": 100, "lookup_key": "setup_fee_one_time"},
            idempotency_key="old-setup",
        )
        test.update_price(old["id"], {"active": False})
        with pytest.raises(MissingLookupKeyError) as caught:
            export_catalog(test, all_prices=True)
        error = caught.value
        suggestions = dict(error.missing)
        assert len(suggestions) == 5 and error.price_id in suggestions
        by_nickname = {p["nickname"]: p["id"] for p in server.worlds[False].objects["price"].values()}
        assert suggestions[by_nickname["Setup fee"]] == "setup_fee_one_time_2"
        assert suggestions[by_nickname["Tokyo monthly"]] == "tokyo_region_monthly_jpy"
        assert suggestions[by_nickname["Storage volume"]] == "block_storage_monthly"
        assert error.suggestion in error.hint  # type: ignore[operator]
        with pytest.raises(LookupKeyTakenError):
            set_lookup_key(test, by_nickname["Setup fee"], "pro_monthly")
        for price_id, suggestion in error.missing:
            assert set_lookup_key(test, price_id, suggestion)["lookup_key"] == suggestion
        catalog = export_catalog(test, all_prices=True)
        assert {p.lookup_key for p in catalog.prices} >= set(suggestions.values())
        assert len(catalog.prices) == 13


def test_export_describes_every_model_its_product_default_and_meter(world: Sandbox) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    assert catalog.validate() == []
    assert {p.lookup_key for p in catalog.prices} == ALL_KEYS  # the archived legacy price is not exported
    assert {p.draft.model for p in catalog.prices} == set(PricingModel)
    setup = catalog.price("setup_fee")
    assert setup is not None and setup.draft.recurring is False and setup.product == "setup-fee"
    compute = catalog.price("compute_hours")
    assert compute is not None and compute.meter == "compute_minutes" and compute.draft.package_size == 60
    pro, yearly = catalog.price("pro_monthly"), catalog.price("pro_yearly")
    assert pro is not None and pro.default and yearly is not None and not yearly.default
    assert pro.product == "pro-vps" and catalog.product("pro-vps") is not None
    meter = catalog.meter("api_calls")
    assert meter is not None and meter.aggregation == "sum" and meter.display_name == "API calls"
    assert {m.event_name for m in catalog.meters} == {"api_calls", "compute_minutes", "bandwidth_gb"}
    # only the given prices, with what they need
    subset = export_catalog(gateway_test_mode(world), price_ids=[next(iter(_ids(world, "api_calls")))])
    assert [p.lookup_key for p in subset.prices] == ["api_calls"]
    assert [m.event_name for m in subset.meters] == ["api_calls"] and len(subset.products) == 1


def _ids(sandbox: Sandbox, *lookup_keys: str) -> list[str]:
    prices = sandbox.worlds[False].objects["price"].values()
    return [next(p["id"] for p in prices if p["lookup_key"] == key) for key in lookup_keys]


def test_prices_the_catalog_cannot_describe_are_refused_by_name(world: Sandbox) -> None:
    test = gateway_test_mode(world)
    setup_product = next(p for p in world.worlds[False].objects["product"].values() if p["name"] == "Setup fee")
    custom = test.create_price(
        {"product": setup_product["id"], "currency": "usd", "custom_unit_amount": {"enabled": True, "minimum": 500}},
        idempotency_key="custom-amount",
    )
    with pytest.raises(UnsupportedPriceError) as caught:
        export_catalog(test, price_ids=[custom["id"]])
    assert custom["id"] in caught.value.message and "customer choose" in caught.value.message


def multi_currency_prices(world: Sandbox) -> list[str]:
    """The two prices made in the test world through the real client, on the seeded Pro product."""
    test = gateway_test_mode(world)
    (pro,) = _ids(world, "pro_monthly")
    product = str(world.worlds[False].objects["price"][pro]["product"])
    ids = []
    for price in multi_currency().prices:  # a flat and a graduated price in USD, EUR and JPY
        params = price.create_params(product, None)
        ids.append(str(test.create_price(params, idempotency_key=f"multi-{price.lookup_key}")["id"]))
    return ids


def test_multi_currency_prices_are_exported_applied_and_compared(world: Sandbox, tmp_path: Path) -> None:
    ids = multi_currency_prices(world)
    test = gateway_test_mode(world)
    catalog = export_catalog(test, price_ids=ids)
    flat, graduated = catalog.price("pro_multi"), catalog.price("seats_multi")
    assert flat is not None and graduated is not None
    wanted = multi_currency()
    assert flat.draft.currency_options == wanted.prices[0].draft.currency_options
    assert graduated.draft.currency_options == wanted.prices[1].draft.currency_options
    store = CatalogStore(tmp_path / "catalog.toml")
    store.save(catalog)
    assert "[[prices.currency_options.tiers]]" in store.path.read_text()
    catalog = store.load()  # through the file, as the CLI does
    assert catalog.price("seats_multi") == graduated

    live = live_gateway(world)
    result = apply_catalog(catalog, live)
    made = live_price(world, "seats_multi")
    assert result.price_ids["seats_multi"] == made["id"]
    # The live price bills in every currency exactly as the test one does.
    test_price = test.retrieve_price(ids[1])
    live_seats = live.retrieve_price(made["id"])
    for code in ("usd", "eur", "jpy"):
        for quantity in (1, 10, 11, 40):
            assert amount_for(live_seats, quantity, currency=code) == amount_for(test_price, quantity, currency=code)
    assert amount_for(live_seats, 12, currency="jpy") == 10 * 700 + 1400 + 2 * 560
    assert {item.state for item in diff_catalog(catalog, live).items if item.kind == "price"} == {"same"}
    writes = world.writes(live=True)
    assert apply_catalog(catalog, live).writes == 0 and world.writes(live=True) == writes

    # A changed EUR amount (and a currency added) is a difference, named by currency.
    changed = store.load()
    pro_multi = changed.price("pro_multi")
    assert pro_multi is not None
    pro_multi.draft.currency_options["eur"].unit_amount = Decimal(1900)
    pro_multi.draft.currency_options["gbp"] = CurrencyAmounts(Decimal(1700))
    status = diff_catalog(changed, live).state_of_price("pro_multi")
    assert status is not None and status.state == "differs"
    assert [d.text() for d in status.differences] == ["EUR amount: €19.00 → €18.00", "GBP amounts: £17.00 → none"]
    planned = [r for r in plan_apply(changed, diff_catalog(changed, live), replace=True) if r.action == "create_price"]
    assert "currency_options[eur][unit_amount]=1900" in planned[0].text()


# ---- apply ---------------------------------------------------------------------------------------------------------


def test_apply_to_an_empty_live_account_then_nothing_is_pending_and_a_second_run_writes_nothing(
    world: Sandbox, tmp_path: Path
) -> None:
    store = CatalogStore(tmp_path / "catalog.toml")
    store.save(export_catalog(gateway_test_mode(world), all_prices=True))
    catalog = store.load()  # through the file, as the CLI does
    live = live_gateway(world)
    before = diff_catalog(catalog, live)
    assert before.mode == "live" and before.pending
    assert {item.state for item in before.items} == {"create"}
    result = apply_catalog(catalog, live)
    assert live_objects(world) == {"billing.meter": 3, "product": 12, "price": 13}
    assert set(result.price_ids) == ALL_KEYS and result.skipped == []
    for key, price_id in result.price_ids.items():
        assert live_price(world, key)["id"] == price_id and price_id.startswith("price_1PortalLive")
    assert result.writes == world.writes(live=True) == 3 + 12 + 13 + 12  # every product gets its default price
    assert world.writes(live=False) == 0
    products = world.worlds[True].objects["product"].values()
    assert all(p["metadata"][PRODUCT_KEY_METADATA] for p in products)
    pro = live_price(world, "pro_monthly")
    assert world.worlds[True].objects["product"][pro["product"]]["default_price"] == pro["id"]
    api = live_price(world, "api_calls")
    assert world.worlds[True].objects["billing.meter"][api["recurring"]["meter"]]["event_name"] == "api_calls"

    after = diff_catalog(catalog, live)
    assert not after.pending, after.to_text()
    assert {item.state for item in after.items} == {"same"}
    assert "Nothing pending" in after.to_text() and after.to_json()["pending"] is False
    assert plan_apply(catalog, after) == []
    writes = world.writes(live=True)
    again = apply_catalog(catalog, live)
    assert again.writes == 0 and world.writes(live=True) == writes and again.created == []
    assert again.price_ids == result.price_ids
    # the test account, where the catalog came from, is in step with it too
    assert not diff_catalog(catalog, gateway_test_mode(world)).pending


def _matches(planned: Any, sent: Any, bound: dict[str, str]) -> bool:
    """Planned params against sent ones, a placeholder ("<price x>") standing for the same ID everywhere."""
    if isinstance(planned, str) and planned.startswith("<") and planned.endswith(">"):
        return bool(bound.setdefault(planned, sent) == sent)
    return bool(planned == sent)


def test_plan_apply_lists_exactly_the_requests_apply_sends(world: Sandbox) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    live = live_gateway(world)
    planned = plan_apply(catalog, diff_catalog(catalog, live))
    assert [r.action for r in planned][:3] == ["create_meter"] * 3
    assert [r.path for r in planned].index("/v1/prices") > [r.path for r in planned].index("/v1/products")
    first = len(world.requests)
    apply_catalog(catalog, live)
    sent = [r for r in world.requests[first:] if r.method == "POST"]
    assert len(sent) == len(planned)
    bound: dict[str, str] = {}
    for request, record in zip(planned, sent, strict=True):
        assert request.method == record.method
        assert _matches(request.path.rsplit("/", 1)[-1], record.path.rsplit("/", 1)[-1], bound)
        assert request.path.rsplit("/", 1)[0] == record.path.rsplit("/", 1)[0]
        want = flatten(request.params)
        got = {k: v for k, v in flatten(record.params).items() if not k.startswith("expand")}
        assert want.keys() == got.keys(), (request.text(), got)
        assert all(_matches(want[k], got[k], bound) for k in want), (request.text(), got)
        if "<" not in request.text():
            assert request.idempotency_key == record.idempotency_key
        assert record.idempotency_key and len(record.idempotency_key) <= 255
    # every placeholder stood for the object created for it
    for name, object_id in bound.items():
        kind, key = name.strip("<>").split(" ", 1)
        if kind == "price":
            assert live_price(world, key)["id"] == object_id
    text = next(r for r in planned if r.action == "create_price" and r.key == "team_seats").text()
    assert text.startswith("POST /v1/prices  ") and "tiers[2][up_to]=inf" in text and "product=<product " in text


@pytest.mark.parametrize(
    ("path", "kind", "when"),
    [
        ("/v1/billing/meters", "drop", "after"),
        ("/v1/products", "drop", "after"),
        ("/v1/prices", "drop", "after"),
        ("/v1/prices", "500", "before"),
        ("/v1/products/*", "drop", "after"),
    ],
)
def test_an_interrupted_apply_resumes_without_creating_anything_twice(
    world: Sandbox, path: str, kind: Any, when: Any
) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    # the third such request fails (mid-way), and the client does not retry: the run stops there
    world.faults.add(method="POST", path=path, kind="latency", times=2, when=when)
    world.faults.add(method="POST", path=path, kind=kind, when=when)
    with pytest.raises(StripeUnreachableError):
        apply_catalog(catalog, live_gateway(world, retries=0))
    assert world.faults.faults[-1].times == 0  # the fault was hit
    result = apply_catalog(catalog, live_gateway(world, retries=0))
    assert live_objects(world) == {"billing.meter": 3, "product": 12, "price": 13}
    assert set(result.price_ids) == ALL_KEYS
    assert not diff_catalog(catalog, live_gateway(world)).pending
    assert apply_catalog(catalog, live_gateway(world)).writes == 0


def test_a_dropped_answer_is_retried_with_the_same_idempotency_key_and_replayed(world: Sandbox) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    world.faults.add(method="POST", path="/v1/prices", kind="drop", when="after")
    apply_catalog(catalog, live_gateway(world))
    assert live_objects(world)["price"] == 13
    posts = [r for r in world.requests if r.method == "POST" and r.path == "/v1/prices"]
    assert len(posts) == 14 and posts[0].idempotency_key == posts[1].idempotency_key


def test_an_archived_live_price_holding_the_key_is_replaced_by_a_new_one_taking_the_key(world: Sandbox) -> None:
    catalog, ids = promoted(world)
    live = live_gateway(world)
    live.update_price(ids["pro_yearly"], {"active": False})
    diff = diff_catalog(catalog, live)
    status = diff.state_of_price("pro_yearly")
    assert status is not None and status.state == "create" and status.holder_id == ids["pro_yearly"]
    (request,) = plan_apply(catalog, diff)
    assert request.params["transfer_lookup_key"] is True
    result = apply_catalog(catalog, live)
    assert result.writes == 1 and result.price_ids["pro_yearly"] != ids["pro_yearly"]
    assert world.worlds[True].objects["price"][ids["pro_yearly"]]["lookup_key"] is None
    assert not diff_catalog(catalog, live).pending


def test_what_only_the_live_account_has_is_reported_and_never_touched(world: Sandbox) -> None:
    catalog, _ = promoted(world)
    live = live_gateway(world)
    pro_product = live_price(world, "pro_monthly")["product"]
    extra = live.create_price(
        {"product": pro_product, "currency": "usd", "unit_amount": 999, "lookup_key": "live_only"},
        idempotency_key="live-only",
    )
    live.create_product("Extra", None, idempotency_key="extra", metadata={PRODUCT_KEY_METADATA: "extra"})
    live.create_meter("Other", "other_events", "count", idempotency_key="other-meter")
    diff = diff_catalog(catalog, live)
    only = {(i.kind, i.key): i.account_id for i in diff.items if i.state == "only_in_account"}
    assert only[("price", "live_only")] == extra["id"]
    assert ("product", "extra") in only and ("meter", "other_events") in only
    assert not diff.pending and "only in account" in diff.to_text()
    writes = world.writes(live=True)
    assert apply_catalog(catalog, live).writes == 0 and world.writes(live=True) == writes
    assert world.worlds[True].objects["price"][extra["id"]]["active"]


def test_a_product_renamed_in_the_catalog_is_renamed_in_the_account(world: Sandbox) -> None:
    catalog, _ = promoted(world)
    product = catalog.product("pro-vps")
    assert product is not None
    product.name, product.description = "Pro VPS 2", None
    live = live_gateway(world)
    status = diff_catalog(catalog, live).state_of("product", "pro-vps")
    assert status is not None and status.state == "differs"
    assert [d.field for d in status.differences] == ["name", "description"]
    assert apply_catalog(catalog, live).writes == 1
    live_product = world.worlds[True].objects["product"][status.account_id]  # type: ignore[index]
    assert live_product["name"] == "Pro VPS 2" and live_product["description"] is None
    assert not diff_catalog(catalog, live).pending


def test_a_live_meter_that_counts_differently_stops_apply_before_any_write(world: Sandbox) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    live = live_gateway(world)
    live.create_meter("API calls", "api_calls", "count", idempotency_key="meter-count")
    diff = diff_catalog(catalog, live)
    status = diff.state_of("meter", "api_calls")
    assert status is not None and status.state == "differs"
    assert status.differences[0].text() == "aggregation: sum → count"
    writes = world.writes(live=True)
    with pytest.raises(CatalogConflictError) as caught:
        apply_catalog(catalog, live)
    assert "api_calls" in caught.value.message and world.writes(live=True) == writes


def test_a_meter_with_another_display_name_is_the_same_meter(world: Sandbox) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    live = live_gateway(world)
    live.create_meter("Requests", "api_calls", "sum", idempotency_key="meter-renamed")
    status = diff_catalog(catalog, live).state_of("meter", "api_calls")
    assert status is not None and status.state == "same"
    assert [d.text() for d in status.differences] == ["display name: API calls → Requests"]
    apply_catalog(catalog, live)
    assert live_objects(world)["billing.meter"] == 3


# ---- replace -------------------------------------------------------------------------------------------------------


def _raise_pro(catalog: Catalog, amount: int = 2500) -> CatalogPrice:
    pro = catalog.price("pro_monthly")
    assert pro is not None
    pro.draft.unit_amount = Decimal(amount)
    return pro


def test_a_price_whose_terms_differ_is_replaced_only_when_asked(world: Sandbox) -> None:
    catalog, ids = promoted(world)
    old_id = ids["pro_monthly"]
    _raise_pro(catalog)
    live = live_gateway(world)
    diff = diff_catalog(catalog, live)
    status = diff.state_of_price("pro_monthly")
    assert status is not None and status.state == "differs" and status.is_default
    assert [d.text() for d in status.differences] == ["amount: $25.00 → $20.00"]
    assert plan_apply(catalog, diff) == []
    left = apply_catalog(catalog, live)
    assert left.writes == 0 and left.skipped == ["pro_monthly"] and "pro_monthly" not in left.price_ids

    planned = plan_apply(catalog, diff, replace=True)
    assert [(r.action, r.path) for r in planned] == [
        ("create_price", "/v1/prices"),
        ("set_default", f"/v1/products/{live_price(world, 'pro_monthly')['product']}"),
        ("archive_price", f"/v1/prices/{old_id}"),
    ]
    assert planned[0].params["transfer_lookup_key"] is True and planned[0].params["metadata"] == {REPLACES: old_id}
    result = apply_catalog(catalog, live, replace=True)
    new_id = result.price_ids["pro_monthly"]
    assert result.replaced == [("pro_monthly", old_id, new_id)] and result.writes == 3
    old, new = world.worlds[True].objects["price"][old_id], world.worlds[True].objects["price"][new_id]
    assert old["active"] is False and old["lookup_key"] is None and old["metadata"][REPLACED_BY] == new_id
    assert new["lookup_key"] == "pro_monthly" and new["unit_amount"] == 2500
    assert world.worlds[True].objects["product"][new["product"]]["default_price"] == new_id
    assert not diff_catalog(catalog, live).pending
    assert apply_catalog(catalog, live, replace=True).writes == 0


def test_a_replacement_interrupted_before_the_archive_is_finished_by_the_next_run(world: Sandbox) -> None:
    catalog, ids = promoted(world)
    old_id = ids["pro_monthly"]
    _raise_pro(catalog)
    world.faults.add(method="POST", path="/v1/products/*", kind="500", when="before")
    with pytest.raises(StripeUnreachableError):
        apply_catalog(catalog, live_gateway(world, retries=0), replace=True)
    live = live_gateway(world)
    status = diff_catalog(catalog, live).state_of_price("pro_monthly")
    assert status is not None and status.state == "same" and status.unfinished_replace == old_id
    assert diff_catalog(catalog, live).pending
    # without replace: the catalog's default price becomes the default, but nothing is archived
    assert apply_catalog(catalog, live).writes == 1
    assert world.worlds[True].objects["price"][old_id]["active"] is True
    assert diff_catalog(catalog, live).pending
    result = apply_catalog(catalog, live, replace=True)
    assert result.writes == 1 and len(result.created) == 0
    assert result.replaced == [("pro_monthly", old_id, result.price_ids["pro_monthly"])]
    assert world.worlds[True].objects["price"][old_id]["active"] is False
    assert live_objects(world)["price"] == 14
    assert not diff_catalog(catalog, live).pending


# ---- plans ---------------------------------------------------------------------------------------------------------


def plans_for(world: Sandbox) -> PlanConfig:
    pro, api, seats = _ids(world, "pro_monthly", "api_calls", "team_seats")
    return PlanConfig(
        plans=[
            Plan("pro", "Pro", test_price_id=pro),
            Plan("api", "API", test_price_id=api),
            Plan("seats", "Seats", test_price_id=seats),
            Plan("none", "Not linked"),
        ]
    )


def test_link_live_prices_fills_the_live_slots_and_no_drift_remains(world: Sandbox) -> None:
    config = plans_for(world)
    test, live = gateway_test_mode(world), live_gateway(world)
    catalog = export_catalog(test, price_ids=[p.test_price_id for p in config.plans if p.test_price_id])
    result = apply_catalog(catalog, live)
    test_to_lookup = lookup_keys_of(test, [p.test_price_id for p in config.plans if p.test_price_id])
    assert link_live_prices(config, test_to_lookup, result.price_ids) == ["pro", "api", "seats"]
    assert config.plans[0].live_price_id == result.price_ids["pro_monthly"]
    assert config.plans[3].live_price_id is None
    assert link_live_prices(config, test_to_lookup, result.price_ids) == []
    assert plan_drift(config, test, live) == []  # the metered price's meters differ in ID, not in event name


def test_every_kind_of_drift_is_reported(world: Sandbox) -> None:
    config = plans_for(world)
    test, live = gateway_test_mode(world), live_gateway(world)
    catalog = export_catalog(test, price_ids=[p.test_price_id for p in config.plans if p.test_price_id])
    ids = apply_catalog(catalog, live).price_ids
    pro_product = live_price(world, "pro_monthly")["product"]
    # pro: the live price with its key now bills $25 (the key moved to a new price)
    dearer = live.create_price(
        {
            "product": pro_product,
            "currency": "usd",
            "unit_amount": 2500,
            "recurring": {"interval": "month"},
            "lookup_key": "pro_monthly",
            "transfer_lookup_key": True,
        },
        idempotency_key="dearer",
    )
    # api: the same terms, but another lookup key
    api_product = live_price(world, "api_calls")["product"]
    api_meter = live_price(world, "api_calls")["recurring"]["meter"]
    twin = live.create_price(
        {
            "product": api_product,
            "currency": "usd",
            "unit_amount_decimal": "0.04",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": api_meter},
            "lookup_key": "api_twin",
        },
        idempotency_key="twin",
    )
    config.plans[0].live_price_id = dearer["id"]
    config.plans[1].live_price_id = twin["id"]
    config.plans[2].live_price_id = "price_1PortalLive9999999"
    problems = plan_drift(config, test, live)
    by_plan: dict[str | None, list[str]] = {}
    for problem in problems:
        by_plan.setdefault(problem.plan, []).append(problem.message)
        assert problem.field.endswith(".live_price_id")
    assert len(by_plan["pro"]) == 1 and "amount: $20.00 → $25.00" in by_plan["pro"][0]
    assert len(by_plan["api"]) == 1 and "lookup key 'api_twin'" in by_plan["api"][0]
    assert "does not exist in live mode" in by_plan["seats"][0]
    assert "none" not in by_plan
    # a live slot still on the old price, whose key moved away: another lookup key
    config.plans[0].live_price_id = ids["pro_monthly"]
    (pro_problem,) = [p for p in plan_drift(config, test, live) if p.plan == "pro"]
    assert "has no lookup key" in pro_problem.message


# ---- identities ----------------------------------------------------------------------------------------------------


def test_idempotency_keys_stay_within_stripes_limit_for_the_longest_lookup_key(world: Sandbox) -> None:
    long_key = "k" * 200
    assert len(idempotency_key("acct_" + "x" * 250, "price", long_key, "f" * 16 + "-" + "0" * 16)) <= 255
    product = next(iter(world.worlds[False].objects["product"].values()))
    price = gateway_test_mode(world).create_price(
        {"product": product["id"], "currency": "usd", "unit_amount": 100, "lookup_key": long_key},
        idempotency_key="long",
    )
    catalog = export_catalog(gateway_test_mode(world), price_ids=[price["id"]])
    result = apply_catalog(catalog, live_gateway(world))
    assert set(result.price_ids) == {long_key}
    assert apply_catalog(catalog, live_gateway(world)).writes == 0


def test_planned_requests_read_as_form_fields() -> None:
    request = PlannedRequest(
        "price x", "POST", "/v1/prices", {"currency": "usd", "recurring": {"interval": "month"}, "active": False}, None
    )
    assert request.text() == "POST /v1/prices  currency=usd recurring[interval]=month active=false"
    draft = PriceDraft(unit_amount=Decimal("0.5"))
    assert flatten({"unit_amount_decimal": draft.unit_amount}) == {"unit_amount_decimal": "0.5"}


def test_a_price_moved_to_another_product_leaves_the_old_products_default_alone(world: Sandbox) -> None:
    catalog, ids = promoted(world)
    pro = catalog.price("pro_monthly")
    assert pro is not None
    pro.product, pro.default = "api-calls", False
    live = live_gateway(world)
    status = diff_catalog(catalog, live).state_of_price("pro_monthly")
    assert status is not None and status.state == "differs" and status.is_default
    assert [d.text() for d in status.differences] == ["product: api-calls → pro-vps"]
    planned = plan_apply(catalog, diff_catalog(catalog, live), replace=True)
    assert [r.action for r in planned] == ["create_price"]  # Stripe refuses to archive another product's default
    result = apply_catalog(catalog, live, replace=True)
    new = world.worlds[True].objects["price"][result.price_ids["pro_monthly"]]
    assert world.worlds[True].objects["product"][new["product"]]["metadata"][PRODUCT_KEY_METADATA] == "api-calls"
    assert world.worlds[True].objects["price"][ids["pro_monthly"]]["active"] is True
    assert not diff_catalog(catalog, live).pending


def test_an_item_created_by_someone_else_during_the_run_is_found_before_creating_it(world: Sandbox) -> None:
    catalog = export_catalog(gateway_test_mode(world), all_prices=True)
    # the run reads the meters once for its diff, then once before creating each meter: hold the first lookup
    world.faults.add(method="GET", path="/v1/billing/meters", kind="latency", times=1)
    gate = world.faults.add(method="GET", path="/v1/billing/meters", kind="gate", times=1)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(apply_catalog(catalog, live_gateway(world))))
    worker.start()
    assert gate.reached.wait(10)
    first = catalog.meters[0]
    made = live_gateway(world).create_meter(
        first.display_name, first.event_name, first.aggregation, idempotency_key="someone-else"
    )
    gate.release()
    worker.join(30)
    assert outcome, "apply did not finish"
    assert live_objects(world)["billing.meter"] == 3  # no second meter for the event name (Stripe would refuse it)
    assert all(label != f"meter {first.event_name}" for label, _id in outcome[0].created)
    assert (
        live_price(world, next(p.lookup_key for p in catalog.prices if p.meter == first.event_name))["recurring"][
            "meter"
        ]
        == made["id"]
    )
