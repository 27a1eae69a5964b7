"""The sandbox behaves like Stripe for the real `stripe` client over HTTP: shapes, lists, refusals, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import stripe

from portal_tui.pricing import amount_for
from portal_tui.sandbox import Sandbox
from tests.conftest import LIVE_KEY, TEST_KEY


def client(sandbox: Sandbox, key: str = TEST_KEY, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": sandbox.url}, max_network_retries=retries)


@pytest.fixture
def sc(sandbox: Sandbox) -> stripe.StripeClient:
    return client(sandbox)


def product(sc: stripe.StripeClient, name: str = "Pro VPS") -> str:
    return sc.v1.products.create(params={"name": name}).id


def refused(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call()
    return caught.value


# ---- shapes, lists, expand -----------------------------------------------------------------------------------


def test_price_shape_and_tiers_only_when_expanded(sc: stripe.StripeClient) -> None:
    prod = product(sc)
    created = sc.v1.prices.create(
        params={
            "product": prod,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400, "flat_amount": 100}],
        }
    ).to_dict()
    assert created["id"].startswith("price_") and created["livemode"] is False
    assert "tiers" not in created
    assert created["recurring"]["usage_type"] == "licensed" and created["type"] == "recurring"
    again = sc.v1.prices.retrieve(created["id"], params={"expand": ["tiers"]}).to_dict()
    assert again["tiers"][1]["up_to"] is None and again["tiers"][0]["up_to"] == 10
    listed = sc.v1.prices.list(params={"expand": ["data.tiers", "data.product"]}).data[0].to_dict()
    assert listed["tiers"] == again["tiers"] and listed["product"]["name"] == "Pro VPS"


def test_a_cursor_archived_mid_listing_still_marks_the_place(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    prod = product(sc)
    ids = [sc.v1.prices.create(params={"product": prod, "currency": "usd", "unit_amount": n}).id for n in range(5)]
    first = sc.v1.prices.list(params={"active": True, "limit": 2})
    assert [p.id for p in first.data] == ids[::-1][:2] and first.has_more
    sc.v1.prices.update(first.data[-1].id, params={"active": False})  # archived while the listing walks on
    rest = sc.v1.prices.list(params={"active": True, "limit": 10, "starting_after": first.data[-1].id})
    assert [p.id for p in rest.data] == ids[::-1][2:] and not rest.has_more
    back = sc.v1.prices.list(params={"active": True, "limit": 1, "ending_before": first.data[-1].id})
    assert [p.id for p in back.data] == [ids[-1]] and not back.has_more
    back = sc.v1.prices.list(params={"limit": 1, "ending_before": ids[0]})
    assert [p.id for p in back.data] == [ids[1]] and back.has_more
    error = refused(lambda: sc.v1.prices.list(params={"starting_after": "price_gone"}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "starting_after"


def test_expanding_a_null_default_price_is_accepted(sc: stripe.StripeClient) -> None:
    sc.v1.products.create(params={"name": "P"})
    listed = sc.v1.products.list(params={"expand": ["data.default_price"]}).data
    assert listed[0].default_price is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda sc, pid: sc.v1.prices.list(params={"expand": ["tiers"]}),
            "This property cannot be expanded (tiers). You may want to try expanding 'data.tiers' instead.",
        ),
        (lambda sc, pid: sc.v1.prices.list(params={"expand": ["data.nope"]}), "cannot be expanded (data.nope)."),
        (lambda sc, pid: sc.v1.prices.retrieve(pid, params={"expand": ["nope"]}), "cannot be expanded (nope)."),
        (lambda sc, pid: sc.v1.prices.retrieve(pid, params={"expand": ["data.tiers"]}), "(data.tiers)."),
        (lambda sc, pid: sc.v1.products.list(params={"expand": ["data.prices"]}), "(data.prices)."),
        (lambda sc, pid: sc.v1.products.list(params={"expand": ["default_price"]}), "'data.default_price' instead"),
    ],
)
def test_unknown_expansions_are_refused(sc: stripe.StripeClient, call: Any, message: str) -> None:
    price = sc.v1.prices.create(params={"product": product(sc), "currency": "usd", "unit_amount": 100})
    error = refused(lambda: call(sc, price.id))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 400
    assert message in str(error.user_message)


def test_pagination_and_filters(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    prod = product(sc)
    other = product(sc, "Other")
    ids = [sc.v1.prices.create(params={"product": prod, "currency": "usd", "unit_amount": n}).id for n in range(25)]
    sc.v1.prices.create(params={"product": other, "currency": "usd", "unit_amount": 1, "lookup_key": "k1"})
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 10, "product": prod}
        if after:
            params["starting_after"] = after
        page = sc.v1.prices.list(params=params)  # type: ignore[arg-type]
        seen.extend(p.id for p in page.data)
        if not page.has_more:
            break
        after = page.data[-1].id
    assert sorted(seen) == sorted(ids) and len(seen) == 25
    assert [p.lookup_key for p in sc.v1.prices.list(params={"lookup_keys": ["k1"]}).data] == ["k1"]
    sc.v1.prices.update(ids[0], params={"active": False})
    assert len(sc.v1.prices.list(params={"active": True, "product": prod, "limit": 100}).data) == 24
    error = refused(lambda: sc.v1.prices.list(params={"limit": 101}))
    assert error.http_status == 400 and getattr(error, "param", None) == "limit"


def test_list_filters_stripe_accepts_are_applied(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    prod, other = product(sc), product(sc, "Other")
    monthly = sc.v1.prices.create(
        params={"product": prod, "currency": "usd", "unit_amount": 1, "recurring": {"interval": "month"}}
    )
    yearly = sc.v1.prices.create(
        params={"product": prod, "currency": "eur", "unit_amount": 1, "recurring": {"interval": "year"}}
    )
    once = sc.v1.prices.create(params={"product": other, "currency": "usd", "unit_amount": 1})
    assert {p.id for p in sc.v1.prices.list(params={"currency": "USD"}).data} == {monthly.id, once.id}
    assert [p.id for p in sc.v1.prices.list(params={"recurring": {"interval": "year"}}).data] == [yearly.id]
    assert len(sc.v1.prices.list(params={"recurring": {"usage_type": "licensed"}}).data) == 2
    assert sc.v1.prices.list(params={"created": {"gt": once.created + 60}}).data == []
    assert len(sc.v1.prices.list(params={"created": {"lte": once.created + 60}}).data) == 3
    assert [p.id for p in sc.v1.products.list(params={"ids": [other]}).data] == [other]
    assert sc.v1.products.list(params={"type": "good"}).data == []
    subscribe(sc, "pm_card_visa")  # one invoice, charged automatically
    assert sc.v1.invoices.list(params={"collection_method": "send_invoice"}).data == []
    assert len(sc.v1.invoices.list(params={"collection_method": "charge_automatically"}).data) == 1


# ---- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"unit_amout": 5}, "unit_amout", "Received unknown parameter: unit_amout"),
        ({"unit_amount": 5, "recurring": {"interval": "month", "intervall": 1}}, "recurring[intervall]", "unknown"),
        ({"unit_amount": 5, "unit_amount_decimal": "5"}, "unit_amount", "only specify one"),
        ({"currency": "xyz", "unit_amount": 5}, "currency", "Invalid currency"),
        (
            {"unit_amount": 5, "recurring": {"interval": "month", "interval_count": 37}},
            "recurring[interval_count]",
            "3 years",
        ),
        (
            {"unit_amount": 5, "recurring": {"interval": "month", "interval_count": 0}},
            "recurring[interval_count]",
            "3 years",
        ),
        ({"unit_amount": 5, "recurring": {"interval": "month", "usage_type": "metered"}}, "recurring[meter]", "meter"),
        (
            {"unit_amount": 5, "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_nope"}},
            "recurring[meter]",
            "No such meter",
        ),
        (
            {"billing_scheme": "tiered", "recurring": {"interval": "month"}, "tiers_mode": "volume"},
            "tiers",
            "Tiers must",
        ),
        (
            {
                "billing_scheme": "tiered",
                "recurring": {"interval": "month"},
                "tiers": [{"up_to": "inf", "unit_amount": 1}],
            },
            "tiers_mode",
            "tiers_mode",
        ),
        (
            {
                "billing_scheme": "tiered",
                "recurring": {"interval": "month"},
                "tiers_mode": "volume",
                "tiers": [
                    {"up_to": 10, "unit_amount": 1},
                    {"up_to": 5, "unit_amount": 1},
                    {"up_to": "inf", "unit_amount": 1},
                ],
            },
            "tiers[1][up_to]",
            "ascending",
        ),
        (
            {
                "billing_scheme": "tiered",
                "recurring": {"interval": "month"},
                "tiers_mode": "volume",
                "tiers": [{"up_to": 10, "unit_amount": 1}],
            },
            "tiers[0][up_to]",
            "last tier",
        ),
        (
            {
                "billing_scheme": "tiered",
                "recurring": {"interval": "month"},
                "tiers_mode": "volume",
                "tiers": [{"up_to": "inf"}],
            },
            "tiers[0]",
            "Each tier",
        ),
        (
            {
                "billing_scheme": "tiered",
                "recurring": {"interval": "month"},
                "tiers_mode": "volume",
                "tiers": [{"up_to": "inf", "unit_amount": 1}],
                "transform_quantity": {"divide_by": 5, "round": "up"},
            },
            "transform_quantity",
            "cannot be used",
        ),
        (
            {"unit_amount": 5, "transform_quantity": {"divide_by": 0, "round": "up"}},
            "transform_quantity[divide_by]",
            "at least 1",
        ),
        ({"unit_amount": 5, "lookup_key": "k" * 201}, "lookup_key", "200"),
        ({"unit_amount": 5, "transfer_lookup_key": True}, "transfer_lookup_key", "lookup_key"),
        ({"currency": "bhd", "unit_amount": 1231}, "unit_amount", "multiple of 10"),
        (
            {
                "currency": "kwd",
                "billing_scheme": "tiered",
                "recurring": {"interval": "month"},
                "tiers_mode": "volume",
                "tiers": [{"up_to": "inf", "unit_amount": 10, "flat_amount": 15}],
            },
            "tiers[0][flat_amount]",
            "multiple of 10",
        ),
        (
            {"custom_unit_amount": {"enabled": True}, "recurring": {"interval": "month"}},
            "custom_unit_amount",
            "recurring",
        ),
        ({"custom_unit_amount": {"enabled": True}, "unit_amount": 5}, "custom_unit_amount", "only specify one"),
        ({"custom_unit_amount": {"enabled": False}}, "custom_unit_amount[enabled]", "omit"),
        (
            {"custom_unit_amount": {"enabled": True, "minimum": 500, "maximum": 100}},
            "custom_unit_amount[minimum]",
            "maximum",
        ),
        ({"recurring": {"interval": "month"}}, "unit_amount", "unit_amount"),
    ],
)
def test_price_rules_are_refused_like_stripe(
    sc: stripe.StripeClient, params: dict[str, Any], param: str, words: str
) -> None:
    body = {"product": product(sc), "currency": "usd", **params}
    error = refused(lambda: sc.v1.prices.create(params=body))  # type: ignore[arg-type]
    assert error.http_status == 400
    assert isinstance(error, stripe.InvalidRequestError)
    assert error.param == param
    assert words in str(error.user_message)
    assert error.json_body and cast("Any", error.json_body)["error"]["type"] == "invalid_request_error"


def test_missing_product_and_lookup_key_transfer(sc: stripe.StripeClient) -> None:
    error = refused(lambda: sc.v1.prices.create(params={"product": "prod_nope", "currency": "usd", "unit_amount": 1}))
    assert isinstance(error, stripe.InvalidRequestError) and error.code == "resource_missing"
    prod = product(sc)
    first = sc.v1.prices.create(params={"product": prod, "currency": "usd", "unit_amount": 1, "lookup_key": "pro"})
    error = refused(
        lambda: sc.v1.prices.create(params={"product": prod, "currency": "usd", "unit_amount": 2, "lookup_key": "pro"})
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "lookup_key"
    second = sc.v1.prices.create(
        params={"product": prod, "currency": "usd", "unit_amount": 2, "lookup_key": "pro", "transfer_lookup_key": True}
    )
    assert second.lookup_key == "pro"
    assert sc.v1.prices.retrieve(first.id).lookup_key is None
    # a price may be updated with the key it already holds (the gateway resends it with other changes)
    same = sc.v1.prices.update(second.id, params={"lookup_key": "pro", "nickname": "Pro"})
    assert same.lookup_key == "pro" and same.nickname == "Pro"


def test_price_params_stripe_accepts_are_kept(sc: stripe.StripeClient) -> None:
    price = sc.v1.prices.create(
        params={
            "currency": "bhd",
            "unit_amount": 1230,
            "product_data": {"name": "Backups", "unit_label": "GB", "metadata": {"team": "infra"}},
            "expand": ["product"],
        }
    ).to_dict()
    assert price["unit_amount"] == 1230
    assert price["product"]["unit_label"] == "GB" and price["product"]["metadata"] == {"team": "infra"}
    tip = sc.v1.prices.create(
        params={
            "product": price["product"]["id"],
            "currency": "usd",
            "custom_unit_amount": {"enabled": True, "minimum": 100, "preset": 500},
        }
    ).to_dict()
    assert tip["custom_unit_amount"] == {"maximum": None, "minimum": 100, "preset": 500}
    assert tip["unit_amount"] is None and tip["billing_scheme"] == "per_unit" and tip["type"] == "one_time"


def test_price_update_is_all_or_nothing(sc: stripe.StripeClient) -> None:
    price = sc.v1.prices.create(params={"product": product(sc), "currency": "usd", "unit_amount": 5})
    error = refused(lambda: sc.v1.prices.update(price.id, params={"active": False, "transfer_lookup_key": True}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "transfer_lookup_key"
    assert sc.v1.prices.retrieve(price.id).active is True


def test_product_update_sets_every_field_stripe_accepts(sc: stripe.StripeClient) -> None:
    prod = sc.v1.products.create(params={"name": "Pro", "unit_label": "seat", "metadata": {"a": "1", "b": "2"}})
    price = sc.v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 500})
    updated = sc.v1.products.update(
        prod.id,
        params={
            "default_price": price.id,
            "unit_label": "",  # unsets it
            "url": "https://example.com/pro",
            "statement_descriptor": "PORTAL PRO",
            "images": ["https://example.com/a.png"],
            "marketing_features": [{"name": "4 vCPU"}],
            "package_dimensions": {"height": 1, "length": 2, "weight": 3.5, "width": 4},
            "shippable": False,
            "metadata": {"a": "", "c": "3"},
            "expand": ["default_price"],
        },
    ).to_dict()
    assert updated["default_price"]["id"] == price.id and updated["default_price"]["unit_amount"] == 500
    assert updated["unit_label"] is None and updated["url"] == "https://example.com/pro"
    assert updated["statement_descriptor"] == "PORTAL PRO" and updated["images"] == ["https://example.com/a.png"]
    assert updated["marketing_features"] == [{"name": "4 vCPU"}] and updated["shippable"] is False
    assert updated["package_dimensions"] == {"height": 1.0, "length": 2.0, "weight": 3.5, "width": 4.0}
    assert updated["metadata"] == {"b": "2", "c": "3"}
    assert sc.v1.products.retrieve(prod.id).default_price == price.id  # an id unless expanded
    listed = sc.v1.products.list(params={"expand": ["data.default_price"]}).data[0]
    assert isinstance(listed.default_price, stripe.Price)
    assert sc.v1.products.update(prod.id, params={"metadata": ""}).metadata.to_dict() == {}
    error = refused(lambda: sc.v1.prices.update(price.id, params={"active": False}))
    assert isinstance(error, stripe.InvalidRequestError) and "default price of its product" in str(error.user_message)


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"name": ""}, "name", "You passed an empty string for 'name'"),
        ({"default_price": "price_nope"}, "default_price", "No such price: 'price_nope'"),
        ({"default_price": "OTHER"}, "default_price", "must be one of its own prices"),
        ({"default_price": "ARCHIVED"}, "default_price", "a default price must be active"),
        ({"statement_descriptor": "<PRO>"}, "statement_descriptor", "at most 22 characters"),
        ({"images": [f"https://example.com/{n}.png" for n in range(9)]}, "images", "at most 8 images"),
        ({"lookup_key": "pro"}, "lookup_key", "Received unknown parameter: lookup_key"),
        ({"marketing_features": [{"name": ""}]}, "marketing_features[0][name]", "empty string"),
    ],
)
def test_product_update_refusals_change_nothing(
    sc: stripe.StripeClient, params: dict[str, Any], param: str, message: str
) -> None:
    prod = product(sc)
    other = sc.v1.prices.create(params={"product": product(sc, "Other"), "currency": "usd", "unit_amount": 1})
    archived = sc.v1.prices.create(params={"product": prod, "currency": "usd", "unit_amount": 1, "active": False})
    names = {"OTHER": other.id, "ARCHIVED": archived.id}
    params = {key: names.get(value, value) if isinstance(value, str) else value for key, value in params.items()}
    error = refused(lambda: sc.v1.products.update(prod, params=cast("Any", {"description": "changed", **params})))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == param
    assert message in str(error.user_message)
    after = sc.v1.products.retrieve(prod)
    assert after.description is None and after.default_price is None and after.name == "Pro VPS"


def test_a_refused_price_leaves_no_product_data_product(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    params: Any = {"currency": "usd", "product_data": {"name": "X"}, "recurring": {"interval": "fortnight"}}
    error = refused(lambda: sc.v1.prices.create(params=params))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "recurring[interval]"
    assert sandbox.test_world.objects["product"] == {}


def test_product_create_with_default_price_data(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    created = sc.v1.products.create(
        params={
            "name": "Starter",
            "default_price_data": {"currency": "usd", "unit_amount": 900, "recurring": {"interval": "month"}},
            "expand": ["default_price"],
        }
    ).to_dict()
    price = created["default_price"]
    assert price["product"] == created["id"] and price["unit_amount"] == 900 and price["type"] == "recurring"
    error = refused(
        lambda: sc.v1.products.create(
            params={"name": "Broken", "default_price_data": {"currency": "usd", "recurring": {"interval": "fortnight"}}}
        )
    )
    assert isinstance(error, stripe.InvalidRequestError)
    assert error.param == "default_price_data[recurring][interval]"
    assert [p["name"] for p in sandbox.test_world.objects["product"].values()] == ["Starter"]


def test_auth_refusals(sandbox: Sandbox) -> None:
    assert isinstance(refused(lambda: client(sandbox, "sk_test_short").v1.products.list()), stripe.AuthenticationError)
    revoked = "sk_test_revoked" + "0" * 30
    error = refused(lambda: client(sandbox, revoked).v1.products.list())
    assert isinstance(error, stripe.AuthenticationError) and revoked not in str(error.user_message)
    assert client(sandbox, LIVE_KEY).v1.products.list().data == []  # live keys open the (empty) live world
    restricted = client(sandbox, "rk_test_restricted" + "0" * 30)
    assert isinstance(refused(lambda: restricted.v1.accounts.retrieve_current()), stripe.PermissionError)
    assert restricted.v1.balance.retrieve().livemode is False


def test_live_sandbox_keeps_modes_apart(live_sandbox: Sandbox) -> None:
    live, test = client(live_sandbox, LIVE_KEY), client(live_sandbox, TEST_KEY)
    live_price = live.v1.prices.list().data[0]
    assert live_price.livemode is True
    error = refused(lambda: test.v1.prices.retrieve(live_price.id))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 404
    assert isinstance(
        refused(lambda: live.v1.test_helpers.test_clocks.create(params={"frozen_time": 1})), stripe.InvalidRequestError
    )


# ---- idempotency and faults ------------------------------------------------------------------------------------


def test_idempotency_key_replays_the_first_answer(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    options: Any = {"idempotency_key": "same-action"}
    first = sc.v1.products.create(params={"name": "A"}, options=options)
    again = sc.v1.products.create(params={"name": "A"}, options=options)
    assert first.id == again.id
    assert len(sc.v1.products.list().data) == 1
    error = refused(lambda: sc.v1.products.create(params={"name": "B"}, options=options))
    assert isinstance(error, stripe.IdempotencyError)


def test_idempotency_replays_errors_of_requests_that_ran(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    options: Any = {"idempotency_key": "price-once"}
    body: Any = {"product": "prod_missing", "currency": "usd", "unit_amount": 5}
    first = refused(lambda: sc.v1.prices.create(params=body, options=options))
    sc.v1.products.create(params={"name": "Now it exists", "id": "prod_missing"})
    again = refused(lambda: sc.v1.prices.create(params=body, options=options))
    assert first.http_status == again.http_status == 400 and first.code == "resource_missing"
    assert again.json_body == first.json_body and again.headers is not None
    assert again.headers.get("Idempotent-Replayed") == "true"
    # refused while validating parameters: nothing ran and nothing is kept, so the corrected request runs
    options = {"idempotency_key": "validated"}
    bad: Any = {"name": "X", "unit_label": "k" * 20}
    first = refused(lambda: sc.v1.products.create(params=cast("Any", {**bad, "nope": 1}), options=options))
    assert first.code == "parameter_unknown"
    assert sc.v1.products.create(params=bad, options=options).name == "X"


@pytest.mark.parametrize("kind", ["500", "lock_timeout", "drop"])
def test_fault_after_create_is_healed_by_idempotent_retry(sandbox: Sandbox, kind: str) -> None:
    sc = client(sandbox, retries=2)
    sandbox.faults.add(method="POST", path="/v1/products", kind=kind, when="after")  # type: ignore[arg-type]
    created = sc.v1.products.create(params={"name": "Once"})
    assert created.name == "Once"
    assert sandbox.count("POST", "/v1/products") == 2  # the first answer was lost, the retry replayed it
    assert [p.id for p in sc.v1.products.list().data] == [created.id]


def test_faults_without_retries_surface(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    sandbox.faults.add(path="/v1/products", kind="500")
    assert refused(lambda: sc.v1.products.list()).http_status == 500
    sandbox.faults.add(path="/v1/products", kind="429")
    assert isinstance(refused(lambda: sc.v1.products.list()), stripe.RateLimitError)
    sandbox.faults.add(path="/v1/products", kind="drop")
    assert isinstance(refused(lambda: sc.v1.products.list()), stripe.APIConnectionError)
    sandbox.faults.add(path="/v1/products", kind="latency", delay=0.3)
    started = time.monotonic()
    sc.v1.products.list()
    assert time.monotonic() - started >= 0.3


def test_rate_limit_is_not_marked_retryable_but_lock_timeout_is(sandbox: Sandbox) -> None:
    sc = client(sandbox, retries=2)
    limit = sandbox.faults.add(path="/v1/products", kind="429", times=3)
    error = refused(lambda: sc.v1.products.list())
    assert isinstance(error, stripe.RateLimitError) and error.json_body is not None
    assert cast("Any", error.json_body)["error"]["code"] == "rate_limit"
    assert error.headers is not None and "stripe-should-retry" not in {k.lower() for k in error.headers}
    assert limit.times == 2  # like Stripe: the SDK does not retry a rate limit
    sandbox.faults.clear()
    lock = sandbox.faults.add(path="/v1/products", kind="lock_timeout", times=1)
    assert sc.v1.products.list().data == [] and lock.times == 0
    sandbox.faults.add(path="/v1/products", kind="lock_timeout", times=1)
    error = refused(lambda: client(sandbox).v1.products.list())
    assert isinstance(error, stripe.RateLimitError) and error.json_body is not None
    assert cast("Any", error.json_body)["error"]["code"] == "lock_timeout"


def test_a_sandbox_bug_answers_500_instead_of_dropping_the_connection(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from portal_tui.sandbox import catalog

    def broken(*args: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(catalog, "list_products", broken)
    error = refused(lambda: client(sandbox, retries=2).v1.products.list())
    assert isinstance(error, stripe.APIError) and error.http_status == 500
    assert sandbox.count("GET", "/v1/products") == 1  # Stripe-Should-Retry: false
    logged = capsys.readouterr().err
    assert "KeyError" in logged and TEST_KEY not in logged


# ---- billing ------------------------------------------------------------------------------------------------------


@pytest.fixture
def metered_setup(sc: stripe.StripeClient) -> Iterator[dict[str, Any]]:
    meter = sc.v1.billing.meters.create(
        params={"display_name": "API", "event_name": "api", "default_aggregation": {"formula": "sum"}}
    )
    price = sc.v1.prices.create(
        params={
            "product": product(sc),
            "currency": "usd",
            "unit_amount_decimal": cast("Any", "0.04"),
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    yield {"meter": meter, "price": price}


def test_meter_events_are_refused_like_stripe(sc: stripe.StripeClient, metered_setup: dict[str, Any]) -> None:
    now = int(time.time())
    plain = sc.v1.customers.create(params={"name": "No clock"}).id
    clock = sc.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600})
    on_clock = sc.v1.customers.create(params={"test_clock": clock.id}).id

    def send(customer: str, value: str = "1", timestamp: int | None = None) -> Any:
        params: Any = {"event_name": "api", "payload": {"stripe_customer_id": customer, "value": value}}
        if timestamp is not None:
            params["timestamp"] = timestamp
        return sc.v1.billing.meter_events.create(params=params)

    assert send(plain).timestamp >= now
    assert send(plain, timestamp=now - 34 * 86400).timestamp == now - 34 * 86400
    for stamp in (now - 36 * 86400, now + 600, 0):
        error = refused(lambda stamp=stamp: send(plain, timestamp=stamp))
        assert isinstance(error, stripe.InvalidRequestError) and error.param == "timestamp"
        assert "35 calendar days" in str(error.user_message)
    # a customer on a test clock lives on the clock's time
    assert send(on_clock).timestamp == 1_767_225_600
    assert send(on_clock, timestamp=1_767_225_600 - 86400).timestamp == 1_767_225_600 - 86400
    assert getattr(refused(lambda: send(on_clock, timestamp=now)), "param", None) == "timestamp"


def test_meter_events_stripe_cannot_aggregate_are_accepted_then_dropped(
    sandbox: Sandbox, sc: stripe.StripeClient, metered_setup: dict[str, Any]
) -> None:
    """Stripe checks the payload asynchronously: a 200 now, an entry in the meter's error reports later."""
    customer = sc.v1.customers.create(params={"name": "Usage"}).id
    payloads: list[Any] = [
        {"customer": customer, "value": "5"},  # not the meter's customer key
        {"stripe_customer_id": customer, "gb": "5"},  # not its value key
        *({"stripe_customer_id": customer, "value": value} for value in ("1.5", "NaN", "Infinity", "ten")),
    ]
    for payload in payloads:
        assert (
            sc.v1.billing.meter_events.create(params={"event_name": "api", "payload": payload}).payload.to_dict()
            == payload
        )
    sc.v1.billing.meter_events.create(params={"event_name": "nothing_meters_this", "payload": payloads[0]})
    errors = [e["_error"] for e in sandbox.test_world.meter_events]
    assert errors == [
        "meter_event_no_customer_defined",
        "meter_event_value_not_found",
        *["meter_event_invalid_value"] * 4,
        "no_meter",
    ]
    from portal_tui.sandbox.billing import usage

    assert usage(sandbox.test_world, metered_setup["meter"].id, customer, 0, 2**40) == 0
    sc.v1.billing.meter_events.create(
        params={"event_name": "api", "payload": {"stripe_customer_id": customer, "value": "7"}}
    )
    assert usage(sandbox.test_world, metered_setup["meter"].id, customer, 0, 2**40) == 7


