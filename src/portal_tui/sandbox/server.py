"""The sandbox's HTTP side: Stripe's auth, routing, idempotency keys, recorded requests and injected faults."""

from __future__ import annotations

import base64
import calendar
import contextlib
import hashlib
import json
import random
import re
import selectors
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Literal, cast
from urllib.parse import urlsplit

from portal_tui.sandbox import billing, catalog, webhooks
from portal_tui.sandbox.account import ACCOUNT_ID, AccountSettings, country_spec, render_account
from portal_tui.sandbox.errors import ApiError
from portal_tui.sandbox.params import decode
from portal_tui.sandbox.store import Obj, World, check_expansions, expansions

# Built from parts so secret scanners do not take these obviously fake keys for leaked ones.
DEMO_KEY = "sk_test_" + "PortalTuiDemo" + "0" * 36 + "1"
DEMO_LIVE_KEY = "sk_live_" + "PortalTuiDemo" + "0" * 36 + "1"
# One account, two modes: on Stripe the account id is the same whichever key reads it.
TEST_ACCOUNT = LIVE_ACCOUNT = ACCOUNT_ID
_KEY = re.compile(r"^(sk|rk|pk)_(test|live)_[A-Za-z0-9_]{8,}$")
FaultKind = Literal["500", "429", "lock_timeout", "drop", "latency", "gate"]
RANDOM_KINDS = ("429", "500", "drop", "lock_timeout")  # what `FaultPlan.randomly` injects
RANDOM_NAMES = ("429", "500", "reset", "lock_timeout")  # how the command line names them ("drop" works too)
GATE_LIMIT = 30.0  # a gate nobody opens lets its request through after this many seconds (no hung test)


class _Server(ThreadingHTTPServer):
    """The HTTP server, stopped at once: `serve_forever` notices a shutdown only at its next poll (every 0.5 s by
    default), and a test session starts and stops hundreds of sandboxes. Here `stop()` wakes the loop through a
    socket pair instead, and returns once the loop has ended and the port is closed."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._serving: int | None = None  # the serving thread's ident

    def serve_until_stopped(self) -> None:
        self._serving = threading.get_ident()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stopping.is_set():
                    for key, _events in selector.select():
                        if key.fileobj is self and not self._stopping.is_set():
                            self.handle_request()  # ready: it accepts without waiting
        finally:
            self.server_close()
            self._wake_reader.close()
            self._stopped.set()

    def stop(self) -> None:
        """End `serve_until_stopped` (from another thread, or from a handler of this server: then without waiting)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        if self._serving != threading.get_ident():
            self._stopped.wait(timeout=5)
        self._wake_writer.close()


