"""Catalog endpoints: account, balance, products, prices, meters and meter events — with Stripe's refusals."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from portal_tui.domain.money import CURRENCIES
from portal_tui.sandbox.errors import ApiError, invalid, missing_param
from portal_tui.sandbox.params import (
    boolean,
    check_known,
    choice,
    decimal,
    integer,
    mapping,
    refuse_unmodelled,
    text,
)
from portal_tui.sandbox.store import Obj, World, created_filter, expansions, list_expansions, page

MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
METER_EVENT_PAST = 35 * 86_400
METER_EVENT_FUTURE = 5 * 60


# ---- account ---------------------------------------------------------------------------------------------------


def balance(world: World) -> Obj:
    return {
        "object": "balance",
        "available": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}],
        "pending": [{"amount": 0, "currency": "gbp", "source_types": {"card": 0}}],
        "livemode": world.livemode,
    }


# ---- products --------------------------------------------------------------------------------------------------


_NOT_IN_DESCRIPTOR = "<>\\\"'"


def _empty_refused(param: str) -> ApiError:
    return invalid(
        f"You passed an empty string for '{param}'. We assume empty values are an attempt to unset a parameter; "
        f"however '{param}' cannot be unset. You should remove '{param}' from your request or supply a non-empty "
        "value.",
        param,
    )


def _optional_text(params: dict[str, Any], key: str, *, unset: bool) -> str | None:
    """A string field; `""` unsets it where the SDK's params allow that (`Literal['']`), else is refused."""
    value = text(params, key)
    if value == "":
        if not unset:
            raise _empty_refused(key)
        return None
    return value


def _product_changes(world: World, params: dict[str, Any], product_id: str | None) -> Obj:
    """The product fields `params` set, every one checked before anything changes (create: `product_id` None)."""
    updating = product_id is not None
    changes: Obj = {}
    if "name" in params or not updating:
        name = text(params, "name")
        if name is None:
            raise missing_param("name")
        if not name.strip():
            raise _empty_refused("name")
        changes["name"] = name
    if "active" in params:
        changes["active"] = boolean(params, "active")
    for key in ("description", "tax_code", "unit_label", "url"):
        if key in params:
            changes[key] = _optional_text(params, key, unset=updating)
    if "statement_descriptor" in params:
        descriptor = _optional_text(params, "statement_descriptor", unset=False) or ""
        if len(descriptor) > 22 or not re.search("[A-Za-z]", descriptor) or set(descriptor) & set(_NOT_IN_DESCRIPTOR):
            raise invalid(
                "The statement descriptor must be at most 22 characters, contain at least one letter and none of "
                f"these characters: {' '.join(_NOT_IN_DESCRIPTOR)}",
                "statement_descriptor",
            )
        changes["statement_descriptor"] = descriptor
    if "shippable" in params:
        changes["shippable"] = boolean(params, "shippable")
    if "images" in params:
        images = [] if params["images"] == "" and updating else params["images"]
        if not isinstance(images, list) or not all(isinstance(url, str) and url for url in images):
            raise invalid("Invalid array", "images", "parameter_invalid_array")
        if len(images) > 8:
            raise invalid("A product can have at most 8 images.", "images")
        changes["images"] = images
    if "marketing_features" in params:
        features = [] if params["marketing_features"] == "" and updating else params["marketing_features"]
        if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
            raise invalid("Invalid array", "marketing_features", "parameter_invalid_array")
        if len(features) > 15:
            raise invalid("A product can have at most 15 marketing features.", "marketing_features")
        changes["marketing_features"] = []
        for index, feature in enumerate(features):
            label = f"marketing_features[{index}][name]"
            name = text(feature, "name", label)
            if name is None:
                raise missing_param(label)
            if not name:
                raise _empty_refused(label)
            changes["marketing_features"].append({"name": name})
    if "package_dimensions" in params:
        raw = params["package_dimensions"]
        if raw == "" and updating:
            changes["package_dimensions"] = None
        else:
            if not isinstance(raw, dict):
                raise invalid("Invalid hash", "package_dimensions", "parameter_invalid_hash")
            dimensions = {}
            for key in ("height", "length", "weight", "width"):
                value = decimal(raw, key, f"package_dimensions[{key}]")
                if value is None:
                    raise missing_param(f"package_dimensions[{key}]")
                dimensions[key] = float(value)
            changes["package_dimensions"] = dimensions
    if "tax_details" in params:
        raw = params["tax_details"]
        if raw == "" and updating:
            changes["tax_details"] = None
        else:
            details = mapping(params, "tax_details")
            changes["tax_details"] = {
                "performance_location": text(details, "performance_location", "tax_details[performance_location]"),
                "tax_code": text(details, "tax_code", "tax_details[tax_code]") or None,
            }
    if "type" in params and not updating:
        changes["type"] = choice(params, "type", ("good", "service"))
    if "metadata" in params:
        changes["metadata"] = _metadata(params)
    kind = changes.get("type") or (world.objects["product"][product_id]["type"] if product_id else "service")
    for key in ("unit_label", "statement_descriptor"):
        if kind == "good" and changes.get(key):
            raise invalid(f"`{key}` may only be set on products with `type=service`.", key)
    if "default_price" in params and product_id is not None:
        price_id = _optional_text(params, "default_price", unset=False)
        assert price_id is not None
        price = world.get("price", price_id, param="default_price")
        if price["product"] != product_id:
            raise invalid(
                f"The price `{price_id}` belongs to product `{price['product']}`: a product's default price must "
                "be one of its own prices.",
                "default_price",
            )
        if not price["active"]:
            raise invalid(f"The price `{price_id}` is archived: a default price must be active.", "default_price")
        changes["default_price"] = price_id
    return changes


