"""Catalog endpoints: account, balance, products, prices, meters and meter events — with Stripe's refusals."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from portal_tui.domain.money import CURRENCIES
from portal_tui.sandbox.errors import ApiError, invalid, missing_param
from portal_tui.sandbox.params import boolean, check_known, choice, decimal, integer, mapping, text
from portal_tui.sandbox.store import Obj, World, expansions, page

MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
METER_EVENT_PAST = 35 * 86_400
METER_EVENT_FUTURE = 5 * 60
ACCOUNT_NAME = "Sandbox Hosting Ltd"


# ---- account ---------------------------------------------------------------------------------------------------


def account(world: World, account_id: str) -> Obj:
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {"name": ACCOUNT_NAME, "url": "https://hosting.example"},
        "settings": {"dashboard": {"display_name": ACCOUNT_NAME, "timezone": "Europe/London"}},
        "country": "GB",
        "default_currency": "gbp",
        "email": "billing@hosting.example",
        "charges_enabled": True,
        "payouts_enabled": True,
        "type": "standard",
    }


def balance(world: World) -> Obj:
    return {
        "object": "balance",
        "available": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}],
        "pending": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}],
        "livemode": world.livemode,
    }


# ---- products --------------------------------------------------------------------------------------------------


def create_product(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "ProductCreateParams")
    name = text(params, "name")
    if not name:
        raise missing_param("name")
    product_id = text(params, "id")
    if product_id and product_id in world.objects["product"]:
        raise ApiError(400, "Product already exists.", code="resource_already_exists", param="id")
    now = world.now()
    return world.add(
        "product",
        {
            "active": boolean(params, "active") is not False,
            "default_price": None,
            "description": text(params, "description") or None,
            "images": [],
            "marketing_features": [],
            "metadata": mapping(params, "metadata"),
            "name": name,
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": text(params, "unit_label"),
            "updated": now,
            "url": None,
        },
        object_id=product_id,
    )


def update_product(world: World, product_id: str, params: dict[str, Any]) -> Obj:
    check_known(params, "ProductModifyParams")
    product = world.get("product", product_id)
    for key in ("name", "description"):
        if key in params:
            product[key] = text(params, key) or None
    if "active" in params:
        product["active"] = boolean(params, "active")
    if "metadata" in params:
        product["metadata"].update(mapping(params, "metadata"))
    product["updated"] = world.now()
    return product


def list_products(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "ProductListParams")
    items = list(world.objects["product"].values())
    active = boolean(params, "active")
    if active is not None:
        items = [p for p in items if p["active"] == active]
    return page(world, items, params, "/v1/products", lambda p: p)


# ---- prices ----------------------------------------------------------------------------------------------------


def render_price(world: World, price: Obj, expand: set[str], prefix: str = "") -> Obj:
    """The price as Stripe returns it: tiers only when expanded, product as an id unless expanded."""
    out = {key: value for key, value in price.items() if key != "tiers"}
    if price["billing_scheme"] == "tiered" and (f"{prefix}tiers" in expand):
        out["tiers"] = [dict(tier) for tier in price["tiers"]]
    if f"{prefix}product" in expand:
        out["product"] = world.objects["product"].get(price["product"], price["product"])
    return out


def _amount_pair(source: dict[str, Any], name: str, param: str, currency: str) -> tuple[int | None, str | None]:
    """(integer, decimal text) for `name`/`name_decimal`, refusing both at once like Stripe."""
    if source.get(name) is not None and source.get(f"{name}_decimal") is not None:
        raise invalid(f"You may only specify one of these parameters: {name}, {name}_decimal.", param)
    whole = integer(source, name, f"{param}" if param.endswith(name) else param)
    if whole is not None:
        if whole < 0:
            raise invalid("Invalid non-negative integer", param, "parameter_invalid_integer")
        if whole > 99_999_999:
            raise invalid(
                f"This value must be less than or equal to 99999999 (it currently is '{whole}').",
                param,
                "parameter_invalid_integer",
            )
        if CURRENCIES[currency].exponent == 3 and whole % 10:
            # the last of the three decimals must be 0 (Stripe's currencies page)
            raise invalid(
                f"Amounts in {currency.upper()} must be a multiple of 10: the last of its three decimal places "
                f"must be 0 (it currently is '{whole}').",
                param,
                "parameter_invalid_integer",
            )
        return whole, str(whole)
    fraction = decimal(source, f"{name}_decimal", f"{param}_decimal")
    if fraction is not None:
        if fraction > 99_999_999:
            raise invalid("This value must be less than 99999999.", f"{param}_decimal")
        whole_value = int(fraction) if fraction == fraction.to_integral_value() else None
        return whole_value, _decimal_text(fraction)
    return None, None


def _decimal_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _tiers(params: dict[str, Any], currency: str) -> list[Obj]:
    raw = params.get("tiers")
    if not isinstance(raw, list) or not raw:
        raise invalid("Tiers must be specified when `billing_scheme` is `tiered`.", "tiers")
    tiers: list[Obj] = []
    previous = 0
    for index, tier in enumerate(raw):
        where = f"tiers[{index}]"
        if not isinstance(tier, dict):
            raise invalid("Invalid hash", where, "parameter_invalid_hash")
        for key in tier:
            if key not in ("up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal"):
                raise ApiError(
                    400,
                    f"Received unknown parameter: {where}[{key}]",
                    code="parameter_unknown",
                    param=f"{where}[{key}]",
                )
        up_to_raw = tier.get("up_to")
        if up_to_raw is None:
            raise missing_param(f"{where}[up_to]")
        last = index == len(raw) - 1
        if up_to_raw == "inf":
            if not last:
                raise invalid("Only the last tier can have `up_to` set to `inf`.", f"{where}[up_to]")
            up_to = None
        else:
            up_to = integer(tier, "up_to", f"{where}[up_to]")
            assert up_to is not None
            if last:
                raise invalid("The last tier must have `up_to` set to `inf`.", f"{where}[up_to]")
            if up_to <= previous:
                raise invalid(
                    "Tiers must be specified in ascending order of `up_to`, and `up_to` must be greater than 0.",
                    f"{where}[up_to]",
                )
            previous = up_to
        unit, unit_text = _amount_pair(tier, "unit_amount", f"{where}[unit_amount]", currency)
        flat, flat_text = _amount_pair(tier, "flat_amount", f"{where}[flat_amount]", currency)
        if unit_text is None and flat_text is None:
            raise invalid(
                "Each tier must have either a `unit_amount`/`unit_amount_decimal` or `flat_amount`/"
                "`flat_amount_decimal` set.",
                where,
            )
        tiers.append(
            {
                "flat_amount": flat,
                "flat_amount_decimal": flat_text,
                "unit_amount": unit,
                "unit_amount_decimal": unit_text,
                "up_to": up_to,
            }
        )
    return tiers


def _custom_unit_amount(params: dict[str, Any], recurring: bool, has_amount: bool) -> Obj | None:
    """Customer-chosen amounts (`custom_unit_amount`): one-time prices only, instead of a unit amount."""
    if "custom_unit_amount" not in params:
        return None
    raw = params["custom_unit_amount"]
    if not isinstance(raw, dict):
        raise invalid("Invalid hash", "custom_unit_amount", "parameter_invalid_hash")
    enabled = boolean(raw, "enabled", "custom_unit_amount[enabled]")
    if enabled is None:
        raise missing_param("custom_unit_amount[enabled]")
    if not enabled:
        raise invalid(
            "Pass in `true` to enable `custom_unit_amount`, otherwise omit `custom_unit_amount`.",
            "custom_unit_amount[enabled]",
        )
    if has_amount:
        raise invalid(
            "You may only specify one of these parameters: custom_unit_amount, unit_amount, unit_amount_decimal.",
            "custom_unit_amount",
        )
    if recurring:
        raise invalid("`custom_unit_amount` is not supported for recurring prices.", "custom_unit_amount")
    bounds: Obj = {}
    for name in ("maximum", "minimum", "preset"):
        value = integer(raw, name, f"custom_unit_amount[{name}]")
        if value is not None and not 0 <= value <= 99_999_999:
            raise invalid(
                "This value must be greater than or equal to 0 and less than or equal to 99999999.",
                f"custom_unit_amount[{name}]",
                "parameter_invalid_integer",
            )
        bounds[name] = value
    low, high, preset = bounds["minimum"], bounds["maximum"], bounds["preset"]
    if low is not None and high is not None and low > high:
        raise invalid("`minimum` must be less than or equal to `maximum`.", "custom_unit_amount[minimum]")
    if preset is not None and ((low is not None and preset < low) or (high is not None and preset > high)):
        raise invalid("`preset` must be between `minimum` and `maximum`.", "custom_unit_amount[preset]")
    return bounds


def _lookup_key_holder(world: World, lookup_key: str, claimant: str | None) -> Obj | None:
    """The active price (other than `claimant`) holding `lookup_key`."""
    return next(
        (
            p
            for p in world.objects["price"].values()
            if p["active"] and p["lookup_key"] == lookup_key and p["id"] != claimant
        ),
        None,
    )


def _check_transfer(params: dict[str, Any]) -> None:
    if boolean(params, "transfer_lookup_key") and not text(params, "lookup_key"):
        raise invalid("You can only set `transfer_lookup_key` when you also set a `lookup_key`.", "transfer_lookup_key")


def _claim_lookup_key(world: World, params: dict[str, Any], claimant: str | None = None) -> str | None:
    _check_transfer(params)
    lookup_key = text(params, "lookup_key")
    if lookup_key is None or lookup_key == "":
        return None
    if len(lookup_key) > 200:
        raise invalid("Lookup keys must be 200 characters or fewer.", "lookup_key")
    holder = _lookup_key_holder(world, lookup_key, claimant)
    if holder is not None:
        if not boolean(params, "transfer_lookup_key"):
            raise invalid(
                f"A price (`{holder['id']}`) already uses that lookup key. Set `transfer_lookup_key` to true "
                "to move it to this price.",
                "lookup_key",
            )
        holder["lookup_key"] = None
    return lookup_key


def create_price(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "PriceCreateParams")
    currency = text(params, "currency")
    if not currency:
        raise missing_param("currency")
    currency = currency.lower()
    if currency not in CURRENCIES:
        raise invalid(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            + ", ".join(sorted(CURRENCIES)),
            "currency",
        )
    product_id = text(params, "product")
    if product_id:
        product = world.get("product", product_id, param="product")
        if not product["active"]:
            raise invalid(
                f"The product `{product_id}` is archived. Prices cannot be added to archived products.", "product"
            )
    elif "product_data" in params:
        data = mapping(params, "product_data")
        if not data.get("name"):
            raise missing_param("product_data[name]")
        # every product_data field is a product field (checked against the SDK above): keep them all
        product_id = create_product(world, dict(data))["id"]
    else:
        raise invalid("You must specify either `product` or `product_data` when creating a price.", "product")

    recurring_in = params.get("recurring")
    recurring: Obj | None = None
    if recurring_in is not None:
        if not isinstance(recurring_in, dict):
            raise invalid("Invalid hash", "recurring", "parameter_invalid_hash")
        interval = choice(recurring_in, "interval", ("day", "week", "month", "year"), "recurring[interval]")
        if interval is None:
            raise missing_param("recurring[interval]")
        count = integer(recurring_in, "interval_count", "recurring[interval_count]")
        if count is None:
            count = 1  # Stripe's default only when absent: an explicit 0 is refused below
        if count < 1 or count > MAX_INTERVAL_COUNT[interval]:
            raise invalid(
                "The maximum billing frequency is 3 years (1095 days, 156 weeks, 36 months or 3 years).",
                "recurring[interval_count]",
            )
        usage_type = choice(recurring_in, "usage_type", ("licensed", "metered"), "recurring[usage_type]") or "licensed"
        meter_id = text(recurring_in, "meter", "recurring[meter]")
        if usage_type == "metered":
            if not meter_id:
                raise invalid(
                    "A meter is required for prices with `recurring[usage_type]=metered`: pass `recurring[meter]`.",
                    "recurring[meter]",
                )
            meter = world.get("billing.meter", meter_id, param="recurring[meter]")
            if meter["status"] != "active":
                raise invalid(f"The meter `{meter_id}` is inactive.", "recurring[meter]")
        elif meter_id:
            raise invalid(
                "`recurring[meter]` can only be set when `recurring[usage_type]=metered`.", "recurring[meter]"
            )
        recurring = {
            "interval": interval,
            "interval_count": count,
            "meter": meter_id if usage_type == "metered" else None,
            "trial_period_days": None,
            "usage_type": usage_type,
        }

    scheme = choice(params, "billing_scheme", ("per_unit", "tiered")) or "per_unit"
    transform_in = params.get("transform_quantity")
    tiers: list[Obj] | None = None
    unit: int | None = None
    unit_text: str | None = None
    transform: Obj | None = None
    custom: Obj | None = None
    tiers_mode = choice(params, "tiers_mode", ("graduated", "volume"))
    if scheme == "tiered":
        if recurring is None:
            raise invalid("Tiered prices must be recurring.", "billing_scheme")
        if tiers_mode is None:
            raise invalid("`tiers_mode` must be specified when `billing_scheme` is `tiered`.", "tiers_mode")
        if transform_in is not None:
            raise invalid("`transform_quantity` cannot be used with `billing_scheme=tiered`.", "transform_quantity")
        for key in ("unit_amount", "unit_amount_decimal"):
            if key in params:
                raise invalid(f"`{key}` cannot be set when `billing_scheme` is `tiered`; set it on each tier.", key)
        if "custom_unit_amount" in params:
            raise invalid("`custom_unit_amount` cannot be used with `billing_scheme=tiered`.", "custom_unit_amount")
        tiers = _tiers(params, currency)
    else:
        if "tiers" in params:
            raise invalid("`tiers` can only be set when `billing_scheme` is `tiered`.", "tiers")
        if tiers_mode is not None:
            raise invalid("`tiers_mode` can only be set when `billing_scheme` is `tiered`.", "tiers_mode")
        unit, unit_text = _amount_pair(params, "unit_amount", "unit_amount", currency)
        custom = _custom_unit_amount(params, recurring is not None, unit_text is not None)
        if unit_text is None and custom is None:
            raise invalid(
                "You must pass either `unit_amount`, `unit_amount_decimal` or `custom_unit_amount` for "
                "`billing_scheme=per_unit`.",
                "unit_amount",
            )
        if transform_in is not None:
            if not isinstance(transform_in, dict):
                raise invalid("Invalid hash", "transform_quantity", "parameter_invalid_hash")
            divide_by = integer(transform_in, "divide_by", "transform_quantity[divide_by]")
            if divide_by is None:
                raise missing_param("transform_quantity[divide_by]")
            if divide_by < 1:
                raise invalid("`divide_by` must be at least 1.", "transform_quantity[divide_by]")
            rounding = choice(transform_in, "round", ("up", "down"), "transform_quantity[round]")
            if rounding is None:
                raise missing_param("transform_quantity[round]")
            transform = {"divide_by": divide_by, "round": rounding}
    tax_behavior = choice(params, "tax_behavior", ("exclusive", "inclusive", "unspecified")) or "unspecified"
    lookup_key = _claim_lookup_key(world, params)
    price = world.add(
        "price",
        {
            "active": boolean(params, "active") is not False,
            "billing_scheme": scheme,
            "currency": currency,
            "custom_unit_amount": custom,
            "lookup_key": lookup_key,
            "metadata": mapping(params, "metadata"),
            "nickname": text(params, "nickname") or None,
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": tax_behavior,
            "tiers_mode": tiers_mode if scheme == "tiered" else None,
            "transform_quantity": transform,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit,
            "unit_amount_decimal": unit_text,
        },
    )
    if tiers is not None:
        price["tiers"] = tiers
    return price


def update_price(world: World, price_id: str, params: dict[str, Any]) -> Obj:
    """Update in one step like Stripe: every parameter is checked before anything changes."""
    check_known(params, "PriceModifyParams")
    price = world.get("price", price_id)
    changes: Obj = {}
    if "active" in params:
        changes["active"] = boolean(params, "active")
    if "nickname" in params:
        changes["nickname"] = text(params, "nickname") or None
    metadata = mapping(params, "metadata") if "metadata" in params else None
    if "tax_behavior" in params:
        wanted = choice(params, "tax_behavior", ("exclusive", "inclusive", "unspecified"))
        if price["tax_behavior"] != "unspecified" and wanted != price["tax_behavior"]:
            raise invalid("The tax behavior of a price cannot be changed once it is set.", "tax_behavior")
        changes["tax_behavior"] = wanted
    _check_transfer(params)
    if "lookup_key" in params:
        # last: claiming may take the key from another price, so nothing after it may refuse
        changes["lookup_key"] = None if params["lookup_key"] == "" else _claim_lookup_key(world, params, price_id)
    price.update(changes)
    if metadata is not None:
        price["metadata"].update(metadata)
    return price


def list_prices(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "PriceListParams")
    expand = expansions(params)
    items = list(world.objects["price"].values())
    active = boolean(params, "active")
    if active is not None:
        items = [p for p in items if p["active"] == active]
    product = text(params, "product")
    if product:
        items = [p for p in items if p["product"] == product]
    kind = choice(params, "type", ("one_time", "recurring"))
    if kind:
        items = [p for p in items if p["type"] == kind]
    keys = params.get("lookup_keys")
    if keys is not None:
        wanted = set(keys if isinstance(keys, list) else [keys])
        if len(wanted) > 10:
            raise invalid("You can pass at most 10 lookup keys.", "lookup_keys")
        items = [p for p in items if p["lookup_key"] in wanted]
    return page(world, items, params, "/v1/prices", lambda p: render_price(world, p, expand, "data."))


# ---- meters ----------------------------------------------------------------------------------------------------


def create_meter(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "billing.MeterCreateParams")
    display_name = text(params, "display_name")
    if not display_name:
        raise missing_param("display_name")
    event_name = text(params, "event_name")
    if not event_name:
        raise missing_param("event_name")
    aggregation = mapping(params, "default_aggregation")
    formula = choice(aggregation, "formula", ("count", "last", "sum"), "default_aggregation[formula]")
    if formula is None:
        raise missing_param("default_aggregation[formula]")
    for meter in world.objects["billing.meter"].values():
        if meter["status"] == "active" and meter["event_name"] == event_name:
            raise invalid(f"An active meter with event_name `{event_name}` already exists.", "event_name")
    mapping_in = mapping(params, "customer_mapping")
    value_in = mapping(params, "value_settings")
    now = world.now()
    return world.add(
        "billing.meter",
        {
            "customer_mapping": {
                "event_payload_key": mapping_in.get("event_payload_key") or "stripe_customer_id",
                "type": mapping_in.get("type") or "by_id",
            },
            "default_aggregation": {"formula": formula},
            "display_name": display_name,
            "event_name": event_name,
            "event_time_window": None,
            "status": "active",
            "status_transitions": {"deactivated_at": None},
            "updated": now,
            "value_settings": {"event_payload_key": value_in.get("event_payload_key") or "value"},
        },
    )


def list_meters(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "billing.MeterListParams")
    items = list(world.objects["billing.meter"].values())
    status = choice(params, "status", ("active", "inactive"))
    if status:
        items = [m for m in items if m["status"] == status]
    return page(world, items, params, "/v1/billing/meters", lambda m: m)


def _event_time_reference(world: World, customer_id: object) -> int:
    """The time a meter event is checked against: the customer's test clock time when it has one (Stripe runs a
    clock's customers on the clock's time, so usage is reported inside the clock's periods), real time otherwise."""
    customer = world.objects["customer"].get(str(customer_id)) if customer_id else None
    clock = world.objects["test_helpers.test_clock"].get(str((customer or {}).get("test_clock") or ""))
    return int(clock["frozen_time"]) if clock else world.now()