def test_a_test_clock_advances_at_most_two_intervals_of_its_shortest_subscription(sc: stripe.StripeClient) -> None:
    start = 1_767_225_600  # 2026-01-01
    clock = sc.v1.test_helpers.test_clocks.create(params={"frozen_time": start})
    customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa", "test_clock": clock.id}).id
    prod = product(sc)
    for interval in ("month", "week"):
        price = sc.v1.prices.create(
            params={"product": prod, "currency": "usd", "unit_amount": 100, "recurring": {"interval": interval}}
        )
        sc.v1.subscriptions.create(params={"customer": customer, "items": [{"price": price.id}]})
    error = refused(
        lambda: sc.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 14 * 86400 + 1})
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "frozen_time"
    assert "two intervals" in str(error.user_message) and "1 week" in str(error.user_message)
    assert sc.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time == start
    advanced = sc.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 14 * 86400})
    assert advanced.frozen_time == start + 14 * 86400


def test_interval_arithmetic_follows_the_calendar() -> None:
    from datetime import UTC, datetime

    from portal_tui.sandbox.server import _add_interval

    jan31 = int(datetime(2026, 1, 31, 12, tzinfo=UTC).timestamp())
    assert _add_interval(jan31, "month", 1) == int(datetime(2026, 2, 28, 12, tzinfo=UTC).timestamp())
    assert _add_interval(jan31, "month", 2) == int(datetime(2026, 3, 31, 12, tzinfo=UTC).timestamp())
    assert _add_interval(jan31, "month", 13) == int(datetime(2027, 2, 28, 12, tzinfo=UTC).timestamp())
    assert _add_interval(jan31, "year", 2) == int(datetime(2028, 1, 31, 12, tzinfo=UTC).timestamp())
    assert _add_interval(jan31, "week", 2) == jan31 + 14 * 86400