def _metadata(params: dict[str, Any]) -> dict[str, str | None]:
    """Metadata changes: `metadata=""` clears every key (None), `metadata[key]=""` unsets that key."""
    if params["metadata"] == "":
        return {}
    values = mapping(params, "metadata")
    for key, value in values.items():
        if not isinstance(value, str):
            raise invalid("Invalid string", f"metadata[{key}]", "parameter_invalid_string")
    return {key: value or None for key, value in values.items()}


def _apply_metadata(current: dict[str, str], changes: dict[str, str | None], *, clear: bool) -> dict[str, str]:
    merged = {} if clear else dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


PRODUCT_EXPANDABLE = frozenset({"default_price"})


def render_product(world: World, product: Obj, expand: set[str]) -> Obj:
    """The product as Stripe returns it: `default_price` an id unless expanded."""
    out = dict(product)
    price = world.objects["price"].get(product.get("default_price") or "")
    if "default_price" in expand and price is not None:
        out["default_price"] = render_price(world, price, set())
    return out


def create_product(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "ProductCreateParams")
    changes = _product_changes(world, params, None)
    product_id = text(params, "id")
    if product_id and product_id in world.objects["product"]:
        raise ApiError(400, "Product already exists.", code="resource_already_exists", param="id")
    price_data = mapping(params, "default_price_data") if "default_price_data" in params else None
    metadata = changes.pop("metadata", {})
    now = world.now()
    product = world.add(
        "product",
        {
            "active": True,
            "default_price": None,
            "description": None,
            "images": [],
            "marketing_features": [],
            "metadata": _apply_metadata({}, metadata, clear=True),
            "name": changes["name"],
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "tax_details": None,
            "type": "service",
            "unit_label": None,
            "updated": now,
            "url": None,
            **changes,
        },
        object_id=product_id,
    )
    if price_data is not None:
        try:
            price = create_price(world, {**price_data, "product": product["id"]})
        except ApiError as error:
            world.remove("product", product["id"])  # all or nothing, like Stripe
            if error.param and error.param != "product":
                head, _, rest = error.param.partition("[")
                error.param = f"default_price_data[{head}]" + (f"[{rest}" if rest else "")
            raise
        product["default_price"] = price["id"]
    return product


def update_product(world: World, product_id: str, params: dict[str, Any]) -> Obj:
    """Update in one step like Stripe: every parameter is checked before anything changes."""
    check_known(params, "ProductUpdateParams")
    product = world.get("product", product_id)
    changes = _product_changes(world, params, product_id)
    if "metadata" in changes:
        changes["metadata"] = _apply_metadata(product["metadata"], changes["metadata"], clear=params["metadata"] == "")
    product.update(changes)
    product["updated"] = world.now()
    return product


