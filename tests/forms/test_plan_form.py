"""The plan editor's form model: field rules, unsaved changes, the file on disk, Verify records, price slots, saving.

No Textual here: real plan files in tmp_path through the real ConfigStore; price lookups go to the sandbox over HTTP.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from portal_tui.domain.plans import Plan, PlanConfig, verify_state
from portal_tui.forms.plan_form import (
    SECRET_KEY_PASTED,
    DiskChange,
    InputError,
    Offer,
    PlanForm,
    PriceLookup,
    currency_clash,
    look_up_price,
)
from portal_tui.sandbox import Sandbox
from portal_tui.services.config_store import ConfigStore
from portal_tui.services.gateway import StripeGateway
from portal_tui.services.keystore import parse_key
from tests.conftest import LIVE_KEY, TEST_KEY

RECORDED = (
    '\n[plans.verified]\nat = 2026-12-01T10:00:00Z\nresult = "pass"\nprice_id = "{price}"\n'
    'terms = "0123456789abcdef"\nsummary = "PASS: Visa 4242 · succeeds, quantity 1"\n'
)
PRO = 'schema_version = 1\n[[plans]]\nid = "pro"\nname = "{name}"\ntest_price_id = "price_1Pro"\n'


def form_on(path: Path, text: str | None = None) -> PlanForm:
    if text is not None:
        path.write_text(text)
    form = PlanForm(ConfigStore(path))
    assert form.load()
    return form


@pytest.fixture
def plans_file(tmp_path: Path) -> Path:
    return tmp_path / "plans.toml"


def saved_plans(path: Path) -> list[dict[str, object]]:
    return list(tomllib.loads(path.read_text())["plans"])


# ---- fields ------------------------------------------------------------------------------------------------------


def test_bad_values_are_kept_as_typed_with_a_message_and_make_the_form_unsaved(plans_file: Path) -> None:
    form = form_on(plans_file)
    form.add_plan()
    edit = form.set_price("test", "prod_123")
    assert edit.message is not None and "not a price ID" in edit.message and not edit.look_up
    message = form.set_quota("vcpu", "lots")
    assert message is not None and "not a number" in message
    plan = form.plan
    assert plan is not None and plan.test_price_id is None and "vcpu" not in plan.quotas
    assert form.values(plan)["test_price_id"] == "prod_123" and form.values(plan)["quotas.vcpu"] == "lots"
    assert set(form.errors(plan)) == {"test_price_id", "quotas.vcpu"}
    bad = form.first_bad_input()
    assert bad is not None and bad.field == "test_price_id" and bad.more == 1
    assert bad.notice().startswith("Not saved: plan 'New plan' has an invalid value (and 1 more). 'prod_123'")
    # Corrected: the value is taken and the message goes.
    assert form.set_quota("vcpu", "4") is None and form.set_price("test", " price_1Pro ").look_up
    assert plan.quotas == {"vcpu": 4} and plan.test_price_id == "price_1Pro" and form.errors(plan) == {}
    assert form.first_bad_input() is None
    assert form.set_quota("vcpu", "  ") is None and plan.quotas == {}  # empty: not offered


def test_a_secret_key_typed_as_a_price_id_is_dropped_not_kept(plans_file: Path) -> None:
    form = form_on(plans_file)
    plan = form.add_plan()
    form.set_price("live", "price_1Live")
    edit = form.set_price("live", "sk_live_" + "51HsecretBodyThatMustNotShow0123456789")
    assert edit.cleared and edit.message == SECRET_KEY_PASTED
    assert plan.live_price_id is None and form.values(plan)["live_price_id"] == "" and form.errors(plan) == {}
    form.save()
    assert "51Hsecret" not in plans_file.read_text()


def test_a_bad_value_survives_switching_plans_and_points_at_its_plan(plans_file: Path) -> None:
    form = form_on(plans_file)
    first = form.add_plan()
    form.set_quota("vcpu", "abc")
    form.set_quota("storage_gb", "-5")
    second = form.add_plan()
    assert form.plan is second and form.values(second)["quotas.vcpu"] == ""
    bad = form.first_bad_input()
    assert bad is not None and bad.plan is first and bad.index == 0 and bad.field == "quotas.vcpu"
    assert form.values(first)["quotas.storage_gb"] == "-5" and "negative" in form.errors(first)["quotas.storage_gb"]
    assert form.mark(first, "test") == "✗" and form.mark(second, "test") == "·"


def test_the_id_follows_the_name_until_saved_and_stays_unique(plans_file: Path) -> None:
    form = form_on(plans_file)
    starter = form.add_plan()
    assert form.id_follows_name(starter) and "follows the name" in form.id_note(starter)
    form.set_name("Starter")
    assert starter.id == "starter"
    form.add_plan()
    form.set_name("Starter")  # same name: the ID stays unique
    plus = form.plan
    assert plus is not None and plus.id == "starter-2"
    assert form.set_name("  ") == "Give the plan a name" and plus.name == "Starter"
    assert form.set_id("Bad ID!") == "Use lower-case letters, digits, - and _ (e.g. pro-vps)"
    assert form.set_id("starter") == "Another plan already has the ID 'starter'"
    assert plus.id == "starter-2" and not form.id_follows_name(plus)  # edited by hand: no longer follows
    assert form.set_id("starter-plus") is None and plus.id == "starter-plus"
    assert form.set_name("Starter Plus") is None and plus.id == "starter-plus"
    assert form.id_note(plus) == "the portal will refer to the plan by this ID"
    form.set_name("Starter")  # the name's error went with the valid name
    form.save()
    assert [p["id"] for p in saved_plans(plans_file)] == ["starter", "starter-plus"]
    # Saved: renaming no longer moves the ID, and editing it warns that the portal refers to it.
    form.select(0)
    form.set_name("Starter Basic")
    assert starter.id == "starter" and "breaks that link" in form.id_note(starter)


def test_delete_and_resources_are_what_the_save_writes(plans_file: Path) -> None:
    form = form_on(plans_file)
    first = form.add_plan()
    second = form.add_plan()
    form.set_quota("vcpu", "not yet")
    resource = form.add_resource(" gpu_hours ", "GPU", " hours ")
    assert (resource.key, resource.label, resource.unit) == ("gpu_hours", "GPU", "hours")
    assert form.add_resource("disk", "", "").label == "disk"  # no label: the key stands in
    for key, message in [("GPU hours", "lower-case letters"), ("gpu_hours", "'gpu_hours' already exists")]:
        with pytest.raises(InputError, match=message) as refused:
            form.add_resource(key, "", "")
        assert refused.value.field == "new_resource"
    form.select(0)
    form.set_quota("gpu_hours", "10")
    assert form.delete_plan(second) and not form.delete_plan(second)
    assert form.plan is first and form.first_bad_input() is None  # the deleted plan's bad text went with it
    form.save()
    data = tomllib.loads(plans_file.read_text())
    assert data["plans"] == [{"id": "new-plan", "name": "New plan", "quotas": {"gpu_hours": 10}}]
    assert {"key": "gpu_hours", "label": "GPU", "unit": "hours"} in data["resources"]
    form.delete_plan(first)
    assert form.plan is None and form.selected is None


# ---- unsaved changes and the file on disk ----------------------------------------------------------------------


def test_unsaved_changes_are_measured_against_the_file_as_loaded_or_saved(plans_file: Path) -> None:
    form = form_on(plans_file, PRO.format(name="Pro"))
    assert not form.dirty and form.select(0) is False  # already selected
    form.set_name("Pro 2")
    assert form.dirty
    form.set_name("Pro")  # typed back: nothing to save
    assert not form.dirty
    form.set_quota("vcpu", "x")  # invalid text only: still something that a leave would lose
    assert form.dirty
    form.set_quota("vcpu", "2")
    form.save()
    assert not form.dirty and saved_plans(plans_file)[0]["quotas"] == {"vcpu": 2}
    assert form.disk_change() is None  # saved by us: the next save does not ask


def test_a_broken_file_is_reported_and_nothing_can_be_saved(plans_file: Path) -> None:
    text = 'schema_version = 1\n[[plans]]\nid = "pro\n'
    plans_file.write_text(text)
    form = PlanForm(ConfigStore(plans_file))
    assert not form.load()
    assert form.broken is not None and "line 3" in form.broken.message
    assert not form.dirty and not form.adopt_verify_records()
    assert plans_file.read_text() == text


@pytest.mark.parametrize(
    ("on_disk", "kind", "title"),
    [
        (PRO.format(name="Pro (hand-edited)"), "changed", "plans.toml changed on disk since it was loaded"),
        (PRO.format(name="Pro") + "[[plans]\n", "broken", "plans.toml changed on disk and no longer parses"),
        (None, "deleted", "plans.toml was deleted since it was loaded"),
        # Verify recorded a result, and someone also renamed the plan by hand: that is a real conflict.
        (PRO.format(name="Pro (hand-edited)") + RECORDED.format(price="price_1Pro"), "changed", "since it was loaded"),
    ],
    ids=["hand-edit", "broken", "deleted", "record-beside-a-hand-edit"],
)
def test_a_change_on_disk_is_named_before_a_save_overwrites_it(
    plans_file: Path, on_disk: str | None, kind: str, title: str
) -> None:
    form = form_on(plans_file, PRO.format(name="Pro"))
    form.set_name("Pro 2")
    if on_disk is None:
        plans_file.unlink()
    else:
        plans_file.write_text(on_disk)
    change = form.disk_change()
    assert change is not None and change.kind == kind
    question, details, _confirm = change.question("plans.toml", "plans.toml.bak")
    assert title in question
    assert kind == "deleted" or "plans.toml.bak" in details
    assert (plans_file.read_text() if on_disk else None) == on_disk  # asking writes nothing
    form.save()  # the admin confirmed: ours is the file now
    assert form.disk_change() is None and saved_plans(plans_file)[0]["name"] == "Pro 2"


def test_a_broken_file_on_disk_names_its_problem_in_the_question() -> None:
    _title, details, confirm = DiskChange("broken", "Line 4: expected ']'").question("plans.toml", "plans.toml.bak")
    assert details.startswith("Line 4: expected ']'") and confirm == "Overwrite the broken file"


# ---- Verify records --------------------------------------------------------------------------------------------


def test_a_record_alone_on_disk_is_adopted_and_follows_a_renamed_plan(plans_file: Path) -> None:
    form = form_on(plans_file, PRO.format(name="Pro"))
    form.set_id("pro-vps")  # renamed here: the record follows the plan
    plans_file.write_text(
        PRO.format(name="Pro").replace("schema_version = 1", "schema_version = 2") + RECORDED.format(price="price_1Pro")
    )
    assert form.disk_change() is None  # adopted: no question
    assert form.dirty  # the rename is still unsaved
    form.save()
    saved = saved_plans(plans_file)[0]
    assert saved["id"] == "pro-vps" and saved["verified"]["price_id"] == "price_1Pro"  # type: ignore[index]


def test_a_plan_deleted_here_stays_deleted_when_records_arrive(plans_file: Path) -> None:
    form = form_on(plans_file, PRO.format(name="Pro") + '\n[[plans]]\nid = "team"\nname = "Team"\n')
    team = form.config.plans[1]
    form.delete_plan(form.config.plans[0])
    plans_file.write_text(
        PRO.format(name="Pro") + RECORDED.format(price="price_1Pro") + '\n[[plans]]\nid = "team"\nname = "Team"\n'
    )
    assert form.adopt_verify_records()
    assert form.config.plans == [team] and team.verified is None
    assert not form.adopt_verify_records()  # nothing new on disk since


def test_the_editor_keeps_a_record_and_relinking_the_test_price_makes_it_stale(plans_file: Path) -> None:
    form = form_on(
        plans_file,
        PRO.format(name="Pro").replace("schema_version = 1", "schema_version = 2")
        + RECORDED.format(price="price_1Pro"),
    )
    record = saved_plans(plans_file)[0]["verified"]
    form.set_name("Pro VPS")
    form.save()
    assert saved_plans(plans_file)[0] == {
        "id": "pro",
        "name": "Pro VPS",
        "test_price_id": "price_1Pro",
        "quotas": {},
        "verified": record,
    }
    assert verify_state(ConfigStore(plans_file).load().plans[0], "0123456789abcdef") == "passed"
    form.set_price("test", "price_1Team")
    form.save()
    saved = saved_plans(plans_file)[0]
    assert saved["test_price_id"] == "price_1Team" and saved["verified"] == record  # kept, about the old price
    plan = ConfigStore(plans_file).load().plans[0]
    assert verify_state(plan, None) == "stale" and verify_state(plan, "0123456789abcdef") == "stale"


# ---- price slots ---------------------------------------------------------------------------------------------------


def test_a_slot_says_not_linked_connect_checking_then_what_the_lookup_found(plans_file: Path) -> None:
    form = form_on(plans_file, PRO.format(name="Pro"))
    live = form.slot_state("live", connected=True)
    assert live is not None and (live.text, live.look_up) == ("not linked", None)
    offline = form.slot_state("test", connected=False)
    assert offline is not None and offline.text == "connect Stripe to check this price" and offline.look_up is None
    checking = form.slot_state("test", connected=True)
    assert checking is not None and (checking.text, checking.look_up) == ("checking…", "price_1Pro")
    assert form.unchecked_prices() == [("price_1Pro", "test")]
    assert form.record_lookup("price_1Pro", "test", PriceLookup(False, "✗ price_1Pro is archived", ("usd",)))
    state = form.slot_state("test", connected=True)
    assert state is not None and (state.text, state.ok, state.look_up) == ("✗ price_1Pro is archived", False, None)
    assert form.mark(form.config.plans[0], "test") == "✗" and form.unchecked_prices() == []
    assert form.price_warnings() == ["'Pro' test: price_1Pro is archived"]
    # "Could not check" is shown but not kept: the next look tries again.
    assert not form.record_lookup("price_1Other", "test", PriceLookup(None, "could not check: timeout"))
    assert ("price_1Other", "test") not in form.checks
    form.load()  # a reload looks every linked price up again: one may have been replaced meanwhile
    assert form.unchecked_prices() == [("price_1Pro", "test")] and form.price_warnings() == []
    assert form.label(form.config.plans[0], "test") == "✓ Pro" and form.label(form.config.plans[0], "live") == "· Pro"


def test_plans_whose_prices_bill_in_different_currencies_are_flagged_per_slot(plans_file: Path) -> None:
    form = form_on(
        plans_file, PRO.format(name="Pro") + '\n[[plans]]\nid = "eu"\nname = "EU"\ntest_price_id = "price_1Eu"\n'
    )
    form.record_lookup("price_1Pro", "test", PriceLookup(True, "✓", ("usd",)))
    assert form.currency_warnings() == []
    form.record_lookup("price_1Eu", "test", PriceLookup(True, "✓", ("eur",)))
    (line,) = form.currency_warnings()
    assert line.startswith("⚠ Test prices bill in different currencies (pro=USD, eu=EUR): ")
    assert line.endswith("link prices offered in the same currencies")
    form.select(1)
    form.set_price("test", "price_1Pro")
    assert form.currency_warnings() == []
    assert currency_clash("live", [("a", ["gbp"]), ("b", ["gbp"])]) is None


def test_multi_currency_prices_clash_only_when_a_plan_lacks_a_currency_another_offers() -> None:
    both = ["usd", "eur", "jpy"]
    assert currency_clash("test", [("basic", both), ("pro", ["usd", "jpy", "eur"])]) is None
    line = currency_clash("test", [("basic", ["usd"]), ("pro", both)])
    assert line is not None
    assert "(basic=USD, pro=USD+EUR+JPY; EUR missing from basic; JPY missing from basic)" in line


def test_the_price_that_replaced_an_archived_one_is_offered_per_slot(plans_file: Path) -> None:
    form = form_on(plans_file, PRO.format(name="Pro"))
    plan = form.config.plans[0]
    assert form.replacements_for(plan) == []
    form.record_lookup("price_1Pro", "test", PriceLookup(False, "✗ replaced", ("usd",), replacement="price_1New"))
    assert form.replacements_for(plan) == [("test", "price_1Pro", "price_1New")]
    form.forget_price_checks()
    assert form.replacements_for(plan) == [] and form.currencies == {}


def test_an_offered_price_fits_only_the_slot_of_its_own_mode(plans_file: Path) -> None:
    form = form_on(plans_file)
    form.offer = Offer("price_1Test", "test")
    assert form.take_offer("test") is None  # no plan to link it to yet: the offer stays
    form.add_plan()
    refusal = form.offer.refusal("live")
    assert refusal is not None and "test-mode price: it can only be a plan's test price" in refusal
    assert "sk_live_" in refusal and form.take_offer("live") is None and form.offer is not None
    assert form.take_offer("test") == "price_1Test" and form.offer is None
    assert form.take_offer("test") is None  # used up


def test_a_live_save_lists_the_live_prices_it_makes_the_portal_sell(plans_file: Path) -> None:
    form = form_on(plans_file)
    assert form.live_links() == "No plan links a live price yet."
    form.add_plan()
    form.set_price("live", "price_1Live")
    assert form.live_links() == "Live prices linked:\nNew plan: price_1Live"


# ---- looking prices up (the sandbox over HTTP) -----------------------------------------------------------------


def connect(sandbox: Sandbox, key: str = TEST_KEY) -> Callable[[], StripeGateway]:
    return lambda: StripeGateway(parse_key(key), api_base=sandbox.url, retry_delay=0.01)


def seed_price(sandbox: Sandbox, lookup: str) -> str:
    return next(str(p["id"]) for p in sandbox.test_world.objects["price"].values() if p["lookup_key"] == lookup)


def test_a_lookup_names_the_price_or_what_makes_it_unfit(seeded_sandbox: Sandbox) -> None:
    prices = seeded_sandbox.test_world.objects["price"].values()
    archived = next(str(p["id"]) for p in prices if not p["active"])
    one_off = next(str(p["id"]) for p in prices if p["type"] == "one_time")
    pro = seed_price(seeded_sandbox, "pro_monthly")
    gateway = connect(seeded_sandbox)
    assert look_up_price(gateway, pro, "test", "test") == PriceLookup(True, "✓ Pro VPS · $20.00 / month", ("usd",))
    worldwide = look_up_price(gateway, seed_price(seeded_sandbox, "worldwide_monthly"), "test", "test")
    assert worldwide == PriceLookup(True, "✓ Worldwide VPS · $12.00 / month · +2 currencies", ("usd", "eur", "jpy"))
    found = look_up_price(gateway, archived, "test", "test")
    assert found.ok is False and "archived" in found.text
    found = look_up_price(gateway, one_off, "test", "test")
    assert found.ok is False and "one-time price" in found.text
    assert look_up_price(gateway, "price_nope", "test", "test") == PriceLookup(
        False, "✗ price_nope does not exist in test mode"
    )
    # A test key finds a test price pasted into the live slot: that is a mistake, not "cannot check".
    found = look_up_price(gateway, pro, "live", "test")
    assert found.ok is False and "test-mode price but sits in the live slot" in found.text


def test_a_lookup_with_the_other_modes_key_cannot_judge_a_missing_price(live_sandbox: Sandbox) -> None:
    test_price = seed_price(live_sandbox, "pro_monthly")
    live = connect(live_sandbox, LIVE_KEY)
    assert look_up_price(live, test_price, "live", "live") == PriceLookup(
        False, f"✗ {test_price} does not exist in live mode"
    )
    assert look_up_price(live, "price_nope", "test", "live") == PriceLookup(
        None, "not a live-mode price; connect a test key to check it fully"
    )


def replace_price(gateway: StripeGateway, old_id: str, unit_amount: int) -> str:
    """What the builder's "Replace price" does: a new price takes the lookup key (and default), the old is archived."""
    from dataclasses import replace

    from portal_tui.domain.pricing import PriceDraft
    from portal_tui.services.product_setup import ProductSetup, SetupRequest

    old = gateway.retrieve_price(old_id)
    draft = replace(PriceDraft.from_stripe(old), unit_amount=Decimal(unit_amount), transfer_lookup_key=True)
    request = SetupRequest(draft=draft, existing_product_id=old["product"]["id"], replaces_price_id=old_id)
    progress = ProductSetup(gateway, request).run()
    assert progress.archived and progress.price is not None
    return str(progress.price["id"])