def test_metered_subscription_preview_uses_the_calculator(
    sandbox: Sandbox, sc: stripe.StripeClient, metered_setup: dict[str, Any]
) -> None:
    clock = sc.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600})
    customer = sc.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
            "test_clock": clock.id,
        }
    )
    assert customer.invoice_settings.default_payment_method.startswith("pm_")  # type: ignore[union-attr]
    sub = sc.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": metered_setup["price"].id}]})
    assert sub.status == "active"
    for n in range(3):
        sc.v1.billing.meter_events.create(
            params={
                "event_name": "api",
                "payload": {"stripe_customer_id": customer.id, "value": "4000"},
                "timestamp": 1_767_225_600 + n,
                "identifier": f"e{n}",
            }
        )
    preview = sc.v1.invoices.create_preview(params={"customer": customer.id, "subscription": sub.id}).to_dict()
    line = preview["lines"]["data"][0]
    assert line["quantity"] == 12000 and line["amount"] == 480
    assert line["pricing"]["price_details"]["price"] == metered_setup["price"].id
    price = sc.v1.prices.retrieve(metered_setup["price"].id, params={"expand": ["tiers"]}).to_dict()
    assert preview["total"] == amount_for(price, 12000)
    sandbox.invoice_skew = 7
    skewed = sc.v1.invoices.create_preview(params={"customer": customer.id, "subscription": sub.id})
    assert skewed.total == 487
    sandbox.invoice_skew = 0
    # advancing past the period end bills the usage and rolls the period
    advanced = sc.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": 1_767_225_600 + 32 * 86400})
    assert advanced.status == "advancing"
    assert sc.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"
    invoices = sc.v1.invoices.list(params={"customer": customer.id}).data
    cycle = [i for i in invoices if i.billing_reason == "subscription_cycle"]
    assert len(cycle) == 1 and cycle[0].total == 480 and cycle[0].status == "paid"
    sc.v1.test_helpers.test_clocks.delete(clock.id)
    assert isinstance(refused(lambda: sc.v1.customers.retrieve(customer.id)), stripe.InvalidRequestError)
    assert isinstance(refused(lambda: sc.v1.subscriptions.retrieve(sub.id)), stripe.InvalidRequestError)