def list_products(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "ProductListParams")
    items = [p for p in world.objects["product"].values() if created_filter(params)(p)]
    for key in ("active", "shippable"):
        wanted = boolean(params, key)
        if wanted is not None:
            items = [p for p in items if p[key] == wanted]
    for key in ("url", "type"):
        value = text(params, key)
        if value:
            items = [p for p in items if p[key] == value]
    ids = params.get("ids")
    if ids is not None:
        wanted_ids = set(ids if isinstance(ids, list) else [ids])
        items = [p for p in items if p["id"] in wanted_ids]
    expand = list_expansions(params, PRODUCT_EXPANDABLE)
    return page(world, items, params, "/v1/products", lambda p: render_product(world, p, expand))


# ---- prices ----------------------------------------------------------------------------------------------------


def render_price(world: World, price: Obj, expand: set[str], prefix: str = "") -> Obj:
    """The price as Stripe returns it: tiers and currency_options only when expanded, product as an id unless
    expanded."""
    out = {key: value for key, value in price.items() if key not in ("tiers", "currency_options")}
    if price["billing_scheme"] == "tiered" and (f"{prefix}tiers" in expand):
        out["tiers"] = [dict(tier) for tier in price["tiers"]]
    if f"{prefix}product" in expand:
        out["product"] = world.objects["product"].get(price["product"], price["product"])
    options = f"{prefix}currency_options"
    if options in expand or any(name.startswith(options + ".") for name in expand):
        # a per-currency tiers expansion (`currency_options.eur.tiers`) needs the options around it
        with_tiers = {name.split(".")[-2] for name in expand if name.startswith(options + ".")}
        out["currency_options"] = {
            code: _currency_option(option, code in with_tiers) for code, option in currency_options(price).items()
        }
    return out


def currency_options(price: Obj) -> dict[str, Obj]:
    """Every currency the price bills in, its own first: Stripe lists the default currency among the options."""
    own = {
        "custom_unit_amount": price.get("custom_unit_amount"),
        "tax_behavior": price.get("tax_behavior"),
        "tiers": price.get("tiers"),
        "unit_amount": price.get("unit_amount"),
        "unit_amount_decimal": price.get("unit_amount_decimal"),
    }
    others = price.get("currency_options") or {}
    return {price["currency"]: own, **{code: option for code, option in others.items() if code != price["currency"]}}


def _currency_option(option: Obj, with_tiers: bool) -> Obj:
    """One of a price's `currency_options` in Stripe's shape (its tiers only when `currency_options.<code>.tiers`
    is expanded, like the price's own)."""
    unit = option.get("unit_amount")
    decimal_text = option.get("unit_amount_decimal")
    out = {
        "custom_unit_amount": option.get("custom_unit_amount"),
        "tax_behavior": option.get("tax_behavior") or "unspecified",
        "unit_amount": unit,
        "unit_amount_decimal": decimal_text if decimal_text is not None else (str(unit) if unit is not None else None),
    }
    if with_tiers and option.get("tiers") is not None:
        out["tiers"] = [dict(tier) for tier in option["tiers"]]
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


def _tiers(params: dict[str, Any], currency: str, label: str = "tiers") -> list[Obj]:
    """The tiers in `params` (`label` names them in errors: `currency_options[eur][tiers]` for a currency's own)."""
    raw = params.get("tiers")
    if not isinstance(raw, list) or not raw:
        raise invalid("Tiers must be specified when `billing_scheme` is `tiered`.", label)
    tiers: list[Obj] = []
    previous = 0
    for index, tier in enumerate(raw):
        where = f"{label}[{index}]"
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


TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")


def _currency_options(raw: Any, price: Obj, current: dict[str, Obj] | None = None) -> dict[str, Obj]:
    """`currency_options` as create (and update) take them: per extra currency its own unit amount, or its own
    tiers on the same `up_to` bounds as the price's, and its tax behaviour; checked all before any is kept.

    `price` holds the settled default-currency terms; `current` the options an update replaces (a tax behaviour
    once inclusive or exclusive stays, as on the price itself).
    """
    if not isinstance(raw, dict):
        raise invalid("Invalid hash", "currency_options", "parameter_invalid_hash")
    options: dict[str, Obj] = {}
    for code_in, option_in in raw.items():
        where = f"currency_options[{code_in}]"
        code = currency_code(str(code_in), where)
        if code == price["currency"]:
            raise invalid(
                f"`currency_options` cannot include the price's own currency ({code}): its amounts are the price's "
                "`unit_amount` or `tiers`.",
                where,
            )
        if code in options:
            raise invalid(f"The currency {code} is given twice in `currency_options`.", where)
        if not isinstance(option_in, dict):
            raise invalid("Invalid hash", where, "parameter_invalid_hash")
        options[code] = _currency_option_terms(option_in, code, where, price, (current or {}).get(code))
    return options


