"""Portal plans: each plan's Stripe prices (test and live) and the resource quotas it grants."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from portal_tui.domain.money import CURRENCIES
from portal_tui.domain.pricing import FieldError
from portal_tui.domain.secrets import looks_like_secret_key

# 2 added each plan's last Verify result ([plans.verified]); version-1 files still load and are saved as 2.
SCHEMA_VERSION: Final = 2
READABLE_SCHEMA_VERSIONS: Final = (1, 2)
UNLIMITED: Final = "unlimited"
Quota = int | float | Literal["unlimited"]
PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
RESOURCE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
PRICE_ID = re.compile(r"^price_[A-Za-z0-9]+$")
TOP_LEVEL_KEYS = ("schema_version", "resources", "plans")
PLAN_KEYS = ("id", "name", "test_price_id", "live_price_id", "quotas", "verified")
VERIFIED_KEYS = ("at", "result", "price_id", "terms", "summary", "currency")
TERMS_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
RESOURCE_KEYS = ("key", "label", "unit")


class PlanConfigError(ValueError):
    """A plan file whose content is not a valid plan config; `field` locates the problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Resource:
    """Something a plan grants a quota of: vCPU cores, memory, storage..."""

    key: str
    label: str
    unit: str = ""


DEFAULT_RESOURCES: tuple[Resource, ...] = (
    Resource("vcpu", "vCPU", "cores"),
    Resource("memory_gb", "Memory", "GB"),
    Resource("storage_gb", "Storage", "GB"),
    Resource("bandwidth_gb_month", "Bandwidth", "GB / month"),
    Resource("instances", "Instances", "servers"),
)


@dataclass(frozen=True)
class VerifyRecord:
    """The last Verify (test-mode walkthrough) verdict for a plan, and what exactly it checked.

    `terms` is `terms_fingerprint(price_terms(price, meter_event_name))` of the test price the run used: the record
    speaks for the plan only while the plan links that price and the price still has those terms.
    """

    at: datetime  # when the run finished, UTC (an aware datetime in another zone is converted; naive is refused)
    passed: bool
    price_id: str  # the test price the run subscribed to
    terms: str  # domain.price_terms.terms_fingerprint of that price's terms
    summary: str = ""  # the one-line verdict: "PASS · Visa 4242 · succeeds, quantity 1 · $20.00 invoiced"
    # The currency the run billed in when it was not the price's own (one of its currency_options: "eur"); None
    # means the price's own currency, which is also what every record written before this field meant.
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("VerifyRecord.at must be timezone-aware (UTC)")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        # One line: it is written as a TOML string and shown in one row.
        object.__setattr__(self, "summary", " ".join(self.summary.split()))
        if self.currency is not None:
            object.__setattr__(self, "currency", self.currency.lower())

    @property
    def result(self) -> Literal["pass", "fail"]:
        return "pass" if self.passed else "fail"

    def is_current_for(self, price_id: str | None, terms_fingerprint: str | None) -> bool:
        """True when this record is about `price_id` with these terms. A None fingerprint means "not known" (the
        price was not fetched): then only the price ID is compared."""
        if not price_id or price_id != self.price_id:
            return False
        return terms_fingerprint is None or terms_fingerprint == self.terms

    def to_toml_dict(self) -> dict[str, Any]:
        table: dict[str, Any] = {
            "at": self.at.replace(microsecond=0),
            "result": self.result,
            "price_id": self.price_id,
            "terms": self.terms,
            "summary": self.summary,
        }
        if self.currency is not None:  # written only when set, so a default-currency record reads as before
            table["currency"] = self.currency
        return table

    @classmethod
    def from_toml_dict(cls, data: Mapping[str, Any], where: str) -> VerifyRecord:
        """Read a `[plans.verified]` table; `where` is its field path ("plans[0].verified") for errors."""
        _refuse_unknown(data, VERIFIED_KEYS, where)
        at = data.get("at")
        if at is None:
            raise PlanConfigError(f"{where}.at", "is missing")
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise PlanConfigError(
                f"{where}.at", f"expected a date-time with its offset, like 2026-12-01T10:00:00Z, got {at!r}"
            )
        result = data.get("result")
        if result not in ("pass", "fail"):
            raise PlanConfigError(f"{where}.result", f'expected "pass" or "fail", got {result!r}')
        return cls(
            at=at,
            passed=result == "pass",
            price_id=_text(data, "price_id", where, required=True),
            terms=_text(data, "terms", where, required=True),
            summary=_text(data, "summary", where),
            currency=_text(data, "currency", where) or None,
        )