@pytest.mark.parametrize(
    ("card", "status", "invoice_status"),
    [
        ("pm_card_visa", "active", "paid"),
        ("pm_card_chargeCustomerFail", "incomplete", "open"),
        ("pm_card_authenticationRequired", "incomplete", "open"),
    ],
)
def test_test_cards_decide_the_first_payment(
    sc: stripe.StripeClient, card: str, status: str, invoice_status: str
) -> None:
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": "usd", "unit_amount": 2000, "recurring": {"interval": "month"}}
    )
    customer = sc.v1.customers.create(
        params={"payment_method": card, "invoice_settings": {"default_payment_method": card}}
    )
    sub = sc.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id, "quantity": 3}], "expand": ["latest_invoice"]}
    ).to_dict()
    assert sub["status"] == status
    assert sub["latest_invoice"]["status"] == invoice_status and sub["latest_invoice"]["total"] == 6000


@pytest.mark.parametrize(
    ("card", "code", "decline_code", "message"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", "insufficient funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", None, "Your card has expired."),
    ],
)
def test_decline_cards_are_refused_when_attached_like_stripe(
    sandbox: Sandbox, sc: stripe.StripeClient, card: str, code: str, decline_code: str | None, message: str
) -> None:
    """Stripe checks a card as it is attached: the 0002-type decline cards never reach a subscription."""
    error = refused(
        lambda: sc.v1.customers.create(
            params={"payment_method": card, "invoice_settings": {"default_payment_method": card}}
        )
    )
    assert isinstance(error, stripe.CardError) and error.http_status == 402
    assert (error.code, error.error and error.error.decline_code) == (code, decline_code)
    assert message in str(error.user_message)
    assert sandbox.test_world.objects["customer"] == {}  # all or nothing: no customer without its card
    assert sandbox.test_world.objects["payment_method"] == {}


