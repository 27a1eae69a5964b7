"""Stripe's form encoding: decode nested keys, refuse unknown parameters, and read typed values."""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from portal_tui.sandbox.errors import invalid, missing_param, unknown_param

Params = dict[str, Any]

_SEGMENT = re.compile(r"\[([^\]]*)\]")
_NESTED_TYPE = re.compile(r"\b([A-Z][A-Za-z0-9]*Params[A-Za-z0-9]*)\b")
# Keys of the SDK's RequestOptions: they travel as headers, never as form fields.
_REQUEST_OPTIONS = frozenset(
    {
        "api_key",
        "stripe_version",
        "stripe_account",
        "stripe_context",
        "max_network_retries",
        "idempotency_key",
        "content_type",
        "headers",
    }
)


def decode(text: str) -> Params:
    """`tiers[0][up_to]=inf&expand[]=tiers` -> {"tiers": [{"up_to": "inf"}], "expand": ["tiers"]}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head, *_SEGMENT.findall("[" + rest)] if rest else [head]
        node = root
        for index, segment in enumerate(path):
            if segment == "":
                segment = str(len(node))  # `expand[]` appends
            if index == len(path) - 1:
                node[segment] = value
                break
            child = node.setdefault(segment, {})
            if not isinstance(child, dict):
                raise invalid(f"Invalid hash: {'['.join(path[: index + 1])}", head)
            node = child
    result = _lists_from_indexes(root)
    assert isinstance(result, dict)
    return result


def _lists_from_indexes(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_from_indexes(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


# ---- unknown-parameter check against the SDK's generated TypedDicts ----


@functools.cache
def _params_class(name: str) -> Any:
    """`"billing.MeterCreateParams"` -> the TypedDict class from `stripe.params` (None if unavailable)."""
    package, _, class_name = name.rpartition(".")
    try:
        module = importlib.import_module("stripe.params" + (f".{package}" if package else ""))
        return getattr(module, class_name)
    except (ImportError, AttributeError):
        return None


@functools.cache
def _fields(typed_dict: Any) -> dict[str, tuple[str, Any, bool]]:
    """name -> (kind: value|object|list|map, nested TypedDict or None, accepts '' to unset)."""
    import sys

    namespace = vars(sys.modules[typed_dict.__module__])
    fields: dict[str, tuple[str, Any, bool]] = {}
    for name, annotation in typed_dict.__annotations__.items():
        if name in _REQUEST_OPTIONS:
            continue
        text = getattr(annotation, "__forward_arg__", None) or str(annotation)
        for inner in getattr(annotation, "__args__", ()):
            text += " " + (getattr(inner, "__forward_arg__", None) or str(inner))
            for deeper in getattr(inner, "__args__", ()):
                text += " " + (getattr(deeper, "__forward_arg__", None) or str(deeper))
        nested = None
        for candidate in _NESTED_TYPE.findall(text):
            found = namespace.get(candidate)
            if found is not None and hasattr(found, "__required_keys__"):
                nested = found
                break
        if "Dict[str" in text:
            kind = "map"
        elif "List[" in text:
            kind = "list"
        elif nested is not None:
            kind = "object"
        else:
            kind = "value"
        fields[name] = (kind, nested, "Literal['']" in text)
    return fields


def _label(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _walk(params: Mapping[str, Any], typed_dict: Any, prefix: str) -> None:
    fields = _fields(typed_dict)
    for key, value in params.items():
        spec = fields.get(key)
        label = _label(prefix, key)
        if spec is None:
            raise unknown_param(label)
        kind, nested, _ = spec
        if nested is None:
            continue
        if kind == "object" and isinstance(value, dict):
            _walk(value, nested, label)
        elif kind == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _walk(item, nested, f"{label}[{index}]")
        elif kind == "map" and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, dict):
                    _walk(item, nested, f"{label}[{name}]")
    for key in sorted(typed_dict.__required_keys__ - _REQUEST_OPTIONS):
        if key not in params:
            raise missing_param(_label(prefix, key))


# Used only if the SDK's param types cannot be introspected: top-level names of the endpoints served.
_FALLBACK: dict[str, frozenset[str]] = {
    name: frozenset(keys.split())
    for name, keys in {
        "PriceCreateParams": "active billing_scheme currency currency_options custom_unit_amount expand "
        "lookup_key metadata nickname product product_data recurring tax_behavior tiers tiers_mode "
        "transfer_lookup_key transform_quantity unit_amount unit_amount_decimal",
        "PriceModifyParams": "active currency_options expand lookup_key metadata nickname tax_behavior "
        "transfer_lookup_key",
        "PriceListParams": "active created currency ending_before expand limit lookup_keys product recurring "
        "starting_after type",
        "PriceRetrieveParams": "expand",
        "ProductCreateParams": "active default_price_data description expand id images marketing_features "
        "metadata name package_dimensions shippable statement_descriptor tax_code unit_label url",
        "ProductModifyParams": "active default_price description expand images marketing_features metadata "
        "name package_dimensions shippable statement_descriptor tax_code unit_label url",
        "ProductListParams": "active created ending_before expand ids limit shippable starting_after url",
        "ProductRetrieveParams": "expand",
        "billing.MeterCreateParams": "customer_mapping default_aggregation display_name event_name "
        "event_time_window expand value_settings",
        "billing.MeterListParams": "ending_before expand limit starting_after status",
        "billing.MeterEventCreateParams": "event_name expand identifier payload timestamp",
        "test_helpers.TestClockCreateParams": "expand frozen_time name",
        "test_helpers.TestClockAdvanceParams": "expand frozen_time",
        "CustomerCreateParams": "address balance description email expand invoice_settings metadata name "
        "payment_method phone test_clock",
        "SubscriptionCreateParams": "customer default_payment_method expand items metadata payment_behavior "
        "trial_period_days",
        "InvoiceCreatePreviewParams": "customer expand subscription",
        "InvoiceListParams": "customer ending_before expand limit starting_after status subscription",
        "ProductUpdateParams": "active default_price description expand images marketing_features metadata "
        "name package_dimensions shippable statement_descriptor tax_code tax_details unit_label url",
        "SubscriptionListParams": "automatic_tax collection_method created current_period_end "
        "current_period_start customer customer_account ending_before expand limit plan price starting_after "
        "status test_clock",
        "InvoicePaymentListParams": "created ending_before expand invoice limit payment starting_after status",
        "PaymentIntentRetrieveParams": "client_secret expand",
        "test_helpers.TestClockListParams": "ending_before expand limit starting_after",
    }.items()
}


def check_known(params: Mapping[str, Any], params_class: str) -> None:
    """Refuse any parameter the SDK does not know for this endpoint, and missing required ones."""
    typed_dict = _params_class(params_class)
    if typed_dict is not None:
        try:
            _fields(typed_dict)
        except Exception:  # introspection is best effort; the hand list below still guards typos
            typed_dict = None
    if typed_dict is not None:
        _walk(params, typed_dict, "")
        return
    known = _FALLBACK.get(params_class)
    if known is not None:
        for key in params:
            if key not in known:
                raise unknown_param(key)


def refuse_unmodelled(params: Mapping[str, Any], modelled: frozenset[str], prefix: str = "") -> None:
    """Refuse a parameter Stripe accepts but the sandbox does not act on: ignoring it would let a test pass
    against behaviour Stripe does not have (call after `check_known`, which refuses the ones Stripe lacks)."""
    for key in sorted(params):
        if key not in modelled:
            label = _label(prefix, key)
            raise invalid(
                f"The local Stripe sandbox does not model `{label}` (Stripe accepts it): leave it out here, or try "
                "it in Stripe's test mode.",
                label,
            )


# ---- typed readers: Stripe's wording for malformed values ----


def text(params: Mapping[str, Any], key: str, param: str | None = None) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {value!r}", param or key, "parameter_invalid_string")
    return value


def integer(params: Mapping[str, Any], key: str, param: str | None = None) -> int | None:
    value = text(params, key, param)
    if value is None:
        return None
    if not re.fullmatch(r"-?\d{1,18}", value):
        raise invalid(f"Invalid integer: {value}", param or key, "parameter_invalid_integer")
    return int(value)


def decimal(params: Mapping[str, Any], key: str, param: str | None = None) -> Decimal | None:
    value = text(params, key, param)
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    exponent = number.as_tuple().exponent
    if not number.is_finite() or (isinstance(exponent, int) and exponent < -12) or number < 0:
        raise invalid(f"Invalid decimal: {value}", param or key, "parameter_invalid_decimal")
    return number


def boolean(params: Mapping[str, Any], key: str, param: str | None = None) -> bool | None:
    value = text(params, key, param)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid(f"Invalid boolean: {value}", param or key)
    return value == "true"


def mapping(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid hash: {key}", key, "parameter_invalid_hash")
    return value


def choice(params: Mapping[str, Any], key: str, options: tuple[str, ...], param: str | None = None) -> str | None:
    value = text(params, key, param)
    if value is not None and value not in options:
        wanted = ", ".join(f"`{option}`" for option in options)
        raise invalid(f"Invalid {param or key}: must be one of {wanted}", param or key)
    return value
