"""Webhook endpoints (`/v1/webhook_endpoints`), one set per mode, as Stripe keeps and validates them.

The sandbox sends no events: an endpoint is configuration that a readiness check reads back.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import typing
from typing import Any
from urllib.parse import urlsplit

from portal_tui.sandbox.catalog import _apply_metadata, _metadata
from portal_tui.sandbox.errors import ApiError, invalid, missing_param
from portal_tui.sandbox.params import _params_class, boolean, check_known, text
from portal_tui.sandbox.store import Obj, World, page

# The events a subscription business needs delivered (what `Sandbox.make_live_ready` subscribes its endpoint to)
READINESS_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)
MAX_ENDPOINTS = 16  # Stripe's limit of webhook endpoints per account and mode
_SECRET = "_secret"


def _literals(annotation: Any) -> list[str]:
    found: list[str] = []
    for arg in typing.get_args(annotation):
        if isinstance(arg, str):
            found.append(arg)
        else:
            found.extend(_literals(arg))
    return found


@functools.cache
def _options(params_class: str, name: str) -> frozenset[str]:
    """The values the SDK's param types allow for `name` (event types, API versions); empty if unknown."""
    typed_dict = _params_class(params_class)
    if typed_dict is None:
        return frozenset()
    annotation = typed_dict.__annotations__.get(name)
    return frozenset(_literals(annotation)) if annotation is not None else frozenset()


def _events(params: dict[str, Any], params_class: str) -> list[str]:
    raw = params.get("enabled_events")
    if raw is None or raw == "" or raw == []:
        raise missing_param("enabled_events")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise invalid("Invalid array", "enabled_events", "parameter_invalid_array")
    options = _options(params_class, "enabled_events")
    events: list[str] = []
    for index, event in enumerate(raw):
        if not isinstance(event, str):
            raise invalid("Invalid string", f"enabled_events[{index}]", "parameter_invalid_string")
        if options and event not in options:
            wanted = ", ".join(sorted(options))
            raise invalid(f"Invalid enabled_events[{index}]: must be one of {wanted}", f"enabled_events[{index}]")
        if event not in events:
            events.append(event)
    return events


def _url(world: World, params: dict[str, Any]) -> str:
    url = text(params, "url")
    if not url:
        raise missing_param("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f'Invalid URL: {url}. URLs must begin with "http://" or "https://"', "url", "url_invalid")
    if world.livemode and parts.scheme != "https":
        raise invalid(f'Invalid URL: {url}. URLs in livemode must begin with "https://"', "url", "url_invalid")
    host = parts.hostname
    try:
        private = not ipaddress.ip_address(host).is_global
    except ValueError:
        private = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    if private:
        raise invalid(
            "Invalid URL: URL must be publicly accessible. Consider using a tool like the Stripe CLI to test "
            "webhooks locally: https://github.com/stripe/stripe-cli",
            "url",
            "url_invalid",
        )
    return url


def render_endpoint(endpoint: Obj) -> Obj:
    """An endpoint as retrieve/list/update show it: the signing secret only ever comes with the create answer."""
    return {key: value for key, value in endpoint.items() if not key.startswith("_")}


def create_endpoint(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "WebhookEndpointCreateParams")
    url = _url(world, params)
    events = _events(params, "WebhookEndpointCreateParams")
    if boolean(params, "connect"):
        raise invalid(
            "The local Stripe sandbox does not model `connect` (Stripe accepts it): leave it out here, or try it in "
            "Stripe's test mode.",
            "connect",
        )
    api_version = text(params, "api_version")
    if api_version is not None and api_version not in _options("WebhookEndpointCreateParams", "api_version"):
        raise invalid(f"Invalid API version: {api_version}", "api_version")
    description = text(params, "description") or None
    metadata = _apply_metadata({}, _metadata(params), clear=True) if "metadata" in params else {}
    if len(world.objects["webhook_endpoint"]) >= MAX_ENDPOINTS:
        mode = "live" if world.livemode else "test"
        raise ApiError(
            400,
            f"You have reached the maximum of {MAX_ENDPOINTS} webhook endpoints in {mode} mode. Delete an endpoint "
            "you no longer use before adding another.",
        )
    endpoint = world.add(
        "webhook_endpoint",
        {
            "api_version": api_version,
            "application": None,
            "description": description,
            "enabled_events": events,
            "metadata": metadata,
            "status": "enabled",
            "url": url,
            _SECRET: "whsec_" + secrets.token_hex(16),
        },
    )
    return {**render_endpoint(endpoint), "secret": endpoint[_SECRET]}


def retrieve_endpoint(world: World, endpoint_id: str) -> Obj:
    return render_endpoint(world.get("webhook_endpoint", endpoint_id))


def update_endpoint(world: World, endpoint_id: str, params: dict[str, Any]) -> Obj:
    """All or nothing: every parameter is checked before the endpoint changes."""
    check_known(params, "WebhookEndpointUpdateParams")
    endpoint = world.get("webhook_endpoint", endpoint_id)
    changes: Obj = {}
    if "url" in params:
        changes["url"] = _url(world, params)
    if "enabled_events" in params:
        changes["enabled_events"] = _events(params, "WebhookEndpointUpdateParams")
    disabled = boolean(params, "disabled")
    if disabled is not None:
        changes["status"] = "disabled" if disabled else "enabled"
    if "description" in params:
        changes["description"] = text(params, "description") or None
    if "metadata" in params:
        changes["metadata"] = _apply_metadata(endpoint["metadata"], _metadata(params), clear=params["metadata"] == "")
    endpoint.update(changes)
    return render_endpoint(endpoint)


def delete_endpoint(world: World, endpoint_id: str, params: dict[str, Any]) -> Obj:
    check_known(params, "WebhookEndpointDeleteParams")
    world.get("webhook_endpoint", endpoint_id)
    world.remove("webhook_endpoint", endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def list_endpoints(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "WebhookEndpointListParams")
    items = list(world.objects["webhook_endpoint"].values())
    return page(world, items, params, "/v1/webhook_endpoints", render_endpoint)