def test_charge_customer_fail_card_attaches_then_its_charges_are_declined(sc: stripe.StripeClient) -> None:
    sub = subscribe(sc, "pm_card_chargeCustomerFail")
    assert sub.status == "incomplete"
    payment = sc.v1.invoice_payments.list(
        params={"invoice": str(sub.latest_invoice), "expand": ["data.payment.payment_intent"]}
    ).data[0]
    intent = payment.payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent) and intent.last_payment_error is not None
    error = intent.last_payment_error
    assert (error.code, error.decline_code, error.message) == (
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    )


@pytest.mark.parametrize(("currency", "amount", "charged"), [("usd", 49, False), ("usd", 50, True), ("gbp", 30, True)])
def test_amounts_below_the_currency_minimum_go_to_the_customer_balance(
    sc: stripe.StripeClient, currency: str, amount: int, charged: bool
) -> None:
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": currency, "unit_amount": amount, "recurring": {"interval": "month"}}
    )
    customer = sc.v1.customers.create(
        params={"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}}
    )
    sub = sc.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}], "expand": ["latest_invoice"]}
    )
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert sub.status == "active" and invoice.status == "paid"
    assert invoice.amount_paid == (amount if charged else 0)
    assert sc.v1.customers.retrieve(customer.id).balance == (0 if charged else amount)
    payments = sc.v1.invoice_payments.list(params={"invoice": invoice.id}).data
    assert len(payments) == (1 if charged else 0)  # below the minimum the card is never tried


