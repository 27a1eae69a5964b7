"""The builder's form model without a terminal: what each model sends, problems at their fields, visibility, preview,
unsaved changes, the replace prefill and the create's bookkeeping."""

from __future__ import annotations

from typing import Any

import pytest

from portal_tui.forms.price_form import (
    NEW,
    CurrencyInput,
    PriceForm,
    TierInput,
    close_currencies,
    replaced_is_default,
    tier_starts,
)
from portal_tui.services.product_setup import SetupProgress
from tests.domain.test_pricing import price


def form(currency: str = "gbp", **values: Any) -> PriceForm:
    """A form as an admin leaves it after typing `values` (field names of PriceFormValues)."""
    made = PriceForm(currency)
    for name, value in values.items():
        if name == "tiers":
            made.edit_tiers([TierInput(*row) for row in value])
        else:
            made.edit(name, value)
    return made


METER = {"product_name": "P", "meter": NEW, "meter_name": "API calls", "meter_event": "api_req"}
# (name, values typed, params the create sends (beyond currency/product), preview summary, a sample row)
MODELS: list[tuple[str, dict[str, Any], dict[str, Any], str, tuple[int, str] | None]] = [
    (
        "flat",
        {"product_name": "P", "amount": "20", "lookup_key": "pro_monthly", "nickname": "Pro monthly"},
        {
            "billing_scheme": "per_unit",
            "unit_amount": 2000,
            "lookup_key": "pro_monthly",
            "nickname": "Pro monthly",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        },
        "$20.00 / month",
        (5, "$100.00"),
    ),
    (
        "volume",
        {"product_name": "P", "model": "volume", "period": "year:1", "tiers": [("10", "5", ""), ("", "4", "")]},
        {
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": [{"up_to": 10, "unit_amount": 500}, {"up_to": "inf", "unit_amount": 400}],
            "recurring": {"interval": "year", "interval_count": 1, "usage_type": "licensed"},
        },
        "Volume · 1–10 $5.00 · 11+ $4.00 / year",
        (11, "$44.00"),
    ),
    (
        "graduated",
        {
            "product_name": "P",
            "model": "graduated",
            "period": "month:3",
            "tiers": [("10", "0", "20"), ("25", "1", "5"), ("", "0.5", "")],
        },
        {
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 10, "unit_amount": 0, "flat_amount": 2000},
                {"up_to": 25, "unit_amount": 100, "flat_amount": 500},
                {"up_to": "inf", "unit_amount": 50},
            ],
            "recurring": {"interval": "month", "interval_count": 3, "usage_type": "licensed"},
        },
        "Graduated · 1–10 $20.00 flat · 11–25 $1.00 + $5.00 · 26+ $0.50 / 3 months",
        (26, "$40.50"),
    ),
    (
        "usage_per_unit",
        {**METER, "model": "usage_per_unit", "amount": "0.0004"},
        {
            "billing_scheme": "per_unit",
            "unit_amount_decimal": "0.04",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_1"},
        },
        "$0.0004 per unit / month · metered",
        (100_000, "$40.00"),
    ),
    (
        "usage_package",
        {**METER, "model": "usage_package", "amount": "10", "package_size": "60"},
        {
            "billing_scheme": "per_unit",
            "unit_amount": 1000,
            "transform_quantity": {"divide_by": 60, "round": "up"},
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_1"},
        },
        "$10.00 per 60 units, rounded up / month · metered",
        (61, "$20.00"),
    ),
    (
        "usage_per_tier",
        {**METER, "model": "usage_per_tier", "tiers_mode": "volume", "tiers": [("1000", "0.02", ""), ("", "0.01", "")]},
        {
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": [{"up_to": 1000, "unit_amount": 2}, {"up_to": "inf", "unit_amount": 1}],
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_1"},
        },
        "Volume · 1–1,000 $0.02 · 1,001+ $0.01 / month · metered",
        (1001, "$10.01"),
    ),
    ("one_off", {"product_name": "P", "price_type": "one_time", "amount": "49"}, {"unit_amount": 4900}, "", None),
]