VerifyState = Literal["never", "passed", "failed", "stale"]


@dataclass
class Plan:
    """One plan of the portal, linked to a Stripe price in each mode."""

    id: str
    name: str
    test_price_id: str | None = None
    live_price_id: str | None = None
    quotas: dict[str, Quota] = field(default_factory=dict)
    verified: VerifyRecord | None = None  # the last Verify verdict; see verify_state() for whether it still holds

    def price_id(self, mode: Literal["test", "live"]) -> str | None:
        return self.test_price_id if mode == "test" else self.live_price_id


def verify_state(plan: Plan, current_fingerprint: str | None = None) -> VerifyState:
    """What the plan's last Verify says today, for the UI:

    - "never":  no verdict recorded;
    - "stale":  a verdict about another price than the plan's test price now (relinked or unlinked), or about the
                same price whose terms fingerprint is no longer `current_fingerprint`;
    - "passed" / "failed": the recorded verdict, still about what the plan links.

    `current_fingerprint` is `terms_fingerprint(price_terms(test_price, meter_event_name))` of the plan's test
    price as it is now; pass None when it is not known (price not fetched): only the price ID is compared then.
    """
    record = plan.verified
    if record is None:
        return "never"
    if not record.is_current_for(plan.test_price_id, current_fingerprint):
        return "stale"
    return "passed" if record.passed else "failed"


def parse_quota(text: str) -> Quota:
    """What a person types in a quota field: "4", "0.5", "unlimited" (or "∞"); ValueError with a message."""
    raw = text.strip().lower()
    if raw in ("unlimited", "∞", "inf", "infinite"):
        return UNLIMITED
    if not raw:
        raise ValueError("Enter a number or 'unlimited'")
    try:
        value = float(raw.replace(",", "")) if "." in raw else int(raw.replace(",", ""))
    except ValueError:
        raise ValueError(f"'{text.strip()}' is not a number (or 'unlimited')") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Enter a number or 'unlimited'")
    if value < 0:
        raise ValueError("A quota cannot be negative")
    return value


def format_quota(quota: Quota | None, unit: str = "") -> str:
    """"4", "unlimited"; with a unit: "4 servers", "1 server", "2.5 GB", "unlimited" (no unit after unlimited)."""
    if quota is None:
        return ""
    if quota == UNLIMITED:
        return "unlimited"
    number = f"{quota:g}" if isinstance(quota, float) else str(quota)
    label = unit_label(unit, quota)
    return f"{number} {label}" if label else number


def unit_label(unit: str, quota: Quota | None) -> str:
    """The unit as it reads after the quota: one of a plural unit is singular ("1 server", "1 core / month")."""
    if quota == 1 and unit:
        first, _space, rest = unit.partition(" ")
        # Only a lower-case English plural: "GB" and "hours" -> "hour", but never "GBs" or a bare "s".
        if len(first) > 2 and first.endswith("s") and first.islower() and not first.endswith("ss"):
            return " ".join(part for part in (first[:-1], rest) if part)
    return unit