def test_a_preview_needs_a_subscription_like_stripe_since_2025(sc: stripe.StripeClient) -> None:
    customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa"})
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": "usd", "unit_amount": 500, "recurring": {"interval": "month"}}
    )
    sub = sc.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    error = refused(lambda: sc.v1.invoices.create_preview(params={"customer": customer.id}))
    assert isinstance(error, stripe.InvalidRequestError) and error.http_status == 400
    assert "You must provide at least one of" in str(error.user_message)
    error = refused(
        lambda: sc.v1.invoices.create_preview(
            params={"customer": customer.id, "subscription_details": {"items": [{"price": price.id}]}}
        )
    )
    assert getattr(error, "param", None) == "subscription_details"  # accepted by Stripe, not modelled: refused by name
    assert sc.v1.invoices.create_preview(params={"customer": customer.id, "subscription": sub.id}).total == 500


def test_subscription_refusals(sc: stripe.StripeClient, metered_setup: dict[str, Any]) -> None:
    customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa"})
    error = refused(
        lambda: sc.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"price": metered_setup["price"].id, "quantity": 2}]}
        )
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "items[0][quantity]"
    error = refused(lambda: sc.v1.customers.create(params={"payment_method": "pm_card_nope"}))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "payment_method"


def test_seed_has_every_model(seeded_sandbox: Sandbox) -> None:
    sc = client(seeded_sandbox)
    prices = [p.to_dict() for p in sc.v1.prices.list(params={"limit": 100, "expand": ["data.tiers"]}).data]
    schemes = {
        (
            p["billing_scheme"],
            p.get("tiers_mode"),
            (p["recurring"] or {}).get("usage_type"),
            bool(p["transform_quantity"]),
        )
        for p in prices
    }
    assert ("per_unit", None, "licensed", False) in schemes
    assert ("tiered", "volume", "licensed", False) in schemes
    assert ("tiered", "graduated", "licensed", False) in schemes
    assert ("per_unit", None, "metered", False) in schemes
    assert ("per_unit", None, "metered", True) in schemes
    assert ("tiered", "graduated", "metered", False) in schemes
    assert any(p["type"] == "one_time" for p in prices)
    assert {p["currency"] for p in prices} >= {"usd", "eur", "jpy"}
    assert len(sc.v1.billing.meters.list().data) == 3
    archived = sc.v1.prices.list(params={"active": False}).data
    assert len(archived) == 1
    # stable ids: a second seeded sandbox has the same catalog
    with Sandbox(seed=True) as other:
        again = [p.id for p in client(other).v1.prices.list(params={"limit": 100}).data]
    assert again == [p["id"] for p in prices]