@pytest.mark.parametrize(("name", "values", "expected", "summary", "sample"), MODELS, ids=[m[0] for m in MODELS])
def test_each_model_sends_its_params_and_previews_what_a_customer_pays(
    name: str, values: dict[str, Any], expected: dict[str, Any], summary: str, sample: tuple[int, str] | None
) -> None:
    priced = form("usd", **values)
    built = priced.build()
    assert built.problems == {}
    params = built.request.price_params("prod_1", "mtr_1")
    assert params["currency"] == "usd" and params["product"] == "prod_1"
    for key, value in expected.items():
        assert params[key] == value, (key, params)
    if name == "one_off":
        assert "recurring" not in params
        assert priced.visibility().period is False
    preview = priced.preview()
    assert preview is not None
    assert summary in preview.summary
    if sample:
        assert sample in preview.samples
    if built.request.new_meter is not None:
        assert built.request.new_meter.params()["event_name"] == "api_req"
    assert built.request.product_params() == {"name": "P"}


def test_bad_amounts_and_currencies_are_found_at_their_fields() -> None:
    typed = form("usd", product_name="P", amount="12.345")
    assert typed.problems["unit_amount"] == "Use at most 2 decimals for USD"
    assert typed.status(typed.problems, connected=True).startswith("Cannot create yet: Use at most 2 decimals")
    typed.edit("amount", "20a")
    assert typed.problems["unit_amount"]
    typed.edit("amount", "12.34")
    typed.edit("currency", "xyz")
    assert typed.problems["currency"].startswith("Unknown currency 'xyz'")
    typed.edit("currency", "gpb")
    assert typed.problems["currency"].startswith("Unknown currency 'gpb'. Did you mean:")
    assert "gbp" in typed.problems["currency"]
    typed.edit("currency", "")
    assert typed.problems["currency"] == "Type a currency code, e.g. usd, eur, gbp"
    typed.edit("currency", "JPY")
    typed.edit("amount", "12.5")
    assert "JPY has no decimals" in typed.problems["unit_amount"]
    typed.edit("amount", "1250")
    assert typed.problems == {}
    assert typed.status({}, connected=True) == "Ready: ctrl+n reviews exactly what will be sent."
    assert typed.status({}, connected=False) == "Connect Stripe first (F1)."


def test_period_lookup_key_and_one_off_rules() -> None:
    typed = form("usd", product_name="P", amount="5", period="custom", interval_count="40")
    assert typed.visibility().custom_period
    assert "36" in typed.problems["interval_count"]
    typed.edit("interval_count", "2")
    typed.edit("lookup_key", "k" * 201)
    assert "200" in typed.problems["lookup_key"]
    typed.edit("lookup_key", "ok")
    assert typed.problems == {}
    assert typed.build().request.price_params("prod_1", None)["recurring"]["interval_count"] == 2
    typed.edit("price_type", "one_time")
    typed.edit("model", "volume")
    assert typed.problems["model"] == "A one-off price can only be a flat amount"
    assert "currency" not in typed.problems


def test_tier_rows_are_read_and_checked() -> None:
    tiered = form("usd", product_name="Seats", model="graduated", tiers=[("10", "5", ""), ("", "", "")])
    assert "Tier 2 needs a per-unit price" in tiered.shown_problems()["tiers"]
    tiered.edit_tiers([TierInput("10", "5"), TierInput("5", "4"), TierInput("", "3")])
    assert "Tier 2 'up to' must be greater than 10" in tiered.shown_problems()["tiers"]
    tiered.edit_tiers([TierInput("0", "5"), TierInput("", "4")])
    assert "at least 1" in tiered.shown_problems()["tiers"]
    tiered.edit_tiers([TierInput("ten", "5x"), TierInput("", "4", "1.234")])
    problems = tiered.problems
    assert problems["tiers[0].up_to"] == "Tier 1: enter where it ends ('up to')"
    assert problems["tiers[0].unit_amount"].startswith("Tier 1: ")
    assert problems["tiers[1].flat_amount"] == "Tier 2: Use at most 2 decimals for USD"