def _currency_option_terms(option_in: Obj, code: str, where: str, price: Obj, before: Obj | None) -> Obj:
    option: Obj = {"custom_unit_amount": None, "tiers": None, "unit_amount": None, "unit_amount_decimal": None}
    if price["billing_scheme"] == "tiered":
        for key in ("unit_amount", "unit_amount_decimal", "custom_unit_amount"):
            if key in option_in:
                raise invalid(
                    f"`{key}` cannot be set on a currency option of a price with `billing_scheme=tiered`; set its "
                    "`tiers`.",
                    f"{where}[{key}]",
                )
        if "tiers" not in option_in:
            raise invalid(
                f"Each currency option of a tiered price needs its own `tiers`: {code} has none.", f"{where}[tiers]"
            )
        tiers = _tiers(option_in, code, f"{where}[tiers]")
        bounds = [tier["up_to"] for tier in price["tiers"]]
        if len(tiers) != len(bounds):
            raise invalid(
                f"The tiers of currency option {code} must have the same `up_to` bounds as the price's tiers "
                f"({len(bounds)} tiers, not {len(tiers)}).",
                f"{where}[tiers]",
            )
        for index, (tier, bound) in enumerate(zip(tiers, bounds, strict=True)):
            if tier["up_to"] != bound:
                wanted = "inf" if bound is None else bound
                raise invalid(
                    f"The tiers of currency option {code} must have the same `up_to` bounds as the price's tiers: "
                    f"tier {index + 1} must be up to {wanted}.",
                    f"{where}[tiers][{index}][up_to]",
                )
        option["tiers"] = tiers
    else:
        if "tiers" in option_in:
            raise invalid("`tiers` can only be set when `billing_scheme` is `tiered`.", f"{where}[tiers]")
        unit, unit_text = _amount_pair(option_in, "unit_amount", f"{where}[unit_amount]", code)
        custom = None
        if "custom_unit_amount" in option_in or price.get("custom_unit_amount") is not None:
            if price.get("custom_unit_amount") is None:
                raise invalid(
                    "`custom_unit_amount` can only be set on a currency option of a price whose customer chooses "
                    "the amount.",
                    f"{where}[custom_unit_amount]",
                )
            try:
                custom = _custom_unit_amount(option_in, False, unit_text is not None)
            except ApiError as error:
                error.param = f"{where}[{error.param}]".replace("[custom_unit_amount[", "[custom_unit_amount][")
                raise
        if unit_text is None and custom is None:
            raise invalid(
                f"You must pass either `unit_amount` or `unit_amount_decimal` for currency option {code}.",
                f"{where}[unit_amount]",
            )
        option.update(custom_unit_amount=custom, unit_amount=unit, unit_amount_decimal=unit_text)
    wanted = choice(option_in, "tax_behavior", TAX_BEHAVIORS, f"{where}[tax_behavior]")
    settled = (before or {}).get("tax_behavior") or "unspecified"
    if wanted is not None and settled != "unspecified" and wanted != settled:
        raise invalid("The tax behavior of a price cannot be changed once it is set.", f"{where}[tax_behavior]")
    # unset, a currency takes the price's tax behaviour (an update keeps the one it had)
    option["tax_behavior"] = wanted or (before or {}).get("tax_behavior") or price["tax_behavior"]
    return option