def slugify(name: str) -> str:
    """A plan id from its name: "Pro VPS (2024)" -> "pro-vps-2024"."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "plan"


@dataclass
class PlanConfig:
    """The whole plan file: resources offered and the plans granting them."""

    schema_version: int = SCHEMA_VERSION
    resources: list[Resource] = field(default_factory=lambda: list(DEFAULT_RESOURCES))
    plans: list[Plan] = field(default_factory=list)

    def resource(self, key: str) -> Resource | None:
        return next((r for r in self.resources if r.key == key), None)

    def plan(self, plan_id: str) -> Plan | None:
        return next((p for p in self.plans if p.id == plan_id), None)

    def linked_count(self, mode: Literal["test", "live"] = "test") -> int:
        return sum(1 for plan in self.plans if plan.price_id(mode))

    def unique_plan_id(self, name: str, *, excluding: Plan | None = None) -> str:
        """An ID from `name` that no plan (other than `excluding`, the one being renamed) has."""
        base = slugify(name)
        taken = {plan.id for plan in self.plans if plan is not excluding}
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def validate(self) -> list[FieldError]:
        """Problems a person must fix before saving, each naming its field."""
        errors: list[FieldError] = []
        keys: set[str] = set()
        for r_index, resource in enumerate(self.resources):
            where = f"resources[{r_index}]"
            if not RESOURCE_KEY.match(resource.key):
                errors.append(FieldError(f"{where}.key", f"'{resource.key}': use lower-case letters, digits and _"))
            elif resource.key in keys:
                errors.append(FieldError(f"{where}.key", f"Resource '{resource.key}' is defined twice"))
            keys.add(resource.key)
            if not resource.label.strip():
                errors.append(FieldError(f"{where}.label", "Give the resource a name"))
        ids: set[str] = set()
        for index, plan in enumerate(self.plans):
            where = f"plans[{index}]"
            if not PLAN_ID.match(plan.id):
                errors.append(FieldError(f"{where}.id", f"'{plan.id}': use lower-case letters, digits, - and _"))
            elif plan.id in ids:
                errors.append(FieldError(f"{where}.id", f"Another plan already has the id '{plan.id}'"))
            ids.add(plan.id)
            if not plan.name.strip():
                errors.append(FieldError(f"{where}.name", "Give the plan a name"))
            for slot in ("test_price_id", "live_price_id"):
                value = getattr(plan, slot)
                if value is not None and not PRICE_ID.match(value):
                    errors.append(FieldError(f"{where}.{slot}", _not_a_price_id(value)))
            if plan.verified is not None:
                if not PRICE_ID.match(plan.verified.price_id):
                    errors.append(FieldError(f"{where}.verified.price_id", _not_a_price_id(plan.verified.price_id)))
                if not TERMS_FINGERPRINT.match(plan.verified.terms):
                    message = f"'{plan.verified.terms}' is not a terms fingerprint (16 hex digits)"
                    errors.append(FieldError(f"{where}.verified.terms", message))
                currency = plan.verified.currency
                if currency is not None and currency not in CURRENCIES:
                    message = f"'{currency}' is not a currency code Stripe knows (like eur)"
                    errors.append(FieldError(f"{where}.verified.currency", message))
            for key, quota in plan.quotas.items():
                if key not in keys:
                    errors.append(FieldError(f"{where}.quotas.{key}", f"Unknown resource '{key}'"))
                elif quota != UNLIMITED and (isinstance(quota, bool) or not isinstance(quota, int | float)):
                    errors.append(FieldError(f"{where}.quotas.{key}", "A quota is a number or 'unlimited'"))
                elif quota != UNLIMITED and not math.isfinite(quota):
                    errors.append(FieldError(f"{where}.quotas.{key}", "A quota is a finite number or 'unlimited'"))
                elif quota != UNLIMITED and quota < 0:
                    errors.append(FieldError(f"{where}.quotas.{key}", "A quota cannot be negative"))
        return errors

    def to_toml_dict(self) -> dict[str, Any]:
        # Always the version this code writes: a version-1 file that was read is saved back as the current one.
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        data["resources"] = [
            {"key": r.key, "label": r.label, **({"unit": r.unit} if r.unit else {})} for r in self.resources
        ]
        plans = []
        for plan in self.plans:
            entry: dict[str, Any] = {"id": plan.id, "name": plan.name}
            if plan.test_price_id:
                entry["test_price_id"] = plan.test_price_id
            if plan.live_price_id:
                entry["live_price_id"] = plan.live_price_id
            entry["quotas"] = dict(plan.quotas)
            if plan.verified is not None:
                entry["verified"] = plan.verified.to_toml_dict()
            plans.append(entry)
        data["plans"] = plans
        return data

    @classmethod
    def from_toml_dict(cls, data: Mapping[str, Any]) -> PlanConfig:
        """Read a parsed plan file; raises PlanConfigError naming the field that is wrong."""
        # Unknown keys are refused, not skipped: a typo like [[plan]] would otherwise load as zero plans and the
        # next save would wipe the plans the person wrote.
        _refuse_unknown(data, TOP_LEVEL_KEYS, "")
        version = data.get("schema_version", SCHEMA_VERSION)
        if isinstance(version, bool) or not isinstance(version, int):
            raise PlanConfigError(
                "schema_version",
                f"must be the integer {SCHEMA_VERSION} (schema_version = {SCHEMA_VERSION}, without quotes)",
            )
        if version not in READABLE_SCHEMA_VERSIONS:
            newer = " (written by a newer portal-tui: upgrade it)" if version > SCHEMA_VERSION else ""
            raise PlanConfigError(
                "schema_version",
                f"is {version}, but this portal-tui reads versions "
                f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}{newer}",
            )
        raw_resources = data.get("resources")
        resources: list[Resource] = list(DEFAULT_RESOURCES)
        if raw_resources is not None:
            if not isinstance(raw_resources, list):
                raise PlanConfigError("resources", "expected a list of [[resources]] tables")
            resources = []
            for index, item in enumerate(raw_resources):
                where = f"resources[{index}]"
                if not isinstance(item, Mapping):
                    raise PlanConfigError(where, "expected a table")
                _refuse_unknown(item, RESOURCE_KEYS, where)
                resources.append(
                    Resource(
                        key=_text(item, "key", where, required=True),
                        label=_text(item, "label", where) or _text(item, "key", where, required=True),
                        unit=_text(item, "unit", where),
                    )
                )
        raw_plans = data.get("plans", [])
        if not isinstance(raw_plans, list):
            raise PlanConfigError("plans", "expected a list of [[plans]] tables")
        plans: list[Plan] = []
        for index, item in enumerate(raw_plans):
            where = f"plans[{index}]"
            if not isinstance(item, Mapping):
                raise PlanConfigError(where, "expected a table")
            _refuse_unknown(item, PLAN_KEYS, where)
            if "name" in item and isinstance(item["name"], str) and not item["name"].strip():
                raise PlanConfigError(f"{where}.name", "is empty: give the plan a name (or leave it out to use the id)")
            quotas_raw = item.get("quotas", {})
            if not isinstance(quotas_raw, Mapping):
                raise PlanConfigError(f"{where}.quotas", "expected a table of resource = number")
            verified_raw = item.get("verified")
            verified: VerifyRecord | None = None
            if verified_raw is not None:
                if not isinstance(verified_raw, Mapping):
                    raise PlanConfigError(f"{where}.verified", "expected a [plans.verified] table")
                verified = VerifyRecord.from_toml_dict(verified_raw, f"{where}.verified")
            quotas: dict[str, Quota] = {}
            for key, value in quotas_raw.items():
                if isinstance(value, float) and not math.isfinite(value):
                    message = f'must be a finite number or "unlimited", not {value}'
                    raise PlanConfigError(f"{where}.quotas.{key}", message)
                if value == UNLIMITED or (isinstance(value, int | float) and not isinstance(value, bool)):
                    quotas[str(key)] = value
                else:
                    raise PlanConfigError(f"{where}.quotas.{key}", f'expected a number or "unlimited", got {value!r}')
            plans.append(
                Plan(
                    id=_text(item, "id", where, required=True),
                    name=_text(item, "name", where) or _text(item, "id", where, required=True),
                    test_price_id=_text(item, "test_price_id", where) or None,
                    live_price_id=_text(item, "live_price_id", where) or None,
                    quotas=quotas,
                    verified=verified,
                )
            )
        return cls(schema_version=SCHEMA_VERSION, resources=resources, plans=plans)


def _text(item: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> str:
    value = item.get(name)
    if value is None:
        if required:
            raise PlanConfigError(f"{where}.{name}", "is missing")
        return ""
    if not isinstance(value, str):
        raise PlanConfigError(f"{where}.{name}", f"expected text, got {value!r}")
    return value


def unknown_key(item: Mapping[str, Any], known: Iterable[str], where: str) -> tuple[str, str] | None:
    """The first key of a TOML table that is not one of `known`, as (field, message with the closest key)."""
    allowed = tuple(known)
    for key in item:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (expected {', '.join(allowed)})"
            return (f"{where}.{key}" if where else str(key), f"is not a known key{hint}")
    return None


def _refuse_unknown(item: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    found = unknown_key(item, known, where)
    if found is not None:
        raise PlanConfigError(*found)


def _not_a_price_id(value: str) -> str:
    if looks_like_secret_key(value):
        return "That looks like a secret key, not a price ID (price_…): never paste keys here"
    return f"'{value}' is not a price ID (price_…)"