def test_tier_starts_follow_the_up_to_above() -> None:
    assert tier_starts(["10", "20", ""]) == [1, 11, 21]
    assert tier_starts(["10", "5", ""]) == [1, 11, 12]  # a bound below the one above: numbered on, flagged elsewhere
    assert tier_starts(["", "x", "1,000", ""]) == [1, 2, 3, 1001]
    assert tier_starts([""]) == [1]


def test_an_empty_required_field_complains_only_once_touched_or_after_ctrl_n() -> None:
    fresh = form()
    assert fresh.problems["product-name"] == "Give the product a name"
    assert fresh.problems["unit_amount"] == "Enter an amount"
    assert fresh.shown_problems() == {}
    fresh.edit("amount", "20")
    assert fresh.status(fresh.problems, connected=True) == "Cannot create yet: Give the product a name"
    assert "product-name" not in fresh.shown_problems()
    fresh.edit("product_name", "P")
    fresh.edit("product_name", "")
    assert fresh.shown_problems()["product-name"] == "Give the product a name"
    pressed = form()
    pressed.attempted = True
    shown = pressed.shown_problems()
    assert shown["product-name"] == "Give the product a name" and shown["unit_amount"] == "Enter an amount"


def test_a_tier_rows_problem_waits_until_a_tier_was_typed_in() -> None:
    tiered = form(product_name="Seats", model="volume")
    assert "tiers[0].up_to" in tiered.problems
    assert "tiers" not in tiered.shown_problems()
    tiered.edit_tiers([TierInput("10"), TierInput()])
    assert "Tier 2 needs a per-unit price" in tiered.shown_problems()["tiers"]


def test_usage_prices_need_a_meter_chosen_or_described() -> None:
    meters = [{"id": "mtr_1", "event_name": "api_requests", "display_name": "API"}]
    usage = form(product_name="Compute", model="usage_package", amount="0.10", package_size="0")
    usage.set_meters(meters)
    assert usage.problems["package_size"] == "A package holds at least 1 unit"
    assert usage.problems["meter"].startswith("Choose the meter")
    usage.edit("package_size", "60")
    usage.edit("meter", NEW)
    assert usage.problems == {"new-meter": "Give the new meter a display name and an event name"}
    assert "new-meter" not in usage.shown_problems()  # not nagging before the admin typed a name or event
    usage.edit("meter_name", "API")
    usage.edit("meter_event", "api_requests")
    assert usage.shown_problems()["new-meter"] == "A meter for event 'api_requests' exists: choose it above"
    assert usage.preview() is not None  # the meter does not change what a customer pays
    usage.edit("meter", "mtr_1")
    assert usage.problems == {}
    assert usage.build().request.price_params("prod_1", None)["recurring"]["meter"] == "mtr_1"


@pytest.mark.parametrize(
    ("model", "parts", "label"),
    [
        ("flat", {"amount"}, "Amount"),
        ("volume", {"tiers"}, "Amount"),
        ("graduated", {"tiers"}, "Amount"),
        ("usage_per_unit", {"amount", "meter"}, "Per unit"),
        ("usage_package", {"amount", "package", "meter"}, "Package price"),
        ("usage_per_tier", {"tiers", "tiers_mode", "meter"}, "Per unit"),
    ],
)
def test_only_the_fields_of_the_chosen_model_apply(model: str, parts: set[str], label: str) -> None:
    seen = form(model=model).visibility()
    optional = {"amount", "package", "tiers", "tiers_mode", "meter"}
    assert {part for part in optional if getattr(seen, part)} == parts
    assert seen.amount_label == label and seen.period and seen.new_product and not seen.custom_period
    assert not form(product="prod_1").visibility().new_product