# ---- payments, test clocks and subscription lists ---------------------------------------------------------------


def subscribe(sc: stripe.StripeClient, card: str, **extra: Any) -> stripe.Subscription:
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": "usd", "unit_amount": 2000, "recurring": {"interval": "month"}}
    )
    customer = sc.v1.customers.create(
        params=cast("Any", {"payment_method": card, "invoice_settings": {"default_payment_method": card}, **extra})
    )
    return sc.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})


def test_invoice_payments_and_payment_intents_are_served(sc: stripe.StripeClient) -> None:
    declined = subscribe(sc, "pm_card_chargeCustomerFail")
    paid = subscribe(sc, "pm_card_visa")
    invoice = str(declined.latest_invoice)
    payments = sc.v1.invoice_payments.list(params={"invoice": invoice, "expand": ["data.payment.payment_intent"]})
    assert len(payments.data) == 1 and payments.data[0].status == "open" and payments.data[0].invoice == invoice
    intent = payments.data[0].payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent) and intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None and intent.last_payment_error.code == "card_declined"
    assert [p.invoice for p in sc.v1.invoice_payments.list(params={"status": "paid"}).data] == [paid.latest_invoice]
    by_intent = sc.v1.invoice_payments.list(params={"payment": {"type": "payment_intent", "payment_intent": intent.id}})
    assert [p.invoice for p in by_intent.data] == [invoice]
    assert sc.v1.invoice_payments.list(params={"payment": {"type": "payment_record"}}).data == []
    assert isinstance(sc.v1.invoice_payments.list().data[0].payment.payment_intent, str)  # an id unless expanded
    again = sc.v1.payment_intents.retrieve(intent.id, params={"expand": ["payment_method"]})
    assert again.status == "requires_payment_method" and again.amount == 2000
    assert isinstance(again.payment_method, stripe.PaymentMethod) and again.payment_method.card is not None
    assert again.payment_method.card.last4 == "0341"


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [
        (lambda sc: sc.v1.invoice_payments.list(params={"customer": "cus_x"}), 400, "unknown parameter: customer"),
        (
            lambda sc: sc.v1.invoice_payments.list(params={"expand": ["payment.payment_intent"]}),
            400,
            "You may want to try expanding 'data.payment.payment_intent' instead.",
        ),
        (lambda sc: sc.v1.invoice_payments.list(params={"payment": {"payment_intent": "pi_x"}}), 400, "payment[type]"),
        (lambda sc: sc.v1.payment_intents.retrieve("pi_nope"), 404, "No such payment_intent: 'pi_nope'"),
        (lambda sc: sc.v1.payment_intents.retrieve("pi_x", params={"limit": 1}), 400, "unknown parameter: limit"),
        (lambda sc: sc.v1.test_helpers.test_clocks.list(params={"name": "x"}), 400, "unknown parameter: name"),
    ],
)
def test_payment_and_clock_lists_refuse_like_stripe(
    sc: stripe.StripeClient, call: Any, status: int, message: str
) -> None:
    error = refused(lambda: call(sc))
    assert error.http_status == status and message in str(error.user_message)


def test_three_d_secure_intent_requires_action(sc: stripe.StripeClient) -> None:
    sub = subscribe(sc, "pm_card_authenticationRequired")
    payment = sc.v1.invoice_payments.list(params={"invoice": str(sub.latest_invoice)}).data[0]
    intent = sc.v1.payment_intents.retrieve(str(payment.payment.payment_intent))
    assert intent.status == "requires_action" and intent.next_action is not None


def test_test_clocks_are_listed(sc: stripe.StripeClient) -> None:
    first = sc.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600, "name": "one"})
    second = sc.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600, "name": "two"})
    listed = sc.v1.test_helpers.test_clocks.list(params={"limit": 1})
    assert [c.id for c in listed.data] == [second.id] and listed.has_more
    rest = sc.v1.test_helpers.test_clocks.list(params={"starting_after": second.id})
    assert [(c.id, c.name) for c in rest.data] == [(first.id, "one")]