@dataclass
class RecordedRequest:
    """One request as the sandbox received it (the API key is never recorded)."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int = 0
    livemode: bool | None = None  # the mode the key opened; None when the key was refused (nothing reached a world)
    received: float = field(default_factory=time.monotonic)  # when it arrived (gaps between retries, not latency)


@dataclass
class Fault:
    method: str | None
    path: str | None
    kind: FaultKind
    times: int
    delay: float
    when: Literal["before", "after"]
    # kind "gate": the request waits until the test calls `release()`; `reached` is set once one is waiting
    reached: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.opened.set()

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


@dataclass
class FaultPlan:
    """Faults to inject on chosen requests: latency, 429, 500, or a dropped connection, before or after handling.

    "429" is Stripe's rate limit, which carries no `Stripe-Should-Retry` header, so the SDK does not retry it;
    "lock_timeout" is the 429 Stripe sends when an object is locked, with `Stripe-Should-Retry: true`.
    "gate" holds the request until the test calls the fault's `release()` (`reached` tells it one is held), so a
    test can act while a request is in flight without guessing a latency.
    """

    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Random faults (`randomly`): kind -> probability per request, drawn from one seeded generator
    rates: dict[str, float] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    injected: dict[str, int] = field(default_factory=dict)  # random faults injected so far, by kind

    def randomly(self, rates: Mapping[str, float], *, seed: int | None = None) -> None:
        """Inject faults at random on every request: `{"429": 0.1, "500": 0.05, "drop": 0.02}` (probabilities per
        request; "reset" is another name for "drop"). A "500" or a "drop" strikes before the request runs or after
        it ran (the answer lost: the client must retry with the same idempotency key); a "429" always before (Stripe
        refuses a rate-limited request unexecuted). `seed` makes the sequence repeatable; empty rates turn it off."""
        clean: dict[str, float] = {}
        for name, rate in rates.items():
            kind = "drop" if name == "reset" else name
            if kind not in RANDOM_KINDS:
                raise ValueError(f"unknown fault {name!r}: use {', '.join(RANDOM_NAMES)}")
            if not 0 <= rate <= 1:
                raise ValueError(f"fault rate for {name} must lie between 0 and 1")
            clean[kind] = clean.get(kind, 0.0) + float(rate)
        if sum(clean.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        with self.lock:
            self.rates = clean
            self.rng = random.Random(seed)
            self.injected = {}

    def _draw(self, when: str) -> Fault | None:
        """One random fault for a request at its `before` point (decides before/after for it too)."""
        roll = self.rng.random()
        for kind, rate in self.rates.items():
            if roll < rate:
                after = kind in ("500", "drop") and self.rng.random() < 0.5
                self.injected[kind] = self.injected.get(kind, 0) + 1
                return Fault(None, None, cast("FaultKind", kind), 1, 0.0, "after" if after else "before")
            roll -= rate
        return None

    def add(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        kind: FaultKind = "500",
        times: int = 1,
        delay: float = 0.0,
        when: Literal["before", "after"] = "before",
    ) -> Fault:
        fault = Fault(method, path, kind, times, delay, when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take(self, method: str, path: str, when: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.when == when and fault.matches(method, path):
                    fault.times -= 1
                    return fault
            if when == "before" and self.rates:
                return self._draw(when)
        return None

    def release_all(self) -> None:
        with self.lock:
            for fault in self.faults:
                fault.release()

    def clear(self) -> None:
        self.release_all()  # nothing stays blocked on a gate that was cleared
        with self.lock:
            self.faults.clear()


Route = tuple[str, re.Pattern[str], str | None, Callable[..., Obj], frozenset[str]]

# Restricted-key markers: a restricted key (rk_…) whose text holds the marker lacks the permission for the paths
# (exact, or a prefix when ending in "*"), and gets Stripe's 403 naming it: (marker, path, read permission, write one).
KEY_PERMISSIONS: tuple[tuple[str, str, str, str], ...] = (
    ("restricted", "/v1/account", "rak_accounts_kyc_basic_read", "rak_accounts_kyc_basic_read"),
    ("nowebhooks", "/v1/webhook_endpoints*", "rak_webhook_read", "rak_webhook_write"),
)

_PRICE = frozenset({"product", "tiers", "currency_options", "currency_options.*.tiers"})
_PRODUCT = catalog.PRODUCT_EXPANDABLE
_SUBSCRIPTION = billing.SUBSCRIPTION_EXPANDABLE
# What each route can expand, as Stripe spells it (lists expand inside `data.`). Anything else is refused as
# Stripe refuses it, rather than silently left as an id the caller then trips over.
EXPANDABLE: dict[tuple[str, str], frozenset[str]] = {
    ("POST", r"/v1/products"): _PRODUCT,
    ("GET", r"/v1/products"): frozenset(f"data.{name}" for name in _PRODUCT),
    ("GET", r"/v1/products/(?P<id>[^/]+)"): _PRODUCT,
    ("POST", r"/v1/products/(?P<id>[^/]+)"): _PRODUCT,
    ("POST", r"/v1/prices"): _PRICE,
    ("GET", r"/v1/prices"): frozenset(f"data.{name}" for name in _PRICE),
    ("GET", r"/v1/prices/(?P<id>[^/]+)"): _PRICE,
    ("POST", r"/v1/prices/(?P<id>[^/]+)"): _PRICE,
    ("POST", r"/v1/subscriptions"): _SUBSCRIPTION,
    ("GET", r"/v1/subscriptions"): frozenset(f"data.{name}" for name in _SUBSCRIPTION),
    ("GET", r"/v1/subscriptions/(?P<id>[^/]+)"): _SUBSCRIPTION,
    ("POST", r"/v1/subscriptions/(?P<id>[^/]+)"): _SUBSCRIPTION,
    ("DELETE", r"/v1/subscriptions/(?P<id>[^/]+)"): _SUBSCRIPTION,
    ("GET", r"/v1/invoice_payments"): frozenset(f"data.{name}" for name in billing.INVOICE_PAYMENT_EXPANDABLE),
    ("GET", r"/v1/payment_intents/(?P<id>[^/]+)"): billing.PAYMENT_INTENT_EXPANDABLE,
}


def _add_interval(start: int, interval: str, count: int) -> int:
    """`start` plus `count` intervals, months and years on the calendar (the day clamped to the month's end)."""
    if interval in ("day", "week"):
        return start + count * (86_400 if interval == "day" else 7 * 86_400)
    moment = datetime.fromtimestamp(start, tz=UTC)
    months = moment.month - 1 + count * (12 if interval == "year" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def _within_two_intervals(world: World, clock_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Stripe advances a test clock at most two intervals of its shortest subscription at a time; refuse beyond."""
    clock = world.objects["test_helpers.test_clock"].get(clock_id)
    raw = params.get("frozen_time")
    if clock is None or not isinstance(raw, str) or not raw.isdigit():
        return params  # missing or malformed: the clock endpoint itself refuses it in Stripe's words
    target = int(raw)
    start = int(clock["frozen_time"])
    customers = {c["id"] for c in world.objects["customer"].values() if c.get("test_clock") == clock_id}
    limits = [
        (_add_interval(start, recurring["interval"], 2 * int(recurring["interval_count"])), recurring)
        for sub in world.objects["subscription"].values()
        if sub["customer"] in customers and sub["status"] not in billing.ENDED
        for item in sub["items"]["data"]
        if isinstance(item.get("price"), dict) and (recurring := item["price"].get("recurring"))
    ]
    if limits:
        limit, recurring = min(limits, key=lambda pair: pair[0])
        if target > limit:
            count, interval = int(recurring["interval_count"]), recurring["interval"]
            raise ApiError(
                400,
                "Cannot advance a test clock more than two intervals of its shortest subscription interval "
                f"({count} {interval}{'s' if count > 1 else ''}) at a time: the furthest this clock can go is {limit}.",
                param="frozen_time",
            )
    return params


def _mask(key: str) -> str:
    return key[:8] + "*" * 12 + key[-4:] if len(key) > 12 else "*" * len(key)


class Sandbox:
    """A local server that speaks Stripe's API for every call portal-tui makes, on 127.0.0.1."""

    # Called with every request and the body of each successful (200) answer, by every sandbox in the process:
    # an opt-in hook (tests/conftest.py collects the bodies a test session sees for the conformance test).
    observers: ClassVar[list[Callable[[RecordedRequest, Obj], None]]] = []

    def __init__(
        self,
        *,
        port: int = 0,
        seed: bool = False,
        latency: float = 0.0,
        live: bool = False,
        meter_event_lag: float = 0.0,
    ) -> None:
        self.port = port
        self.latency = latency
        self.live = live
        self.requests: list[RecordedRequest] = []
        self.faults = FaultPlan()
        self.invoice_skew = 0
        self.worlds = {False: World(livemode=False), True: World(livemode=True)}
        self.worlds[False].sibling, self.worlds[True].sibling = self.worlds[True], self.worlds[False]
        # The account both modes share (readiness fields tests change), and currencies left out of every country
        # spec's supported_payment_currencies (to make a currency unchargeable).
        self.account = AccountSettings()
        self.unsupported_currencies: set[str] = set()
        self.meter_event_lag = meter_event_lag
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: list[Route] = self._routes()
        if seed:
            self.seed_catalog()

    @property
    def meter_event_lag(self) -> float:
        """Seconds (wall clock) before a meter event counts in usage, in both modes: Stripe aggregates meter
        events asynchronously, so an invoice preview right after `meter_events.create` may not include them yet.
        0 (the default) counts every event at once."""
        return self.worlds[False].meter_event_lag

    @meter_event_lag.setter
    def meter_event_lag(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("meter_event_lag must be 0 or more seconds")
        for world in self.worlds.values():
            world.meter_event_lag = float(seconds)

    # ---- lifecycle -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Sandbox:
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_until_stopped, name="stripe-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.faults.release_all()  # a request held at a gate must not keep the server from closing
        # `portal-tui sandbox` stops it from its own thread too: whoever comes second must find nothing to close
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread (for `portal-tui sandbox`)."""
        handler = type("Handler", (_Handler,), {"sandbox": self})
        server = self._server = _Server(("127.0.0.1", self.port), handler)
        server.serve_until_stopped()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- data helpers for tests and the demo ------------------------------------------------------------------

    @property
    def test_world(self) -> World:
        return self.worlds[False]

    @property
    def live_world(self) -> World:
        return self.worlds[True]

    @property
    def live_account(self) -> AccountSettings:
        """The account a live key reads: the same object as `account` (on Stripe one account has both modes)."""
        return self.account

    def account_settings(self, live: bool = True) -> AccountSettings:
        """The account settings `GET /v1/account` renders in either mode (one object for both, as on Stripe)."""
        return self.account

    def seed_catalog(self) -> None:
        """The demo catalog in the test world; in the live world too when the sandbox was made with `live=True`."""
        from portal_tui.sandbox.seed import seed_catalog

        with self._lock:
            seed_catalog(self.worlds[False])
            if self.live:
                seed_catalog(self.worlds[True])

    def make_live_ready(self, *, webhook: bool = True) -> dict[str, Any] | None:
        """Everything a launch check asks of the live account: charges, payouts and details on, a statement
        descriptor, and (unless `webhook=False`) an enabled live endpoint receiving the subscription and invoice
        events (`webhooks.READINESS_EVENTS`). Returns that endpoint as its create call answers (with `secret`)."""
        with self._lock:
            self.account.make_ready()
            if not webhook:
                return None
            return webhooks.create_endpoint(
                self.worlds[True],
                {"url": "https://hosting.example/stripe/webhooks", "enabled_events": list(webhooks.READINESS_EVENTS)},
            )

    def writes(self, live: bool | None = None) -> int:
        """POST and DELETE requests that reached a world (the key was accepted), in both modes or only `live`'s."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.method in ("POST", "DELETE") and r.livemode is not None and (live is None or r.livemode is live)
            )

    def bulk_prices(self, n: int, *, live: bool = False) -> None:
        from portal_tui.sandbox.seed import bulk_prices

        with self._lock:
            bulk_prices(self.worlds[live], n)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    # ---- routing ---------------------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        table: list[tuple[str, str, str | None, Callable[..., Obj]]] = [
            (
                "GET",
                r"/v1/account",
                "AccountRetrieveCurrentParams",
                lambda w, p, m, a: render_account(self.account, a),
            ),
            (
                "GET",
                r"/v1/country_specs/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: country_spec(m["id"], p, self.unsupported_currencies),
            ),
            ("POST", r"/v1/webhook_endpoints", None, lambda w, p, m, a: webhooks.create_endpoint(w, p)),
            ("GET", r"/v1/webhook_endpoints", None, lambda w, p, m, a: webhooks.list_endpoints(w, p)),
            (
                "GET",
                r"/v1/webhook_endpoints/(?P<id>[^/]+)",
                "WebhookEndpointRetrieveParams",
                lambda w, p, m, a: webhooks.retrieve_endpoint(w, m["id"]),
            ),
            (
                "POST",
                r"/v1/webhook_endpoints/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: webhooks.update_endpoint(w, m["id"], p),
            ),
            (
                "DELETE",
                r"/v1/webhook_endpoints/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: webhooks.delete_endpoint(w, m["id"], p),
            ),
            ("GET", r"/v1/balance", "BalanceRetrieveParams", lambda w, p, m, a: catalog.balance(w)),
            (
                "POST",
                r"/v1/products",
                None,
                lambda w, p, m, a: self._render_product(w, catalog.create_product(w, p), p),
            ),
            ("GET", r"/v1/products", None, lambda w, p, m, a: catalog.list_products(w, p)),
            (
                "GET",
                r"/v1/products/(?P<id>[^/]+)",
                "ProductRetrieveParams",
                lambda w, p, m, a: self._render_product(w, w.get("product", m["id"]), p),
            ),
            (
                "POST",
                r"/v1/products/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: self._render_product(w, catalog.update_product(w, m["id"], p), p),
            ),
            ("POST", r"/v1/prices", None, lambda w, p, m, a: self._render_price(w, catalog.create_price(w, p), p)),
            ("GET", r"/v1/prices", None, lambda w, p, m, a: catalog.list_prices(w, p)),
            (
                "GET",
                r"/v1/prices/(?P<id>[^/]+)",
                "PriceRetrieveParams",
                lambda w, p, m, a: self._render_price(w, w.get("price", m["id"]), p),
            ),
            (
                "POST",
                r"/v1/prices/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: self._render_price(w, catalog.update_price(w, m["id"], p), p),
            ),
            ("POST", r"/v1/billing/meters", None, lambda w, p, m, a: catalog.create_meter(w, p)),
            ("GET", r"/v1/billing/meters", None, lambda w, p, m, a: catalog.list_meters(w, p)),
            (
                "GET",
                r"/v1/billing/meters/(?P<id>[^/]+)",
                "billing.MeterRetrieveParams",
                lambda w, p, m, a: w.get("billing.meter", m["id"]),
            ),
            ("POST", r"/v1/billing/meter_events", None, lambda w, p, m, a: catalog.create_meter_event(w, p)),
            ("POST", r"/v1/test_helpers/test_clocks", None, lambda w, p, m, a: billing.create_clock(w, p)),
            ("GET", r"/v1/test_helpers/test_clocks", None, lambda w, p, m, a: billing.list_clocks(w, p)),
            (
                "GET",
                r"/v1/test_helpers/test_clocks/(?P<id>[^/]+)",
                "test_helpers.TestClockRetrieveParams",
                lambda w, p, m, a: billing.retrieve_clock(w, m["id"]),
            ),
            (
                "POST",
                r"/v1/test_helpers/test_clocks/(?P<id>[^/]+)/advance",
                None,
                lambda w, p, m, a: billing.advance_clock(
                    w, m["id"], _within_two_intervals(w, m["id"], p), self.invoice_skew
                ),
            ),
            (
                "DELETE",
                r"/v1/test_helpers/test_clocks/(?P<id>[^/]+)",
                "test_helpers.TestClockDeleteParams",
                lambda w, p, m, a: billing.delete_clock(w, m["id"]),
            ),
            ("POST", r"/v1/customers", None, lambda w, p, m, a: billing.create_customer(w, p)),
            ("GET", r"/v1/customers", None, lambda w, p, m, a: billing.list_customers(w, p)),
            (
                "GET",
                r"/v1/customers/(?P<id>[^/]+)",
                "CustomerRetrieveParams",
                lambda w, p, m, a: w.get("customer", m["id"]),
            ),
            (
                "POST",
                r"/v1/customers/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: billing.update_customer(w, m["id"], p),
            ),
            (
                "DELETE",
                r"/v1/customers/(?P<id>[^/]+)",
                "CustomerDeleteParams",
                lambda w, p, m, a: billing.delete_customer(w, m["id"]),
            ),
            ("GET", r"/v1/payment_methods", None, lambda w, p, m, a: billing.list_payment_methods(w, p)),
            (
                "GET",
                r"/v1/payment_methods/(?P<id>[^/]+)",
                "PaymentMethodRetrieveParams",
                lambda w, p, m, a: billing.retrieve_payment_method(w, m["id"]),
            ),
            (
                "POST",
                r"/v1/payment_methods/(?P<id>[^/]+)/attach",
                None,
                lambda w, p, m, a: billing.attach_payment_method(w, m["id"], p),
            ),
            (
                "POST",
                r"/v1/payment_methods/(?P<id>[^/]+)/detach",
                None,
                lambda w, p, m, a: billing.detach_payment_method(w, m["id"], p),
            ),
            (
                "POST",
                r"/v1/subscriptions",
                None,
                lambda w, p, m, a: billing.create_subscription(w, p, self.invoice_skew),
            ),
            ("GET", r"/v1/subscriptions", None, lambda w, p, m, a: billing.list_subscriptions(w, p)),
            (
                "GET",
                r"/v1/subscriptions/(?P<id>[^/]+)",
                "SubscriptionRetrieveParams",
                lambda w, p, m, a: billing.render_subscription(w, w.get("subscription", m["id"]), expansions(p)),
            ),
            (
                "POST",
                r"/v1/subscriptions/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: billing.update_subscription(w, m["id"], p),
            ),
            (
                "DELETE",
                r"/v1/subscriptions/(?P<id>[^/]+)",
                None,
                lambda w, p, m, a: billing.cancel_subscription(w, m["id"], p),
            ),
            (
                "POST",
                r"/v1/invoices/create_preview",
                None,
                lambda w, p, m, a: billing.create_preview(w, p, self.invoice_skew),
            ),
            ("GET", r"/v1/invoices", None, lambda w, p, m, a: billing.list_invoices(w, p)),
            (
                "GET",
                r"/v1/invoices/(?P<id>[^/]+)",
                "InvoiceRetrieveParams",
                lambda w, p, m, a: billing.retrieve_invoice(w, m["id"]),
            ),
            ("GET", r"/v1/invoice_payments", None, lambda w, p, m, a: billing.list_invoice_payments(w, p)),
            (
                "GET",
                r"/v1/payment_intents/(?P<id>[^/]+)",
                "PaymentIntentRetrieveParams",
                lambda w, p, m, a: billing.retrieve_payment_intent(w, m["id"], expansions(p)),
            ),
        ]
        return [
            (method, re.compile(pattern + "$"), params, fn, EXPANDABLE.get((method, pattern), frozenset()))
            for method, pattern, params, fn in table
        ]

    @staticmethod
    def _render_product(world: World, product: Obj, params: dict[str, Any]) -> Obj:
        return catalog.render_product(world, product, expansions(params))

    @staticmethod
    def _render_price(world: World, price: Obj, params: dict[str, Any]) -> Obj:
        return catalog.render_price(world, price, expansions(params))

    # ---- request handling ------------------------------------------------------------------------------------------

    def authenticate(self, header: str | None, path: str, method: str = "GET") -> tuple[World, str]:
        """The world the key opens, or Stripe's 401/403 refusal. Never echoes the whole key."""
        if not header:
            raise ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                type="invalid_request_error",
            )
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value).decode().partition(":")[0]
            except Exception:
                value = ""
        key = value.strip()
        if not _KEY.match(key):
            raise ApiError(401, f"Invalid API Key provided: {_mask(key)}", type="invalid_request_error")
        if key.startswith("pk_"):
            raise ApiError(
                401,
                "This API call cannot be made with a publishable API key. Please use a secret API key.",
                type="invalid_request_error",
            )
        live = "_live_" in key[:8]
        if "_revoked" in key:
            raise ApiError(401, f"Expired API Key provided: {_mask(key)}", type="invalid_request_error")
        if key.startswith("rk_"):
            for marker, pattern, read, write in KEY_PERMISSIONS:
                matches = path.startswith(pattern[:-1]) if pattern.endswith("*") else path == pattern
                if marker in key and matches:
                    permission = read if method == "GET" else write
                    raise ApiError(
                        403,
                        f"The provided key '{_mask(key)}' does not have the required permissions for this endpoint "
                        f"on account '{ACCOUNT_ID}'. Having the '{permission}' permission would allow this request "
                        "to continue.",
                        type="invalid_request_error",
                        code=None,
                    )
        if live and path.startswith("/v1/test_helpers"):
            raise ApiError(400, "Test clocks are only available in test mode.", code="livemode_mismatch")
        return self.worlds[live], ACCOUNT_ID

    def handle(self, method: str, raw_path: str, body: str, headers: dict[str, str]) -> tuple[int, Obj, dict[str, str]]:
        split = urlsplit(raw_path)
        path = split.path.rstrip("/")
        try:
            params = decode(split.query if method in ("GET", "DELETE") else body)
        except ApiError as error:
            return error.status, error.body(), {}
        idem = headers.get("idempotency-key")
        record = RecordedRequest(method, path, params, idem)
        with self._lock:
            self.requests.append(record)
        try:
            world, account_id = self.authenticate(headers.get("authorization"), path, method)
            record.livemode = world.livemode
            with self._lock:
                status, body_out, extra = self._dispatch(world, account_id, method, path, params, idem)
        except ApiError as error:
            status, body_out, extra = error.status, error.body(), error.headers
        except Exception:
            # A sandbox bug answers like a Stripe-side failure (500 api_error) instead of dropping the connection;
            # the traceback goes to stderr for whoever runs it (request headers, and so the key, are not in it).
            traceback.print_exc()
            crash = ApiError(500, "An unknown error occurred in the local sandbox.", type="api_error")
            status, body_out, extra = 500, crash.body(), {"Stripe-Should-Retry": "false"}
        record.status = status
        if status == 200:
            for observer in list(Sandbox.observers):
                observer(record, body_out)
        return status, body_out, extra

    def _dispatch(
        self, world: World, account_id: str, method: str, path: str, params: dict[str, Any], idem: str | None
    ) -> tuple[int, Obj, dict[str, str]]:
        fingerprint = hashlib.sha256(json.dumps([path, params], sort_keys=True).encode()).hexdigest()
        if method == "POST" and idem:
            if len(idem) > 255:
                raise ApiError(400, "Idempotency-Key must be at most 255 characters.", param=None)
            stored = world.idempotency.get(idem)
            if stored is not None:
                stored_path, stored_print, status, body = stored
                if stored_path != path or stored_print != fingerprint:
                    raise ApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{idem}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                return status, body, {"Idempotent-Replayed": "true"}
        for route_method, pattern, params_class, fn, expandable in self.routes:
            if route_method != method:
                continue
            match = pattern.match(path)
            if match is None:
                continue
            if params_class is not None:
                from portal_tui.sandbox.params import check_known

                check_known(params, params_class)
            check_expansions(params, expandable)
            try:
                body = fn(world, params, match.groupdict(), account_id)
            except ApiError as error:
                # Like Stripe, a request that began executing keeps its answer, errors included; one refused
                # while its parameters were validated (codes parameter_*) did not run, and may be retried.
                if method == "POST" and idem and error.status < 500 and not (error.code or "").startswith("parameter_"):
                    world.idempotency[idem] = (path, fingerprint, error.status, error.body())
                raise
            if method == "POST" and idem:
                # a snapshot: replays give the first answer, not the object as it is now
                world.idempotency[idem] = (path, fingerprint, 200, json.loads(json.dumps(body)))
            return 200, body, {}
        raise ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            code=None,
        )


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    protocol_version = "HTTP/1.1"
    server_version = "portal-tui-sandbox"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, delayed ACKs add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: requests are recorded on the sandbox, and headers carry the key

    def _serve(self) -> None:
        sandbox = self.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        path = urlsplit(self.path).path.rstrip("/")
        if sandbox.latency:
            time.sleep(sandbox.latency)
        fault = sandbox.faults.take(self.command, path, "before")
        later = None
        if fault is not None and fault.when == "after":  # a random fault that strikes once the request has run
            later, fault = fault, None
        if fault is not None and self._apply(fault):
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, payload, extra = sandbox.handle(self.command, self.path, body, headers)
        fault = later or sandbox.faults.take(self.command, path, "after")
        if fault is not None and self._apply(fault):
            return
        self._send(status, payload, extra)

    def _apply(self, fault: Fault) -> bool:
        """Carry out a fault; True when it replaced the response."""
        if fault.kind == "latency":
            time.sleep(fault.delay)
            return False
        if fault.kind == "gate":
            fault.reached.set()
            fault.opened.wait(fault.delay or GATE_LIMIT)
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.kind == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.kind == "429":
            error = ApiError(
                429,
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                type="invalid_request_error",
                code="rate_limit",
            )
            self._send(429, error.body(), {})
            return True
        if fault.kind == "lock_timeout":
            error = ApiError(
                429,
                "This object cannot be accessed right now because another API request or Stripe process is "
                "currently accessing it. If you see this error intermittently, retry the request.",
                type="invalid_request_error",
                code="lock_timeout",
            )
            self._send(429, error.body(), {"Stripe-Should-Retry": "true"})
            return True
        error = ApiError(500, "An unknown error occurred in the local sandbox (injected fault).", type="api_error")
        self._send(500, error.body(), {})
        return True

    def _send(self, status: int, payload: Obj, extra: dict[str, str]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_sandbox{len(self.sandbox.requests):08d}")
        self.send_header("Stripe-Version", self.headers.get("Stripe-Version") or "2026-10-28.endive")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve
