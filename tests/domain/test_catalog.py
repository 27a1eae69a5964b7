"""The catalog file's model: every pricing model round-trips through TOML, unknown keys and broken rules are refused
with their field, and identities (lookup key, event name, product key) tie the parts together."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest
import tomli_w

from portal_tui.domain.catalog import (
    PRODUCT_KEY_METADATA,
    Catalog,
    CatalogError,
    CatalogMeter,
    CatalogPrice,
    CatalogProduct,
    product_key_of,
)
from portal_tui.domain.price_terms import compare_terms, terms_fingerprint
from portal_tui.domain.pricing import CurrencyAmounts, PriceDraft, PricingModel, Tier
from portal_tui.services.toml_file import dumps_tables


def every_model() -> Catalog:
    """A catalog with all six models, a one-off price, a non-default meter payload and a decimal amount."""

    def price(
        key: str, product: str, draft: PriceDraft, meter: str | None = None, default: bool = False
    ) -> CatalogPrice:
        draft.lookup_key = key
        return CatalogPrice(key, product, draft, meter, default)

    tiers = [Tier(5, Decimal(0), 1000), Tier(20, Decimal(400)), Tier(None, Decimal("2.5"))]
    return Catalog(
        meters=[
            CatalogMeter("api_calls", "API calls"),
            CatalogMeter("gpu_seconds", "GPU", "last", customer_key="account", value_key="seconds"),
        ],
        products=[
            CatalogProduct("pro", "Pro VPS", "4 vCPU"),
            CatalogProduct("usage", "Usage"),
        ],
        prices=[
            price("pro_monthly", "pro", PriceDraft(unit_amount=Decimal(2000), nickname="Pro"), default=True),
            price(
                "pro_yearly", "pro", PriceDraft(unit_amount=Decimal(20000), interval="year", tax_behavior="exclusive")
            ),
            price("pro_quarter", "pro", PriceDraft(currency="jpy", unit_amount=Decimal(1500), interval_count=3)),
            price("seats_volume", "pro", PriceDraft(model=PricingModel.VOLUME, tiers=list(tiers), tiers_mode="volume")),
            price("seats", "pro", PriceDraft(model=PricingModel.GRADUATED, tiers=list(tiers), tiers_mode="graduated")),
            price("setup", "pro", PriceDraft(unit_amount=Decimal(4900), recurring=False)),
            price(
                "api", "usage", PriceDraft(model=PricingModel.USAGE_PER_UNIT, unit_amount=Decimal("0.04")), "api_calls"
            ),
            price(
                "gpu_hours",
                "usage",
                PriceDraft(
                    model=PricingModel.USAGE_PACKAGE, unit_amount=Decimal(10), package_size=60, package_round="down"
                ),
                "gpu_seconds",
            ),
            price(
                "bandwidth",
                "usage",
                PriceDraft(model=PricingModel.USAGE_PER_TIER, tiers=list(tiers), tiers_mode="graduated"),
                "api_calls",
            ),
        ],
    )


def roundtrip(catalog: Catalog) -> Catalog:
    return Catalog.from_toml_dict(tomllib.loads(tomli_w.dumps(catalog.to_toml_dict())))


def test_every_model_round_trips_through_toml() -> None:
    catalog = every_model()
    assert catalog.validate() == []
    again = roundtrip(catalog)
    assert again == catalog
    assert [p.terms() for p in again.prices] == [p.terms() for p in catalog.prices]


def test_the_toml_spells_amounts_as_text_and_unbounded_tiers_as_inf() -> None:
    text = tomli_w.dumps(every_model().to_toml_dict())
    data = tomllib.loads(text)
    api = next(p for p in data["prices"] if p["lookup_key"] == "api")
    assert api["unit_amount"] == "0.04" and api["meter"] == "api_calls" and api["model"] == "usage_per_unit"
    seats = next(p for p in data["prices"] if p["lookup_key"] == "seats")
    assert seats["tiers"][-1] == {"up_to": "inf", "unit_amount": "2.5"}
    assert seats["tiers"][0] == {"up_to": 5, "unit_amount": "0", "flat_amount": 1000}
    setup = next(p for p in data["prices"] if p["lookup_key"] == "setup")
    assert setup["recurring"] is False and "interval" not in setup
    assert data["schema_version"] == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"schema_version": 1, "price": []}, "price"),
        ({"meters": [{"event_name": "a", "aggregate": "sum"}]}, "meters[0].aggregate"),
        ({"products": [{"key": "a", "name": "A", "metadata": {}}]}, "products[0].metadata"),
        ({"prices": [{"lookup_key": "a", "product": "p", "currency": "usd", "amount": "1"}]}, "prices[0].amount"),
        (
            {
                "prices": [
                    {
                        "lookup_key": "a",
                        "product": "p",
                        "currency": "usd",
                        "model": "volume",
                        "tiers": [{"up_to": "inf", "unit": "1"}],
                    }
                ]
            },
            "prices[0].tiers[0].unit",
        ),
    ],
)
def test_unknown_keys_are_refused_with_their_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.from_toml_dict(data)
    assert caught.value.field == field
    assert "not a known key" in caught.value.message


@pytest.mark.parametrize(
    ("price", "field", "words"),
    [
        ({"unit_amount": 20.5}, "prices[0].unit_amount", "as text"),
        ({"unit_amount": "twenty"}, "prices[0].unit_amount", "not a number"),
        ({"model": "tiered"}, "prices[0].model", "must be one of"),
        ({"model": "volume", "tiers_mode": "graduated", "tiers": []}, "prices[0].tiers_mode", "contradicts"),
        ({"tiers": [{"up_to": "inf", "unit_amount": "1"}]}, "prices[0].tiers", "only tiered"),
        ({"model": "volume", "tiers": [{"unit_amount": "1"}]}, "prices[0].tiers[0].up_to", "missing"),
        ({"recurring": False, "interval": "month"}, "prices[0].interval", "one-off"),
        ({"interval": "fortnight"}, "prices[0].interval", "day, week"),
        ({"default": "yes"}, "prices[0].default", "true or false"),
        ({"currency": None}, "prices[0].currency", "missing"),
    ],
)
def test_malformed_prices_are_refused_with_their_field(price: dict[str, object], field: str, words: str) -> None:
    entry = {"lookup_key": "a", "product": "p", "currency": "usd", "unit_amount": "100", **price}
    entry = {key: value for key, value in entry.items() if value is not None}
    if "tiers" in price or price.get("model") in ("volume",):
        entry.pop("unit_amount", None)
    with pytest.raises(CatalogError) as caught:
        Catalog.from_toml_dict({"prices": [entry]})
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_newer_schema_is_refused() -> None:
    with pytest.raises(CatalogError) as caught:
        Catalog.from_toml_dict({"schema_version": 2})
    assert caught.value.field == "schema_version" and "reads version 1" in caught.value.message


def test_validate_names_every_broken_rule() -> None:
    catalog = every_model()
    catalog.prices[0].product = "missing"
    catalog.prices[1].lookup_key = "pro_monthly"
    catalog.prices[2].default = True  # pro already has pro_monthly... which now points at "missing"; seats next
    catalog.prices[4].default = True
    catalog.prices[6].meter = None
    catalog.prices[7].meter = "nope"
    catalog.prices[5].meter = "api_calls"  # a one-off flat price with a meter
    catalog.prices[3].draft.tiers = [Tier(10, Decimal(1)), Tier(5, Decimal(1)), Tier(None, Decimal(1))]
    catalog.meters.append(CatalogMeter("api_calls", "Again"))
    catalog.products.append(CatalogProduct("usage", " "))
    fields = {problem.field: problem.message for problem in catalog.validate()}
    assert "No product with the key 'missing'" in fields["prices[0].product"]
    assert "listed twice" in fields["prices[1].lookup_key"]
    assert "already has 'pro_quarter'" in fields["prices[4].default"]
    assert "needs a meter" in fields["prices[6].meter"]
    assert "No meter with the event name 'nope'" in fields["prices[7].meter"]
    assert "Only usage-based" in fields["prices[5].meter"]
    assert "greater than 10" in fields["prices[3].tiers[1].up_to"]
    assert "listed twice" in fields["meters[2].event_name"]
    assert "listed twice" in fields["products[2].key"] and "name" in fields["products[2].name"].lower()


def test_a_blank_lookup_key_is_refused() -> None:
    catalog = every_model()
    catalog.prices[0].lookup_key = "  "
    assert [p.field for p in catalog.validate()] == ["prices[0].lookup_key"]


def test_merged_replaces_same_identity_and_appends_new_items() -> None:
    base = every_model()
    changed = CatalogPrice("pro_monthly", "pro", PriceDraft(unit_amount=Decimal(2500), lookup_key="pro_monthly"))
    extra = CatalogPrice("new", "pro", PriceDraft(unit_amount=Decimal(1), lookup_key="new"))
    merged = base.merged(Catalog(products=[CatalogProduct("pro", "Pro VPS 2")], prices=[changed, extra]))
    assert [p.lookup_key for p in merged.prices] == [*(p.lookup_key for p in base.prices), "new"]
    assert merged.price("pro_monthly") is changed
    assert merged.product("pro") is not None and merged.product("pro").name == "Pro VPS 2"  # type: ignore[union-attr]
    assert len(merged.meters) == 2 and base.price("pro_monthly") is not changed


def test_product_identity_is_the_stamped_key_else_the_name_slug() -> None:
    assert product_key_of({"name": "Pro VPS (2024)", "metadata": {}}) == "pro-vps-2024"
    assert product_key_of({"name": "Pro VPS", "metadata": {PRODUCT_KEY_METADATA: "pro"}}) == "pro"
    assert product_key_of({"name": "!!!"}) == "product"


def test_create_params_use_the_accounts_ids_and_the_catalog_key() -> None:
    catalog = every_model()
    api = catalog.price("api")
    assert api is not None
    params = api.create_params("prod_X", "mtr_Y", transfer_lookup_key=True)
    assert params["recurring"]["meter"] == "mtr_Y" and params["product"] == "prod_X"
    assert params["lookup_key"] == "api" and params["transfer_lookup_key"] is True
    assert params["unit_amount_decimal"] == "0.04"
    assert api.terms()["meter"] == "api_calls"
    same = roundtrip(catalog).price("api")
    assert same is not None and same.fingerprint() == terms_fingerprint(api.terms())
    meter = catalog.meter("gpu_seconds")
    assert meter is not None
    assert meter.create_params()["customer_mapping"]["event_payload_key"] == "account"
    assert "value_settings" not in CatalogMeter("n", "N", "count").create_params()


# ---- several currencies ---------------------------------------------------------------------------------------------

SEAT_TIERS = [Tier(10, Decimal(500), 1000), Tier(None, Decimal(400))]


def multi_currency() -> Catalog:
    flat = PriceDraft(
        unit_amount=Decimal(2000),
        lookup_key="pro_multi",
        currency_options={
            "eur": CurrencyAmounts(Decimal(1800), tax_behavior="exclusive"),
            "jpy": CurrencyAmounts(Decimal(3000)),
        },
    )
    graduated = PriceDraft(
        model=PricingModel.GRADUATED,
        tiers=list(SEAT_TIERS),
        tiers_mode="graduated",
        lookup_key="seats_multi",
        currency_options={
            "eur": CurrencyAmounts(tiers=[Tier(10, Decimal(450), 900), Tier(None, Decimal("3.6"))]),
            "jpy": CurrencyAmounts(tiers=[Tier(10, Decimal(700), 1400), Tier(None, Decimal(560))]),
        },
    )
    return Catalog(
        products=[CatalogProduct("pro", "Pro VPS")],
        prices=[CatalogPrice("pro_multi", "pro", flat), CatalogPrice("seats_multi", "pro", graduated)],
    )


def test_extra_currencies_round_trip_through_the_file() -> None:
    catalog = multi_currency()
    assert catalog.validate() == []
    text = dumps_tables(catalog.to_toml_dict())  # as CatalogStore writes it: sections, never inline tables
    assert '[[prices.currency_options]]\ncurrency = "eur"\nunit_amount = "1800"\ntax_behavior = "exclusive"\n' in text
    assert '[[prices.currency_options.tiers]]\nup_to = "inf"\nunit_amount = "3.6"\n' in text
    again = Catalog.from_toml_dict(tomllib.loads(text))
    assert again == catalog
    assert [p.fingerprint() for p in again.prices] == [p.fingerprint() for p in catalog.prices]


def test_an_old_file_without_currencies_keeps_its_fingerprints() -> None:
    """Files and Verify records written before multi-currency prices: the terms of a one-currency price are as
    they were (no currency_options key), so nothing goes stale."""
    catalog = roundtrip(every_model())
    assert all(not p.draft.currency_options for p in catalog.prices)
    assert all("currency_options" not in p.terms() for p in catalog.prices)
    assert all("currency_options" not in p for p in catalog.to_toml_dict()["prices"])


@pytest.mark.parametrize(
    ("option", "field", "words"),
    [
        ({"unit_amount": "1800"}, "prices[0].currency_options[0].currency", "missing"),
        ({"currency": "eur", "amount": "1"}, "prices[0].currency_options[0].amount", "not a known key"),
        ({"currency": "eur", "unit_amount": 18.5}, "prices[0].currency_options[0].unit_amount", "as text"),
        (
            {"currency": "eur", "unit_amount": "1", "tax_behavior": "no"},
            "prices[0].currency_options[0].tax_behavior",
            "inclusive",
        ),
    ],
)
def test_malformed_currencies_are_refused_with_their_field(option: dict[str, object], field: str, words: str) -> None:
    entry = {"lookup_key": "a", "product": "p", "currency": "usd", "unit_amount": "100", "currency_options": [option]}
    with pytest.raises(CatalogError) as caught:
        Catalog.from_toml_dict({"prices": [entry]})
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_currency_listed_twice_or_an_amount_beside_tiers_is_refused() -> None:
    data = multi_currency().to_toml_dict()
    data["prices"][0]["currency_options"].append({"currency": "EUR", "unit_amount": "1"})
    with pytest.raises(CatalogError) as caught:
        Catalog.from_toml_dict(data)
    assert (
        caught.value.field == "prices[0].currency_options[2].currency" and "EUR is listed twice" in caught.value.message
    )
    data = multi_currency().to_toml_dict()
    data["prices"][1]["currency_options"][0]["unit_amount"] = "450"
    with pytest.raises(CatalogError) as caught:
        Catalog.from_toml_dict(data)
    assert caught.value.field == "prices[1].currency_options[0].unit_amount"


def test_validate_checks_each_currency_on_the_price_tiers() -> None:
    catalog = multi_currency()
    seats = catalog.prices[1].draft
    seats.currency_options["eur"].tiers[0].up_to = 20
    seats.currency_options["jpy"].tiers[0].flat_amount = None
    seats.currency_options["jpy"].tiers[0].unit_amount = None
    assert [(e.field, e.message) for e in catalog.validate()] == [
        ("prices[1].currency_options.eur.tiers[0].up_to", "EUR tier 1 must go up to 10, as the price's own"),
        (
            "prices[1].currency_options.jpy.tiers[0].unit_amount",
            "JPY tier 1 needs a per-unit price, a flat fee, or both",
        ),
    ]


def test_diff_names_the_currency_whose_amount_changed() -> None:
    expected = multi_currency()
    actual = multi_currency()
    actual.prices[0].draft.currency_options["eur"].unit_amount = Decimal(1900)
    del actual.prices[0].draft.currency_options["jpy"]
    actual.prices[1].draft.currency_options["jpy"].tiers[1].unit_amount = Decimal(600)
    flat = compare_terms(expected.prices[0].terms(), actual.prices[0].terms())
    assert [d.text() for d in flat] == ["EUR amount: €18.00 → €19.00", "JPY amounts: ¥3,000 → none"]
    tiers = compare_terms(expected.prices[1].terms(), actual.prices[1].terms())
    assert [d.label for d in tiers] == ["JPY tiers"]
    assert tiers[0].text() == "JPY tiers: 10: ¥700 + ¥1,400 · ∞: ¥560 → 10: ¥700 + ¥1,400 · ∞: ¥600"
    assert expected.prices[0].fingerprint() != actual.prices[0].fingerprint()
    assert compare_terms(expected.prices[1].terms(), multi_currency().prices[1].terms()) == []