def create_meter_event(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "billing.MeterEventCreateParams")
    event_name = text(params, "event_name")
    if not event_name:
        raise missing_param("event_name")
    payload = mapping(params, "payload")
    if not payload:
        raise missing_param("payload")
    meter = next(
        (
            m
            for m in world.objects["billing.meter"].values()
            if m["event_name"] == event_name and m["status"] == "active"
        ),
        None,
    )
    customer_key = meter["customer_mapping"]["event_payload_key"] if meter else "stripe_customer_id"
    value_key = meter["value_settings"]["event_payload_key"] if meter else "value"
    if customer_key not in payload:
        raise invalid(f"Missing customer mapping key `{customer_key}` in payload.", f"payload[{customer_key}]")
    if meter and meter["default_aggregation"]["formula"] != "count":
        value = payload.get(value_key)
        if value is None:
            raise invalid(f"Missing value key `{value_key}` in payload.", f"payload[{value_key}]")
        # Whole numbers only, as the invoice side (which sums integers) bills them; "1.5", "NaN" are refused.
        if not re.fullmatch(r"-?\d+", str(value).strip()):
            raise invalid(f"Value `{value}` must be a whole number.", f"payload[{value_key}]")
    reference = _event_time_reference(world, payload.get(customer_key))
    timestamp = integer(params, "timestamp")
    if timestamp is None:
        timestamp = reference
    elif not reference - METER_EVENT_PAST <= timestamp <= reference + METER_EVENT_FUTURE:
        raise invalid(
            "The timestamp must be within the past 35 calendar days or up to 5 minutes in the future.", "timestamp"
        )
    identifier = text(params, "identifier") or world.new_id("line_item").replace("il_", "evt_")
    if identifier in world.event_identifiers:
        raise invalid(f"An event with identifier `{identifier}` already exists.", "identifier")
    world.event_identifiers.add(identifier)
    event = {
        "object": "billing.meter_event",
        "created": world.now(),
        "event_name": event_name,
        "identifier": identifier,
        "livemode": world.livemode,
        "payload": dict(payload),
        "timestamp": timestamp,
    }
    world.meter_events.append(event)
    return event