def test_an_archived_price_replaced_through_portal_tui_names_its_successor(seeded_sandbox: Sandbox) -> None:
    old_id = seed_price(seeded_sandbox, "pro_monthly")
    new_id = replace_price(connect(seeded_sandbox)(), old_id, 2500)
    found = look_up_price(connect(seeded_sandbox), old_id, "test", "test")
    assert found.ok is False and found.replacement == new_id
    assert f"replaced by {new_id}" in found.text and "ctrl+y" in found.text
    assert look_up_price(connect(seeded_sandbox), new_id, "test", "test").text == "✓ Pro VPS · $25.00 / month"


def test_a_lookup_that_cannot_reach_stripe_says_so_and_is_not_a_verdict(tmp_path: Path) -> None:
    unreachable = lambda: StripeGateway(  # noqa: E731
        parse_key(TEST_KEY), api_base="http://127.0.0.1:9", max_retries=0, retry_delay=0.01, timeout=2
    )
    found = look_up_price(unreachable, "price_1Pro", "test", "test")
    assert found.ok is None and found.text.startswith("could not check: ")


def test_a_save_writes_exactly_the_config_being_edited(plans_file: Path) -> None:
    form = form_on(plans_file)
    form.add_plan()
    form.set_name("Pro VPS")
    form.set_price("test", "price_1Pro")
    form.set_quota("instances", "unlimited")
    form.save()
    assert ConfigStore(plans_file).load() == PlanConfig(
        plans=[Plan("pro-vps", "Pro VPS", "price_1Pro", quotas={"instances": "unlimited"})]
    )