def test_the_preview_waits_for_a_complete_price_and_follows_the_quantity() -> None:
    typed = form("usd", amount="20")
    assert typed.preview() is not None  # the missing name does not hide what a customer pays
    typed.preview_quantity = "1,200"
    preview = typed.preview()
    assert preview is not None
    assert (preview.quantity, preview.total, preview.period) == (1200, "$24,000.00", " / month")
    typed.preview_quantity = "lots"
    fallback = typed.preview()
    assert fallback is not None and fallback.quantity == fallback.samples[-1][0]
    typed.edit("amount", "2x")
    assert typed.preview() is None
    graduated = form("usd", model="graduated", tiers=[("10", "0", "20"), ("", "1", "")])
    graduated.preview_quantity = "12"
    detail = graduated.preview()
    assert detail is not None and detail.total == "$22.00"
    assert detail.rows == ["1–10: 10 × $0.00 + $20.00 flat = $20.00", "11+: 2 × $1.00 = $2.00"]


def test_the_currency_follows_the_account_until_the_admin_chooses_one() -> None:
    fresh = PriceForm()
    assert fresh.values.currency == "usd"
    assert fresh.follow_account_currency("GBP") and fresh.values.currency == "gbp"
    assert fresh.follow_account_currency(None) and fresh.values.currency == "usd"  # no account known: usd
    assert fresh.follow_account_currency("gbp") and fresh.values.currency == "gbp"
    assert not fresh.follow_account_currency("GBP")
    fresh.edit("currency", "eur")
    assert not fresh.follow_account_currency("gbp") and fresh.values.currency == "eur"
    fresh.reset()
    assert fresh.values.currency == "gbp"


def test_unsaved_changes_are_what_was_typed_and_not_created() -> None:
    typed = form()
    assert not typed.unsaved
    typed.edit("period", "year:1")  # a choice alone is not the admin's own work
    assert not typed.unsaved
    typed.edit("product_name", "Half")
    assert typed.unsaved
    typed.edit("product_name", "")
    typed.edit_tiers([TierInput("", "4"), TierInput()])
    assert typed.unsaved
    typed.edit_tiers([TierInput(), TierInput()])
    typed.edit("meter_event", "calls")
    assert typed.unsaved


def test_after_a_create_the_form_knows_what_it_made() -> None:
    typed = form(product_name="Once", amount="20")
    progress = SetupProgress(product_id="prod_1", price={"id": "price_1"})
    typed.progress = progress
    typed.created(progress)
    assert typed.just_created and not typed.unsaved
    assert typed.values.product == "prod_1" and typed.products == [{"id": "prod_1", "name": "Once"}]
    assert typed.build().request.existing_product_id == "prod_1"  # the next price goes to the same product
    assert typed.status({}, connected=True).startswith("✓ Created price_1.")
    assert typed.progress is None
    typed.edit("amount", "200")
    assert not typed.just_created and typed.unsaved
    assert typed.status({}, connected=True).startswith("Ready")
    # The product list arriving afterwards keeps the choice (and a product it does not list yet).
    typed.add_products([{"id": "prod_0", "name": "Older"}])
    assert typed.values.product == "prod_1" and [p["id"] for p in typed.products] == ["prod_0", "prod_1"]


def test_review_notes_say_what_a_resumed_create_reuses_and_leaves() -> None:
    typed = form(product_name="First name", amount="20")
    typed.progress = SetupProgress()
    request = typed.build().request
    typed.progress.products_made["x"] = "prod_old"
    from portal_tui.services.product_setup import fingerprint

    typed.progress.products_made = {fingerprint(request.product_params()): "prod_1"}
    assert typed.review_notes(request).startswith("Resuming the unfinished action: prod_1 already exist")
    typed.edit("product_name", "Second name")
    notes = typed.review_notes(typed.build().request)
    assert "You changed the product or meter since prod_1 was created, so a new one is created" in notes
    typed.reset()
    assert typed.progress is None and typed.review_notes(typed.build().request) == ""


def test_a_taken_lookup_key_shows_until_it_changes_or_moves() -> None:
    typed = form(product_name="P", amount="25", lookup_key="pro_monthly")
    typed.lookup_key_refused("'pro_monthly' is held by the price price_1.")
    assert typed.shown_problems()["lookup_key"].startswith("'pro_monthly' is held by")
    typed.edit("transfer", True)
    assert typed.problems == {}
    assert typed.build().request.price_params("prod_1", None)["transfer_lookup_key"] is True
    typed.edit("transfer", False)
    typed.edit("lookup_key", "pro_monthly_2")
    assert typed.problems == {}


def stripe_price(**fields: Any) -> dict[str, Any]:
    """A $20 monthly price held by lookup key pro_monthly, the default price of its (expanded) product."""
    product = {"id": "prod_pro", "name": "Pro VPS", "default_price": "price_old"}
    terms = {"unit_amount": 2000, "unit_amount_decimal": "2000", "lookup_key": "pro_monthly", "nickname": None}
    return price(**{"id": "price_old", "tax_behavior": "exclusive", "product": product, **terms, **fields})


def test_replacing_a_price_prefills_the_form_with_its_terms() -> None:
    typed = form(product_name="Thrown away", amount="1")
    price = stripe_price()
    draft = typed.prefill(price)
    v = typed.values
    assert draft.lookup_key == "pro_monthly" and typed.replaces is price
    assert (v.product, v.product_name, v.amount, v.currency) == ("prod_pro", "", "20.00", "usd")
    assert (v.lookup_key, v.transfer, v.tax, v.period) == ("pro_monthly", True, "exclusive", "month:1")
    assert not typed.visibility().new_product and typed.products == [price["product"]]
    assert typed.replace_note().startswith("Replacing price_old: prices cannot change, so a new price is created, the")
    request = typed.build().request
    assert request.replaces_price_id == "price_old" and request.replaced_is_default is True
    assert request.existing_product_id == "prod_pro"
    typed.edit("amount", "25")
    assert typed.build().request.price_params("prod_pro", None)["unit_amount"] == 2500


def test_replacing_a_tiered_price_prefills_its_tiers_and_an_unusual_period() -> None:
    tiers = [
        {"up_to": 5, "unit_amount": 0, "unit_amount_decimal": "0", "flat_amount": 1000, "flat_amount_decimal": "1000"},
        {"up_to": None, "unit_amount": 300, "unit_amount_decimal": "300", "flat_amount": None},
    ]
    price = stripe_price(
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=tiers,
        unit_amount=None,
        unit_amount_decimal=None,
        lookup_key=None,
        recurring={"interval": "week", "interval_count": 2, "usage_type": "licensed", "meter": None},
        product="prod_elsewhere",
    )
    typed = PriceForm()
    typed.prefill(price)
    v = typed.values
    assert (v.model, v.tiers_mode, v.period, v.interval, v.interval_count) == (
        "graduated",
        "graduated",
        "custom",
        "week",
        "2",
    )
    assert v.tiers == [TierInput("5", "0.00", "10.00"), TierInput("", "3.00", "")]
    assert v.product == NEW  # a product not in the list and not expanded: chosen once the list arrives
    assert typed.replace_note().startswith("Replacing price_old: prices cannot change, so a new price is created and")
    assert typed.build().request.replaced_is_default is None


def test_a_replaced_price_is_the_default_only_when_its_expanded_product_says_so() -> None:
    assert replaced_is_default(None) is None
    assert replaced_is_default(stripe_price(product="prod_1")) is None
    assert replaced_is_default(stripe_price()) is True
    other = {"id": "prod_pro", "default_price": {"id": "price_new"}}
    assert replaced_is_default(stripe_price(product=other)) is False


def test_reset_forgets_everything_but_the_accounts_choices() -> None:
    typed = form(product_name="Temp", model="usage_per_tier", tax="inclusive", lookup_key="t", transfer=True)
    typed.set_meters([])
    typed.attempted = True
    typed.prefill(stripe_price())
    typed.reset()
    fresh = PriceForm("gbp")
    fresh.meters_loaded = True
    fresh.reset()
    assert typed.values == fresh.values and typed.values.meter == NEW  # no meters: a new one is the choice
    assert not typed.touched and not typed.attempted and typed.replaces is None
    assert [p["id"] for p in typed.products] == ["prod_pro"]


def test_close_currencies_suggest_what_a_typo_meant() -> None:
    assert "gbp" in close_currencies("gpb")
    assert "eur" in close_currencies("eru")
    assert close_currencies("") == []


# ---- extra currencies ------------------------------------------------------------------------------------------


def test_a_currency_is_added_only_if_known_new_and_not_the_prices_own() -> None:
    typed = form("usd", product_name="P", amount="20")
    refusal = typed.add_currency("eru")
    assert refusal is not None and refusal.startswith("Unknown currency 'eru'. Did you mean:") and "eur" in refusal
    assert typed.add_currency("USD") == "USD is the price's own currency: its amount is set in the form"
    assert typed.add_currency(" EUR ") is None
    assert typed.add_currency("eur") == "EUR is added already"
    assert typed.currency_codes() == ["eur"] and typed.unsaved
    typed.remove_currency("eur")
    assert typed.currency_codes() == [] and "currency_options" not in typed.build().request.price_params("p", None)


def test_extra_currencies_send_their_own_amounts_and_the_forms_tax_behaviour() -> None:
    typed = form("gbp", product_name="P", amount="20", tax="exclusive")
    typed.add_currency("eur")
    typed.add_currency("jpy")
    typed.edit_currency(CurrencyInput("eur", "18.50"))
    typed.edit_currency(CurrencyInput("jpy", "3000"))
    built = typed.build()
    assert built.problems == {}
    assert built.request.price_params("prod_1", None)["currency_options"] == {
        "eur": {"unit_amount": 1850, "tax_behavior": "exclusive"},
        "jpy": {"unit_amount": 3000, "tax_behavior": "exclusive"},
    }
    preview = typed.preview()
    assert preview is not None and "+2 currencies" in preview.summary
    assert [(other.code, other.total) for other in preview.others] == [("EUR", "€185.00"), ("JPY", "¥30,000")]
    assert [other.samples[0] for other in preview.others] == ["€18.50", "¥3,000"]


def test_a_currencys_problems_show_in_its_section_once_typed_in_and_leave_the_others_in_the_preview() -> None:
    typed = form("usd", product_name="P", amount="20")
    typed.add_currency("eur")
    typed.add_currency("jpy")
    assert typed.problems["currency_options.eur.unit_amount"] == "Enter the EUR amount"
    assert typed.shown_problems() == {}  # just added: not wrong yet
    typed.edit_currency(CurrencyInput("jpy", "12.5"))
    assert typed.shown_problems() == {"currency_options.jpy": "JPY amount: JPY has no decimals: enter a whole amount"}
    typed.edit_currency(CurrencyInput("eur", "18"))
    preview = typed.preview()
    assert preview is not None and [other.code for other in preview.others] == ["EUR"]
    typed.attempted = True
    typed.edit_currency(CurrencyInput("jpy", ""))
    assert typed.shown_problems()["currency_options.jpy"] == "Enter the JPY amount"
    # The price's own currency changed to one of its extra ones: said at that currency whatever was touched.
    typed.edit("currency", "eur")
    assert "EUR is already the price's own currency" in typed.shown_problems()["currency_options.eur"]


