"""The one seam to Stripe: typed calls through `stripe.StripeClient`, plain dicts out, app errors for failures.

This is the only module that imports `stripe`, and it does so lazily so the app's first frame never waits for it.
The real Stripe and the local sandbox sit behind the same class; only the base URL differs.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlparse

from portal_tui.domain.catalog import meter_create_params
from portal_tui.locations import API_BASE_ENV
from portal_tui.services.errors import (
    CardError,
    IdempotencyConflictError,
    InvalidKeyError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PortalError,
    RateLimitedError,
    StripeUnreachableError,
)
from portal_tui.services.keystore import SecretKey
from portal_tui.services.redact import redact

if TYPE_CHECKING:
    import stripe
    from stripe.params import PriceListParams

T = TypeVar("T")
STRIPE_API = "https://api.stripe.com"
PAGE_SIZE = 100
# currency_options: a multi-currency price's other amounts (its own tiers per currency come from `with_currency_tiers`)
CATALOG_EXPAND = ["data.product", "data.tiers", "data.currency_options"]
LOOKUP_KEYS_PER_REQUEST = 10  # Stripe's limit on a price list's `lookup_keys`
_PERMISSION = re.compile(r"'(rak_[a-z_]+)'")


def new_idempotency_key(action: str) -> str:
    """One key per user action; a retry of the same action reuses it, so Stripe replays instead of duplicating."""
    return f"portal-tui-{action}-{uuid.uuid4()}"


@dataclass(frozen=True)
class AccountInfo:
    """Who the key belongs to, as the Connect screen shows it."""

    id: str
    display_name: str
    country: str | None
    default_currency: str | None
    livemode: bool
    restricted: bool = False


def _plain(obj: Any) -> Any:
    """Stripe objects to plain JSON dicts and lists, shaped as the API sends them (decimals stay strings, as in the
    raw catalog pages), so callers see one shape whichever call produced the object."""
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict(recursive=True, for_json=True)
    if isinstance(obj, list):
        return [_plain(item) for item in obj]
    return obj


class StripeGateway:
    """Everything the screens ask of Stripe. Every failure is raised as a `PortalError` without the key in it."""

    def __init__(
        self,
        key: SecretKey,
        *,
        api_base: str | None = None,
        max_retries: int = 2,
        timeout: float = 20.0,
        retry_delay: float = 0.5,
        rate_limit_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.api_base = (api_base or os.environ.get(API_BASE_ENV) or STRIPE_API).rstrip("/")
        self.max_retries = max_retries
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.rate_limit_retries = rate_limit_retries
        self._sleep = sleep
        self._count_lock = threading.Lock()
        self.request_count = 0
        self._client: stripe.StripeClient | None = None

    @property
    def livemode(self) -> bool:
        return self.key.mode == "live"

    @property
    def is_stripe(self) -> bool:
        """True for Stripe's own API; False for another base URL (the local sandbox)."""
        return self.api_base == STRIPE_API

    @property
    def host(self) -> str:
        return urlparse(self.api_base).netloc or self.api_base

    # ---- the client -------------------------------------------------------------------------------------------

    def _count(self) -> None:
        with self._count_lock:
            self.request_count += 1

    @property
    def client(self) -> stripe.StripeClient:
        if self._client is None:
            import stripe

            gateway = self

            class CountingClient(stripe.RequestsClient):
                """Counts every HTTP attempt (retries included) and keeps retry back-off configurable."""

                def request(self, *args: Any, **kwargs: Any) -> Any:
                    gateway._count()
                    return super().request(*args, **kwargs)

                def _sleep_time_seconds(self, num_retries: int) -> float:
                    return float(min(gateway.retry_delay * (2 ** (num_retries - 1)), 5.0))

            base = None if self.api_base == STRIPE_API else {"api": self.api_base}
            self._client = stripe.StripeClient(
                self.key.reveal(),
                base_addresses=cast("Any", base),
                max_network_retries=self.max_retries,
                http_client=CountingClient(timeout=self.timeout),
            )
        return self._client

    def rate_limit_delay(self, attempt: int) -> float:
        """Back-off before rate-limit retry `attempt` (1, 2, …): exponential, capped, with jitter so that
        several workers refused at the same moment do not come back at the same moment."""
        base = min(self.retry_delay * 2.0 ** (attempt - 1), 8.0)
        return base * random.uniform(0.5, 1.0)

    def _call(self, action: Callable[[], T]) -> T:
        """Run one SDK call, turning Stripe's exceptions into PortalErrors (never chained: no key in tracebacks).

        The SDK retries only what Stripe marks retryable (5xx, lock timeouts, dropped connections); a plain
        rate-limit 429 is not, so it is retried here. A 429 means the request was not executed: retrying is safe.
        """
        import stripe

        attempt = 0
        while True:
            try:
                return action()
            except stripe.RateLimitError:
                if attempt < self.rate_limit_retries:
                    attempt += 1
                    self._sleep(self.rate_limit_delay(attempt))
                    continue
                error: PortalError = RateLimitedError()
            except stripe.StripeError as exc:
                error = self._translate(exc)
            raise error from None

    def _translate(self, exc: Exception) -> PortalError:
        """The app error for one of Stripe's exceptions, its message redacted."""
        import stripe

        if isinstance(exc, stripe.AuthenticationError):
            return InvalidKeyError()
        if isinstance(exc, stripe.PermissionError):
            message = redact(str(exc.user_message or ""))
            match = _PERMISSION.search(message)
            return PermissionDeniedError(
                f"The restricted key {self.key.masked} may not do this: {message}" if message else None,
                permission=match.group(1) if match else None,
            )
        if isinstance(exc, stripe.IdempotencyError):
            # Stripe's own words name the raw idempotency key and suggest using another: nothing a person can do
            return IdempotencyConflictError()
        if isinstance(exc, stripe.CardError):
            # the bank's reason (insufficient_funds, ...) when Stripe gives one, else the error code (expired_card)
            decline = getattr(exc.error, "decline_code", None) if exc.error is not None else None
            message = redact(str(exc.user_message or "The card was declined."))
            return CardError(message, decline_code=str(decline or exc.code or "card_declined"))
        if isinstance(exc, stripe.InvalidRequestError):
            message = redact(str(exc.user_message or "Stripe refused the request."))
            if exc.code == "resource_missing" or exc.http_status == 404:
                return NotFoundError(message, param=exc.param)
            return InvalidRequestError(message, param=exc.param)
        if isinstance(exc, stripe.APIConnectionError):
            return StripeUnreachableError(f"Stripe could not be reached at {self.host}.")
        status = getattr(exc, "http_status", None) or 0
        if status >= 500 or status == 0:
            return StripeUnreachableError(
                f"Stripe at {self.host} answered with an internal error ({status}) after retries."
            )
        user_message = getattr(exc, "user_message", None)
        return InvalidRequestError(redact(str(user_message or f"Stripe answered {status}.")))

    # ---- account ------------------------------------------------------------------------------------------

    def verify(self) -> AccountInfo:
        """Check the key against Stripe; restricted keys that may not read the account fall back to the balance."""
        try:
            account = self._call(lambda: _plain(self.client.v1.accounts.retrieve_current()))
        except PermissionDeniedError:
            balance = self._call(lambda: _plain(self.client.v1.balance.retrieve()))
            return AccountInfo(
                id="(restricted key)",
                display_name="Restricted key",
                country=None,
                default_currency=None,
                livemode=bool(balance.get("livemode", self.livemode)),
                restricted=True,
            )
        settings = account.get("settings") or {}
        profile = account.get("business_profile") or {}
        name = (
            (settings.get("dashboard") or {}).get("display_name")
            or profile.get("name")
            or account.get("email")
            or account["id"]
        )
        return AccountInfo(
            id=account["id"],
            display_name=str(name),
            country=account.get("country"),
            default_currency=account.get("default_currency"),
            livemode=self.livemode,
            restricted=self.key.restricted,
        )

    # ---- catalog ----------------------------------------------------------------------------------------------

    def iter_catalog_pages(self, *, include_archived: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Prices with product and tiers expanded, 100 per request, each page yielded as it arrives.

        Pages are read with the client's raw request (same auth, retries, errors and typed params) and kept as
        parsed JSON: building SDK objects for 10,000 prices and converting them back costs ~4x the time.
        """
        params: PriceListParams = {"limit": PAGE_SIZE, "expand": list(CATALOG_EXPAND)}
        if not include_archived:
            params["active"] = True
        while True:
            response = self._call(lambda: self.client.raw_request("get", "/v1/prices", **params))
            body = cast("dict[str, Any]", response.data)
            items = cast("list[dict[str, Any]]", body.get("data") or [])
            if items:
                yield [self.with_currency_tiers(item) for item in items]
            if not body.get("has_more") or not items:
                return
            params["starting_after"] = items[-1]["id"]

    def retrieve_price(self, price_id: str, *, expand: Sequence[str] = ()) -> dict[str, Any]:
        """The price with tiers, product and currency_options expanded (a tiered one's tiers per currency too), and
        whatever else `expand` names."""
        fields = list(dict.fromkeys(["tiers", "product", "currency_options", *expand]))
        params: dict[str, Any] = {"expand": fields}
        price = cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.prices.retrieve(price_id, params=cast("Any", params)))),
        )
        return self.with_currency_tiers(price, fields)

    def with_currency_tiers(
        self, price: dict[str, Any], expand: Sequence[str] = ("tiers", "product")
    ) -> dict[str, Any]:
        """A tiered multi-currency price again with each currency's tiers: Stripe returns them only when expanded
        by name (`currency_options.eur.tiers`), and the names are known only once the price is read. One more
        request per such price; every other price comes back as it is."""
        options = price.get("currency_options")
        if price.get("billing_scheme") != "tiered" or not isinstance(options, dict) or len(options) < 2:
            return price
        if all("tiers" in option for option in options.values() if isinstance(option, dict)):
            return price
        fields = [*expand, "currency_options", *(f"currency_options.{code}.tiers" for code in sorted(options))]
        params: dict[str, Any] = {"expand": list(dict.fromkeys(fields))}
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.prices.retrieve(str(price["id"]), params=cast("Any", params)))),
        )

    def find_price_by_lookup_key(self, lookup_key: str) -> dict[str, Any] | None:
        page = self._call(
            # archived prices keep their lookup key on Stripe: only an active one is "the price for this key"
            lambda: self.client.v1.prices.list(
                params={"lookup_keys": [lookup_key], "active": True, "expand": CATALOG_EXPAND}
            )
        )
        return self.with_currency_tiers(_plain(page.data[0])) if page.data else None

    def find_lookup_key_holder(self, lookup_key: str) -> dict[str, Any] | None:
        """The price holding `lookup_key`, active or archived: Stripe keeps keys on archived prices and refuses a
        new price with a held key unless it is transferred (one request: a key has at most one holder)."""
        page = self._call(lambda: self.client.v1.prices.list(params={"lookup_keys": [lookup_key], "limit": 1}))
        return _plain(page.data[0]) if page.data else None

    def list_prices_by_lookup_keys(self, lookup_keys: Iterable[str]) -> list[dict[str, Any]]:
        """The prices holding these lookup keys, active or archived (a key has at most one holder), with product and
        tiers expanded: one request per 10 keys (Stripe's limit on `lookup_keys`)."""
        keys = list(dict.fromkeys(lookup_keys))
        found: list[dict[str, Any]] = []

        def batch_of(batch: list[str]) -> list[dict[str, Any]]:
            params: dict[str, Any] = {"lookup_keys": batch, "limit": PAGE_SIZE, "expand": list(CATALOG_EXPAND)}
            page = self._call(lambda: self.client.v1.prices.list(params=cast("Any", params)))
            return [self.with_currency_tiers(_plain(item)) for item in page.data]

        for start in range(0, len(keys), LOOKUP_KEYS_PER_REQUEST):
            found.extend(batch_of(keys[start : start + LOOKUP_KEYS_PER_REQUEST]))
        return found

    def retrieve_meter(self, meter_id: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self._call(lambda: _plain(self.client.v1.billing.meters.retrieve(meter_id))))

    def update_product(self, product_id: str, params: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.products.update(
                        product_id, params=cast("Any", dict(params)), options={"idempotency_key": idempotency_key}
                    )
                )
            ),
        )

    def list_products(self, *, active: bool | None = True) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if active is not None:
            params["active"] = active
        found: list[dict[str, Any]] = []
        while True:
            page = self._call(lambda: self.client.v1.products.list(params=cast("Any", dict(params))))
            found.extend(_plain(item) for item in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = found[-1]["id"]

    def create_product(
        self,
        name: str,
        description: str | None,
        *,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name}
        if description:
            params["description"] = description
        if metadata:
            params["metadata"] = dict(metadata)
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.products.create(
                        params=cast("Any", params), options={"idempotency_key": idempotency_key}
                    )
                )
            ),
        )

    def create_price(self, params: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        body = {**params, "expand": ["tiers", "product"]}
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.prices.create(params=cast("Any", body), options={"idempotency_key": idempotency_key})
                )
            ),
        )

    def update_price(
        self, price_id: str, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.prices.update(
                        price_id, params=cast("Any", dict(params)), options=cast("Any", options)
                    )
                )
            ),
        )

    # ---- meters -----------------------------------------------------------------------------------------------

    def list_meters(self) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": PAGE_SIZE, "status": "active"}
        found: list[dict[str, Any]] = []
        while True:
            page = self._call(lambda: self.client.v1.billing.meters.list(params=cast("Any", dict(params))))
            found.extend(_plain(item) for item in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = found[-1]["id"]

    def create_meter(
        self,
        display_name: str,
        event_name: str,
        aggregation: str,
        customer_key: str = "stripe_customer_id",
        value_key: str = "value",
        *,
        idempotency_key: str,
    ) -> dict[str, Any]:
        params = meter_create_params(display_name, event_name, aggregation, customer_key, value_key)
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.billing.meters.create(
                        params=cast("Any", params), options={"idempotency_key": idempotency_key}
                    )
                )
            ),
        )

    def send_meter_event(
        self,
        event_name: str,
        customer_id: str,
        value: int,
        *,
        timestamp: int | None = None,
        identifier: str | None = None,
        customer_key: str = "stripe_customer_id",
        value_key: str = "value",
    ) -> dict[str, Any]:
        """One meter event; the payload keys are the meter's own (`customer_mapping.event_payload_key`,
        `value_settings.event_payload_key`): Stripe accepts an event under other keys and drops it later."""
        params: dict[str, Any] = {
            "event_name": event_name,
            "payload": {customer_key: customer_id, value_key: str(value)},
        }
        if timestamp is not None:
            params["timestamp"] = timestamp
        if identifier is not None:
            params["identifier"] = identifier
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.billing.meter_events.create(params=cast("Any", params)))),
        )

    # ---- test-mode helpers (the walkthrough) -------------------------------------------------------------------

    def create_test_clock(self, frozen_time: int, name: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """With an explicit idempotency key, replaying the same call returns the clock a lost response created."""
        params: dict[str, Any] = {"frozen_time": frozen_time, "name": name[:300]}
        options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.test_helpers.test_clocks.create(
                        params=cast("Any", params), options=cast("Any", options)
                    )
                )
            ),
        )

    def list_test_clocks(self) -> list[dict[str, Any]]:
        """The account's test clocks (newest first, at most 100): to find one by its unique name."""
        page = self._call(lambda: self.client.v1.test_helpers.test_clocks.list(params={"limit": PAGE_SIZE}))
        return [_plain(item) for item in page.data]

    def advance_test_clock(self, clock_id: str, frozen_time: int) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self._call(
                lambda: _plain(
                    self.client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": frozen_time})
                )
            ),
        )

    def retrieve_test_clock(self, clock_id: str) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.test_helpers.test_clocks.retrieve(clock_id))),
        )

    def delete_test_clock(self, clock_id: str) -> None:
        self._call(lambda: self.client.v1.test_helpers.test_clocks.delete(clock_id))

    def create_customer(self, *, name: str, email: str, payment_method: str, test_clock: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": name,
            "email": email,
            "payment_method": payment_method,
            "invoice_settings": {"default_payment_method": payment_method},
        }
        if test_clock:
            params["test_clock"] = test_clock
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.customers.create(params=cast("Any", params)))),
        )

    def create_subscription(
        self, customer_id: str, price_id: str, quantity: int | None, *, currency: str | None = None
    ) -> dict[str, Any]:
        """`currency`: bill in one of a multi-currency price's currencies (Stripe's default: the price's own)."""
        item: dict[str, Any] = {"price": price_id}
        if quantity is not None:
            item["quantity"] = quantity
        params: dict[str, Any] = {
            "customer": customer_id,
            "items": [item],
            "expand": ["latest_invoice"],
        }
        if currency is not None:
            params["currency"] = currency
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.subscriptions.create(params=cast("Any", params)))),
        )

    def preview_invoice(self, customer_id: str, subscription_id: str) -> dict[str, Any]:
        params = {"customer": customer_id, "subscription": subscription_id}
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.invoices.create_preview(params=cast("Any", params)))),
        )

    def list_invoices(self, *, customer_id: str, subscription_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"customer": customer_id, "limit": PAGE_SIZE}
        if subscription_id:
            params["subscription"] = subscription_id
        page = self._call(lambda: self.client.v1.invoices.list(params=cast("Any", params)))
        return [_plain(item) for item in page.data]

    def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self._call(lambda: _plain(self.client.v1.subscriptions.retrieve(subscription_id))),
        )

    def list_invoice_payments(self, invoice_id: str) -> list[dict[str, Any]]:
        """An invoice's payments with their PaymentIntents (status, `last_payment_error`): declined or 3-D Secure.

        Stripe exposes payments this way since 2025-03-31.basil (`invoice.payment_intent` is gone; `payments` is
        only included on request), and one list call with a 3-level expansion stays within Stripe's limit of 4.
        """
        params: dict[str, Any] = {"invoice": invoice_id, "limit": 10, "expand": ["data.payment.payment_intent"]}
        page = self._call(lambda: self.client.v1.invoice_payments.list(params=cast("Any", params)))
        return [_plain(item) for item in page.data]

    # ---- go-live readiness (read-only) ---------------------------------------------------------------------------

    def retrieve_account(self) -> dict[str, Any]:
        """The account as Stripe sends it (charges_enabled, details_submitted, payouts_enabled, settings, country).

        A restricted key without the account permission raises PermissionDeniedError naming it."""
        return cast("dict[str, Any]", self._call(lambda: _plain(self.client.v1.accounts.retrieve_current())))

    def list_webhook_endpoints(self) -> list[dict[str, Any]]:
        """Every webhook endpoint of the key's mode, all pages."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        found: list[dict[str, Any]] = []
        while True:
            page = self._call(lambda: self.client.v1.webhook_endpoints.list(params=cast("Any", dict(params))))
            found.extend(_plain(item) for item in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = found[-1]["id"]

    def retrieve_country_spec(self, country: str) -> dict[str, Any]:
        """What an account in `country` supports: `supported_payment_currencies` among others."""
        return cast("dict[str, Any]", self._call(lambda: _plain(self.client.v1.country_specs.retrieve(country))))