def _lookup_key_holder(world: World, lookup_key: str, claimant: str | None) -> Obj | None:
    """The price (other than `claimant`) holding `lookup_key`, active or not: like Stripe, an archived price keeps
    its lookup key and blocks it until the key is transferred."""
    return next(
        (p for p in world.objects["price"].values() if p["lookup_key"] == lookup_key and p["id"] != claimant),
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
    """Create in one step like Stripe: a refused price leaves no `product_data` product behind."""
    before = set(world.objects["product"])
    try:
        return _create_price(world, params)
    except ApiError:
        for product_id in set(world.objects["product"]) - before:
            world.remove("product", product_id)
        raise


def currency_code(value: str, param: str) -> str:
    """`value` as Stripe's lower-case currency code; Stripe's refusal, at `param`, for one it does not support."""
    if value.lower() not in CURRENCIES:
        raise invalid(
            f"Invalid currency: {value}. Stripe currently supports these currencies: " + ", ".join(sorted(CURRENCIES)),
            param,
        )
    return value.lower()


def _create_price(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "PriceCreateParams")
    currency = text(params, "currency")
    if not currency:
        raise missing_param("currency")
    currency = currency_code(currency, "currency")
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
    tax_behavior = choice(params, "tax_behavior", TAX_BEHAVIORS) or "unspecified"
    terms = {
        "billing_scheme": scheme,
        "currency": currency,
        "custom_unit_amount": custom,
        "tax_behavior": tax_behavior,
        "tiers": tiers,
    }
    options = _currency_options(params["currency_options"], terms) if "currency_options" in params else {}
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
    if options:
        price["currency_options"] = options  # rendered only when expanded (render_price)
    return price


def update_price(world: World, price_id: str, params: dict[str, Any]) -> Obj:
    """Update in one step like Stripe: every parameter is checked before anything changes."""
    check_known(params, "PriceModifyParams")
    price = world.get("price", price_id)
    changes: Obj = {}
    if "active" in params:
        changes["active"] = boolean(params, "active")
        owner = world.objects["product"].get(price["product"]) or {}
        if changes["active"] is False and owner.get("default_price") == price_id:
            raise invalid("This price cannot be archived because it is the default price of its product.", "active")
    if "nickname" in params:
        changes["nickname"] = text(params, "nickname") or None
    metadata = mapping(params, "metadata") if "metadata" in params else None
    if "tax_behavior" in params:
        wanted = choice(params, "tax_behavior", TAX_BEHAVIORS)
        if price["tax_behavior"] != "unspecified" and wanted != price["tax_behavior"]:
            raise invalid("The tax behavior of a price cannot be changed once it is set.", "tax_behavior")
        changes["tax_behavior"] = wanted
    if "currency_options" in params:
        # like other hashes on update, the named currencies are added or replaced and the rest kept; "" (the
        # SDK's PriceModifyParams allows it) removes every extra currency
        raw = params["currency_options"]
        current = price.get("currency_options") or {}
        changes["currency_options"] = {} if raw == "" else {**current, **_currency_options(raw, price, current)}
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
    items = [p for p in world.objects["price"].values() if created_filter(params)(p)]
    currency = text(params, "currency")
    if currency:
        items = [p for p in items if p["currency"] == currency.lower()]
    if "recurring" in params:
        recurring = mapping(params, "recurring")
        items = [p for p in items if p["recurring"] is not None]
        for key in ("interval", "meter", "usage_type"):
            value = text(recurring, key, f"recurring[{key}]")
            if value:
                items = [p for p in items if p["recurring"].get(key) == value]
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
    # `event_time_window` (pre-aggregated dashboards) is not modelled: refused by name rather than ignored
    modelled = {"customer_mapping", "default_aggregation", "display_name", "event_name", "expand", "value_settings"}
    refuse_unmodelled(params, frozenset(modelled))
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
    # Stripe checks the payload only when it aggregates the event: a bad one is accepted now, then dropped and
    # listed in the meter's error reports. The sandbox keeps it with its error code, and usage leaves it out.
    error: str | None = None
    if meter is None:
        error = "no_meter"
    elif customer_key not in payload:
        error = "meter_event_no_customer_defined"
    elif meter["default_aggregation"]["formula"] != "count":
        value = payload.get(value_key)
        if value is None:
            error = "meter_event_value_not_found"
        # Whole numbers only, as the invoice side (which sums integers) bills them; "1.5", "NaN" are dropped.
        elif not re.fullmatch(r"-?\d+", str(value).strip()):
            error = "meter_event_invalid_value"
    reference = _event_time_reference(world, payload.get(customer_key))
    timestamp = integer(params, "timestamp")
    if timestamp is None:
        timestamp = reference
    # (an event Stripe will drop has no customer whose clock it could be checked against)
    elif error is None and not reference - METER_EVENT_PAST <= timestamp <= reference + METER_EVENT_FUTURE:
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
    # the exact moment it arrived (kept off the answer): `meter_event_lag` counts from it
    world.meter_events.append({**event, "_received": world.clock(), "_error": error})
    return event