def test_a_tiered_price_takes_each_currencys_amounts_per_tier_on_its_own_bounds() -> None:
    typed = form("usd", product_name="Seats", model="graduated", tiers=[("10", "5", "10"), ("", "4", "")])
    typed.add_currency("eur")
    assert typed.values.currencies[0].tiers == [TierInput(), TierInput()]
    assert typed.tier_bounds() == ["1 – 10", "11 – ∞"]
    # A tier added before the unbounded one adds a row there in each currency; one removed takes its row along.
    typed.edit_currency(CurrencyInput("eur", tiers=[TierInput("", "4.5", "9"), TierInput("", "3.5")]))
    typed.edit_tiers([TierInput("10", "5", "10"), TierInput("20", "4.5"), TierInput("", "4")])
    assert typed.values.currencies[0].tiers == [TierInput("", "4.5", "9"), TierInput(), TierInput("", "3.5")]
    assert typed.tier_bounds() == ["1 – 10", "11 – 20", "21 – ∞"]
    assert typed.shown_problems()["currency_options.eur"] == "EUR tier 2 needs a per-unit price, a flat fee, or both"
    typed.tier_removed(0)
    typed.edit_tiers([TierInput("20", "4.5"), TierInput("", "4")])
    assert typed.values.currencies[0].tiers == [TierInput(), TierInput("", "3.5")]
    typed.edit_currency(CurrencyInput("eur", tiers=[TierInput("", "4x"), TierInput("", "3.5")]))
    assert typed.problems["currency_options.eur.tiers[0].unit_amount"].startswith("EUR tier 1: ")
    typed.edit_currency(CurrencyInput("eur", tiers=[TierInput("", "4"), TierInput("", "3.5")]))
    params = typed.build().request.price_params("prod_1", None)
    assert params["currency_options"]["eur"]["tiers"] == [
        {"up_to": 20, "unit_amount": 400},
        {"up_to": "inf", "unit_amount": 350},
    ]
    preview = typed.preview()
    assert preview is not None and preview.others[0].samples[-1] == preview.others[0].total


def test_a_tiered_price_with_no_tiers_of_its_own_yet_keeps_its_currencies_without_breaking() -> None:
    # The tier editor is empty for a moment while it refills (a replaced price's prefill): a keystroke then must
    # find the form's problems, not crash on the currency rows that have no tiers to follow.
    typed = form("usd", product_name="Seats", model="graduated", tiers=[("10", "5", ""), ("", "4", "")])
    typed.add_currency("eur")
    typed.edit_currency(CurrencyInput("eur", tiers=[TierInput("", "4.5"), TierInput("", "3.5")]))
    typed.edit_tiers([])
    assert typed.build().problems["tiers"] == "Add at least one tier"
    typed.edit_tiers([TierInput("10", "5"), TierInput("", "4")])
    assert typed.values.currencies[0].tiers == [TierInput("", "4.5"), TierInput("", "3.5")]
    assert not typed.problems


def test_replacing_a_multi_currency_price_prefills_each_currency() -> None:
    options = {
        "usd": {"unit_amount": 2000, "unit_amount_decimal": "2000", "tax_behavior": "unspecified"},
        "eur": {"unit_amount": 1850, "unit_amount_decimal": "1850", "tax_behavior": "unspecified"},
        "jpy": {"unit_amount": 3000, "unit_amount_decimal": "3000", "tax_behavior": "unspecified"},
    }
    typed = PriceForm()
    typed.prefill(stripe_price(currency_options=options, tax_behavior=None))
    assert typed.values.currencies == [CurrencyInput("eur", "18.50"), CurrencyInput("jpy", "3000")]
    assert typed.problems == {}
    assert set(typed.build().request.price_params("prod_pro", None)["currency_options"]) == {"eur", "jpy"}
