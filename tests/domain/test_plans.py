"""Plans and quotas: validation, TOML round trip, quota parsing."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta, timezone

import pytest
import tomli_w

from portal_tui.domain.plans import (
    SCHEMA_VERSION,
    UNLIMITED,
    Plan,
    PlanConfig,
    PlanConfigError,
    Resource,
    VerifyRecord,
    format_quota,
    parse_quota,
    verify_state,
)
from portal_tui.domain.price_terms import price_terms, terms_fingerprint


def sample() -> PlanConfig:
    config = PlanConfig()
    config.plans = [
        Plan("starter", "Starter", "price_1Test", None, {"vcpu": 1, "memory_gb": 0.5, "instances": UNLIMITED}),
        Plan("pro", "Pro", "price_2Test", "price_2Live", {"vcpu": 4}),
    ]
    config.resources.append(Resource("gpu_hours", "GPU", "hours"))
    return config


def test_round_trip_through_toml_dict() -> None:
    config = sample()
    again = PlanConfig.from_toml_dict(config.to_toml_dict())
    assert again == config
    assert again.linked_count("test") == 2 and again.linked_count("live") == 1


@pytest.mark.parametrize(
    ("text", "quota"), [("4", 4), (" 0.5 ", 0.5), ("unlimited", UNLIMITED), ("∞", UNLIMITED), ("1,000", 1000)]
)
def test_parse_quota(text: str, quota: object) -> None:
    assert parse_quota(text) == quota
    assert parse_quota(format_quota(parse_quota(text))) == quota


@pytest.mark.parametrize(("text", "message"), [("", "Enter a number"), ("-1", "negative"), ("lots", "not a number")])
def test_parse_quota_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_quota(text)


def test_validate_names_fields() -> None:
    config = sample()
    config.plans.append(Plan("pro", "", "prod_wrong", None, {"nope": 1, "vcpu": -2}))
    fields = {error.field for error in config.validate()}
    assert fields == {
        "plans[2].id",
        "plans[2].name",
        "plans[2].test_price_id",
        "plans[2].quotas.nope",
        "plans[2].quotas.vcpu",
    }
    assert sample().validate() == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"schema_version": 9}, "schema_version"),
        ({"plans": {"a": 1}}, "plans"),
        ({"plans": [{"name": "x"}]}, "plans[0].id"),
        ({"plans": [{"id": "a", "quotas": {"vcpu": "many"}}]}, "plans[0].quotas.vcpu"),
        ({"plans": [{"id": "a", "test_price_id": 5}]}, "plans[0].test_price_id"),
        ({"resources": [{"label": "x"}]}, "resources[0].key"),
        ({"plan": [{"id": "a"}]}, "plan"),
        ({"secret_key": "sk_test_abc"}, "secret_key"),
        ({"plans": [{"id": "a", "nmae": "A"}]}, "plans[0].nmae"),
        ({"resources": [{"key": "gpu", "units": "h"}]}, "resources[0].units"),
        ({"schema_version": "1"}, "schema_version"),
        ({"schema_version": True}, "schema_version"),
        ({"plans": [{"id": "a", "quotas": {"vcpu": float("nan")}}]}, "plans[0].quotas.vcpu"),
        ({"plans": [{"id": "a", "quotas": {"vcpu": float("inf")}}]}, "plans[0].quotas.vcpu"),
        ({"plans": [{"id": "a", "name": "  "}]}, "plans[0].name"),
    ],
)
def test_from_toml_dict_refuses_bad_shapes(data: dict[str, object], field: str) -> None:
    with pytest.raises(PlanConfigError) as caught:
        PlanConfig.from_toml_dict(data)
    assert caught.value.field == field


def test_unique_plan_id() -> None:
    config = sample()
    assert config.unique_plan_id("Pro") == "pro-2"
    assert config.unique_plan_id("Enterprise Plus!") == "enterprise-plus"


def test_unknown_keys_are_named_with_a_suggestion() -> None:
    with pytest.raises(PlanConfigError, match=r"did you mean 'plans'"):
        PlanConfig.from_toml_dict({"plan": [{"id": "a"}]})
    with pytest.raises(PlanConfigError, match=r"did you mean 'live_price_id'"):
        PlanConfig.from_toml_dict({"plans": [{"id": "a", "live_priceid": "price_1"}]})


def test_schema_version_as_text_says_it_must_be_the_integer() -> None:
    with pytest.raises(PlanConfigError) as caught:
        PlanConfig.from_toml_dict({"schema_version": "1"})
    assert "integer 2" in caught.value.message and "schema_version = 2" in caught.value.message


def test_validate_refuses_non_finite_quotas() -> None:
    for bad in (float("nan"), float("inf"), float("-inf")):
        config = PlanConfig(plans=[Plan("a", "A", quotas={"vcpu": bad})])
        assert [e.field for e in config.validate()] == ["plans[0].quotas.vcpu"]


def test_a_pasted_secret_key_is_not_echoed() -> None:
    key = "sk_live_" + "51HFAKEplaceholder" + "x" * 20  # an obviously fake key, built so no scanner mistakes it
    config = PlanConfig(plans=[Plan("a", "A", test_price_id=key, live_price_id="rk_test_" + "x" * 30)])
    errors = config.validate()
    assert [e.field for e in errors] == ["plans[0].test_price_id", "plans[0].live_price_id"]
    for error in errors:
        assert "sk_live" not in error.message and "rk_test" not in error.message
        assert "secret key" in error.message


# ---- schema 2: the last Verify result per plan ------------------------------------------------------------------

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
FLAT_PRICE = {"id": "price_2Test", "currency": "usd", "unit_amount": 2000, "recurring": {"interval": "month"}}


def record(**changes: object) -> VerifyRecord:
    values: dict[str, object] = {
        "at": AT,
        "passed": True,
        "price_id": "price_2Test",
        "terms": terms_fingerprint(price_terms(FLAT_PRICE)),
        "summary": "PASS · Visa 4242 · succeeds, quantity 1",
    }
    values.update(changes)
    return VerifyRecord(**values)  # type: ignore[arg-type]


def test_schema_is_version_2() -> None:
    assert SCHEMA_VERSION == 2
    assert PlanConfig().to_toml_dict()["schema_version"] == 2


def test_a_version_1_file_loads_and_is_written_back_as_version_2() -> None:
    text = 'schema_version = 1\n[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "price_2Test"\n'
    config = PlanConfig.from_toml_dict(tomllib.loads(text))
    assert config.plans == [Plan("pro", "Pro", "price_2Test")]
    assert config.plans[0].verified is None
    assert config.schema_version == 2
    written = tomllib.loads(tomli_w.dumps(config.to_toml_dict()))
    assert written["schema_version"] == 2
    assert "verified" not in written["plans"][0]
    # Even a config built as version 1 in code is written as the version whose shape it has.
    assert PlanConfig(schema_version=1).to_toml_dict()["schema_version"] == 2


@pytest.mark.parametrize("version", [0, 3, -1])
def test_other_schema_versions_are_refused(version: int) -> None:
    with pytest.raises(PlanConfigError) as caught:
        PlanConfig.from_toml_dict({"schema_version": version})
    assert caught.value.field == "schema_version"
    assert "versions 1, 2" in caught.value.message
    assert ("newer portal-tui" in caught.value.message) == (version > 2)


def test_verify_record_round_trips_through_toml_text() -> None:
    config = sample()
    config.plans[1].verified = record(passed=False, summary="MISMATCH · invoiced $21.00, expected $20.00")
    text = tomli_w.dumps(config.to_toml_dict())
    assert "[plans.verified]" in text
    assert 'result = "fail"' in text
    assert tomllib.loads(text)["plans"][1]["verified"]["at"] == AT  # a TOML date-time, not a string
    again = PlanConfig.from_toml_dict(tomllib.loads(text))
    assert again == config
    assert again.plans[1].verified == config.plans[1].verified
    assert again.plans[0].verified is None
    assert again.validate() == []


def test_hand_written_verified_table_with_z_offset() -> None:
    text = (
        'schema_version = 2\n[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "price_2Test"\n'
        '[plans.verified]\nat = 2026-12-01T11:00:00+01:00\nresult = "pass"\nprice_id = "price_2Test"\n'
        'terms = "0123456789abcdef"\n'
    )
    verified = PlanConfig.from_toml_dict(tomllib.loads(text)).plans[0].verified
    assert verified == VerifyRecord(AT, True, "price_2Test", "0123456789abcdef", "")
    assert verified.at.tzinfo is UTC and verified.at.hour == 10


def test_verify_record_keeps_utc_and_one_line() -> None:
    east = timezone(timedelta(hours=3))
    made = record(at=datetime(2026, 12, 1, 13, 0, tzinfo=east), summary="PASS\n  twice  over")
    assert made.at == AT and made.at.tzinfo is UTC
    assert made.summary == "PASS twice over"
    with pytest.raises(ValueError, match="timezone-aware"):
        record(at=datetime(2026, 12, 1, 10, 0))


def verified_table(**changes: object) -> dict[str, object]:
    table: dict[str, object] = {
        "at": AT,
        "result": "pass",
        "price_id": "price_2Test",
        "terms": "0123456789abcdef",
        "summary": "PASS",
    }
    table.update(changes)
    return {"plans": [{"id": "pro", "name": "Pro", "test_price_id": "price_2Test", "verified": table}]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reslt": "pass"}, "plans[0].verified.reslt"),
        ({"passed": True}, "plans[0].verified.passed"),
        ({"result": "ok"}, "plans[0].verified.result"),
        ({"result": True}, "plans[0].verified.result"),
        ({"at": "2026-12-01T10:00:00Z"}, "plans[0].verified.at"),
        ({"at": datetime(2026, 12, 1, 10, 0)}, "plans[0].verified.at"),  # a TOML local date-time: no offset
        ({"price_id": 5}, "plans[0].verified.price_id"),
        ({"terms": None}, "plans[0].verified.terms"),
    ],
)
def test_verified_table_refuses_bad_shapes(changes: dict[str, object], field: str) -> None:
    with pytest.raises(PlanConfigError) as caught:
        PlanConfig.from_toml_dict(verified_table(**changes))
    assert caught.value.field == field


def test_verified_must_be_a_table() -> None:
    data = {"plans": [{"id": "pro", "verified": "yes"}]}
    with pytest.raises(PlanConfigError) as caught:
        PlanConfig.from_toml_dict(data)
    assert caught.value.field == "plans[0].verified"


def test_unknown_key_in_verified_table_is_named_with_a_suggestion() -> None:
    with pytest.raises(PlanConfigError, match=r"did you mean 'summary'"):
        PlanConfig.from_toml_dict(verified_table(sumary="PASS"))


def test_validate_checks_the_record() -> None:
    config = PlanConfig.from_toml_dict(verified_table(price_id="prod_x", terms="nothex"))
    assert [e.field for e in config.validate()] == ["plans[0].verified.price_id", "plans[0].verified.terms"]


def test_verify_state_never_passed_failed() -> None:
    fingerprint = terms_fingerprint(price_terms(FLAT_PRICE))
    plan = Plan("pro", "Pro", "price_2Test")
    assert verify_state(plan, fingerprint) == "never"
    plan.verified = record()
    assert verify_state(plan, fingerprint) == "passed"
    assert verify_state(plan, None) == "passed"  # terms not known: judged by the price ID alone
    plan.verified = record(passed=False)
    assert verify_state(plan, fingerprint) == "failed"


def test_verify_state_is_stale_when_the_price_terms_change() -> None:
    plan = Plan("pro", "Pro", "price_2Test", verified=record())
    dearer = {**FLAT_PRICE, "unit_amount": 2500}
    assert verify_state(plan, terms_fingerprint(price_terms(dearer))) == "stale"
    failed = Plan("pro", "Pro", "price_2Test", verified=record(passed=False))
    assert verify_state(failed, terms_fingerprint(price_terms(dearer))) == "stale"
    # Terms that are the same in substance (another ID, nickname) keep the record current.
    renamed = {**FLAT_PRICE, "id": "price_other", "nickname": "Pro monthly"}
    assert verify_state(plan, terms_fingerprint(price_terms(renamed))) == "passed"


def test_verify_state_is_stale_when_the_plan_links_another_price() -> None:
    fingerprint = terms_fingerprint(price_terms(FLAT_PRICE))
    plan = Plan("pro", "Pro", "price_3Other", verified=record())
    assert verify_state(plan, fingerprint) == "stale"
    assert verify_state(plan, None) == "stale"
    unlinked = Plan("pro", "Pro", None, verified=record())
    assert verify_state(unlinked, None) == "stale"


def test_is_current_for() -> None:
    made = record()
    assert made.is_current_for("price_2Test", made.terms)
    assert made.is_current_for("price_2Test", None)
    assert not made.is_current_for("price_2Test", "ffffffffffffffff")
    assert not made.is_current_for("price_3Other", made.terms)
    assert not made.is_current_for(None, made.terms)