def test_subscription_lists_expand_inside_data_and_filter_by_status(sc: stripe.StripeClient) -> None:
    active = subscribe(sc, "pm_card_visa")
    incomplete = subscribe(sc, "pm_card_chargeCustomerFail")
    canceled = subscribe(sc, "pm_card_visa")
    sc.v1.subscriptions.cancel(canceled.id)
    listed = sc.v1.subscriptions.list(params={"expand": ["data.latest_invoice", "data.customer"]}).data
    assert {s.id for s in listed} == {active.id, incomplete.id}  # Stripe leaves canceled ones out by default
    assert all(isinstance(s.latest_invoice, stripe.Invoice) and isinstance(s.customer, stripe.Customer) for s in listed)
    error = refused(lambda: sc.v1.subscriptions.list(params={"expand": ["latest_invoice"]}))
    assert "You may want to try expanding 'data.latest_invoice' instead." in str(error.user_message)
    assert [s.id for s in sc.v1.subscriptions.list(params={"status": "canceled"}).data] == [canceled.id]
    assert [s.id for s in sc.v1.subscriptions.list(params={"status": "incomplete"}).data] == [incomplete.id]
    assert len(sc.v1.subscriptions.list(params={"status": "all"}).data) == 3
    price = active.items.data[0].price.id
    assert [s.id for s in sc.v1.subscriptions.list(params={"price": price}).data] == [active.id]
    end = active.items.data[0].current_period_end
    assert len(sc.v1.subscriptions.list(params={"current_period_end": {"lte": end + 60}}).data) == 2
    assert sc.v1.subscriptions.list(params={"current_period_end": {"gt": end + 86400}}).data == []
    assert sc.v1.subscriptions.list(params={"automatic_tax": {"enabled": True}}).data == []


def test_meter_event_lag_holds_usage_back_until_it_passes(sandbox: Sandbox, metered_setup: dict[str, Any]) -> None:
    now = [1_767_225_600.0]
    sandbox.test_world.clock = lambda: now[0]
    sandbox.meter_event_lag = 30
    assert Sandbox(meter_event_lag=5).meter_event_lag == 5
    sc = client(sandbox)
    customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = sc.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": metered_setup["price"].id}]})
    sc.v1.billing.meter_events.create(
        params={"event_name": "api", "payload": {"stripe_customer_id": customer.id, "value": "100"}}
    )

    def usage() -> int:
        preview = sc.v1.invoices.create_preview(params={"subscription": sub.id})
        return int(preview.lines.data[0].quantity or 0)

    now[0] += 29
    assert usage() == 0
    now[0] += 1
    assert usage() == 100
    with pytest.raises(ValueError):
        sandbox.meter_event_lag = -1


def test_subscription_charges_its_own_default_payment_method(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": "usd", "unit_amount": 2000, "recurring": {"interval": "month"}}
    )
    customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa"})  # attached, not the default
    card = next(pm for pm in sandbox.test_world.objects["payment_method"].values() if pm["customer"] == customer.id)
    without = sc.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    assert without.status == "incomplete"  # no default payment method anywhere
    sub = sc.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id, "metadata": {"plan": "pro"}}],
            "default_payment_method": card["id"],
        }
    )
    assert sub.status == "active" and sub.items.data[0].metadata.to_dict() == {"plan": "pro"}
    stranger = sc.v1.customers.create(params={"name": "Other"})
    error = refused(
        lambda: sc.v1.subscriptions.create(
            params={"customer": stranger.id, "items": [{"price": price.id}], "default_payment_method": card["id"]}
        )
    )
    assert isinstance(error, stripe.InvalidRequestError) and error.param == "default_payment_method"


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda sc, cus, price: sc.v1.customers.create(params={"balance": 500}), "balance"),
        (
            lambda sc, cus, price: sc.v1.customers.create(params={"invoice_settings": {"footer": "Thanks"}}),
            "invoice_settings[footer]",
        ),
        (
            lambda sc, cus, price: sc.v1.subscriptions.create(
                params={"customer": cus, "items": [{"price": price}], "trial_period_days": 14}
            ),
            "trial_period_days",
        ),
        (
            lambda sc, cus, price: sc.v1.subscriptions.create(
                params={"customer": cus, "items": [{"price": price, "tax_rates": ["txr_1"]}]}
            ),
            "items[0][tax_rates]",
        ),
    ],
)
def test_params_stripe_accepts_but_the_sandbox_does_not_model_are_refused(
    sc: stripe.StripeClient, call: Any, param: str
) -> None:
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": "usd", "unit_amount": 2000, "recurring": {"interval": "month"}}
    )
    customer = sc.v1.customers.create(params={"payment_method": "pm_card_visa"})
    error = refused(lambda: call(sc, customer.id, price.id))
    assert isinstance(error, stripe.InvalidRequestError) and error.param == param
    assert "does not model" in str(error.user_message)


def test_a_gate_fault_holds_a_request_until_the_test_releases_it(sandbox: Sandbox, sc: stripe.StripeClient) -> None:
    import threading

    gate = sandbox.faults.add(method="POST", path="/v1/products", kind="gate")
    done = threading.Event()

    def hold() -> None:
        sc.v1.products.create(params={"name": "Held"})
        done.set()

    thread = threading.Thread(target=hold)
    thread.start()
    assert gate.reached.wait(5)
    assert not done.is_set() and sandbox.test_world.objects["product"] == {}  # held before it runs
    gate.release()
    thread.join(5)
    assert done.is_set() and [p["name"] for p in sandbox.test_world.objects["product"].values()] == ["Held"]


def test_a_balance_left_below_the_minimum_is_collected_with_the_next_invoice(sc: stripe.StripeClient) -> None:
    start = 1_767_225_600
    clock = sc.v1.test_helpers.test_clocks.create(params={"frozen_time": start})
    price = sc.v1.prices.create(
        params={"product": product(sc), "currency": "usd", "unit_amount": 30, "recurring": {"interval": "month"}}
    )
    customer = sc.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
            "test_clock": clock.id,
        }
    )
    sc.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    assert sc.v1.customers.retrieve(customer.id).balance == 30  # $0.30 < $0.50: not charged
    sc.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 31 * 86400 + 2 * 3600})
    renewal = next(
        i
        for i in sc.v1.invoices.list(params={"customer": customer.id}).data
        if i.billing_reason == "subscription_cycle"
    )
    assert (renewal.total, renewal.starting_balance, renewal.amount_due, renewal.amount_paid) == (30, 30, 60, 60)
    assert renewal.status == "paid" and sc.v1.customers.retrieve(customer.id).balance == 0
