"""Plans and quotas: validation, TOML round trip, quota parsing."""

from __future__ import annotations

import pytest

from portal_tui.domain.plans import (
    UNLIMITED,
    Plan,
    PlanConfig,
    PlanConfigError,
    Resource,
    format_quota,
    parse_quota,
)


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
    assert "integer 1" in caught.value.message and "expected 1" not in caught.value.message


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
