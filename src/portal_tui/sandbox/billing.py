"""Billing endpoints: test clocks, customers with test cards, subscriptions, invoices and invoice previews.

Invoice amounts come from the project's calculator (`portal_tui.pricing.amount_for`), so the walkthrough compares
Stripe-shaped invoices with the same rules; `invoice_skew` lets a test make the sandbox bill wrongly on purpose.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portal_tui.sandbox.account import ACCOUNT_ID, ACCOUNT_NAME
from portal_tui.sandbox.catalog import currency_code, currency_options, render_price
from portal_tui.sandbox.errors import ApiError, invalid, missing_param, no_such
from portal_tui.sandbox.params import boolean, check_known, choice, integer, mapping, refuse_unmodelled, text
from portal_tui.sandbox.store import Obj, World, created_filter, expansions, list_expansions, page, range_filter

ACCOUNT_COUNTRY = "GB"
# Stripe's magic test payment methods that attach to a customer: id -> (brand, last4, behaviour on a charge)
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    "pm_card_visa": ("visa", "4242", "succeeds"),
    "pm_card_mastercard": ("mastercard", "4444", "succeeds"),
    # 4000 0000 0000 0341: Stripe's card that attaches but whose charges are declined
    "pm_card_chargeCustomerFail": ("visa", "0341", "declined"),
    "pm_card_authenticationRequired": ("visa", "3155", "requires_action"),
}
_GENERIC = "Your card was declined."
# Decline test cards: Stripe checks the card when it is attached, so attaching one already fails with a 402.
# id -> (code, decline_code, message)
ATTACH_DECLINES: dict[str, tuple[str, str | None, str]] = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", _GENERIC),
    "pm_card_visa_chargeDeclined": ("card_declined", "generic_decline", _GENERIC),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_visa_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedLostCard": ("card_declined", "lost_card", _GENERIC),
    "pm_card_visa_chargeDeclinedLostCard": ("card_declined", "lost_card", _GENERIC),
    "pm_card_chargeDeclinedStolenCard": ("card_declined", "stolen_card", _GENERIC),
    "pm_card_visa_chargeDeclinedStolenCard": ("card_declined", "stolen_card", _GENERIC),
    "pm_card_chargeDeclinedFraudulent": ("card_declined", "fraudulent", _GENERIC),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", None, "Your card has expired."),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", None, "Your card's security code is incorrect."),
    "pm_card_chargeDeclinedProcessingError": (
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}


class CardDeclined(ApiError):
    """A 402 card_error with Stripe's `decline_code` (the shared error type has no field for it)."""

    def __init__(self, code: str, decline_code: str | None, message: str, param: str | None) -> None:
        super().__init__(402, message, type="card_error", code=code, param=param)
        self.decline_code = decline_code

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.decline_code is not None:
            body["error"]["decline_code"] = self.decline_code
        return body


def add_interval(timestamp: int, interval: str, count: int) -> int:
    """Calendar arithmetic like Stripe's billing periods (month ends clamp: Jan 31 + 1 month = Feb 28/29)."""
    if interval == "day":
        return timestamp + 86400 * count
    if interval == "week":
        return timestamp + 7 * 86400 * count
    moment = datetime.fromtimestamp(timestamp, UTC)
    months = count * (12 if interval == "year" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


# ---- test clocks -----------------------------------------------------------------------------------------------


def create_clock(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "test_helpers.TestClockCreateParams")
    frozen = integer(params, "frozen_time")
    if frozen is None:
        raise missing_param("frozen_time")
    return world.add(
        "test_helpers.test_clock",
        {
            "deletes_after": frozen + 30 * 86400,
            "frozen_time": frozen,
            "name": text(params, "name"),
            "status": "ready",
            "status_details": {"advancing": None},
        },
    )


def retrieve_clock(world: World, clock_id: str) -> Obj:
    clock = world.get("test_helpers.test_clock", clock_id)
    if clock["status"] == "advancing":  # Stripe advances asynchronously; the sandbox finishes by the next read
        clock["status"] = "ready"
        clock["status_details"] = {"advancing": None}
    return clock


def advance_clock(world: World, clock_id: str, params: dict[str, Any], skew: int) -> Obj:
    check_known(params, "test_helpers.TestClockAdvanceParams")
    clock = world.get("test_helpers.test_clock", clock_id)
    target = integer(params, "frozen_time")
    if target is None:
        raise missing_param("frozen_time")
    if target <= clock["frozen_time"]:
        raise invalid("The test clock can only be advanced to a time after its current frozen time.", "frozen_time")
    if clock["status"] == "advancing":
        raise ApiError(400, "The test clock is already advancing.", code="test_clock_advancing")
    customers = [c for c in world.objects["customer"].values() if c.get("test_clock") == clock_id]
    for customer in customers:
        for sub in list(world.objects["subscription"].values()):
            if sub["customer"] != customer["id"] or sub["status"] in ENDED:
                continue
            if sub["status"] == "incomplete":
                _expire_if_due(world, sub, target)
                continue
            _finalize_due(world, sub, target)
            _bill_until(world, sub, target, skew)
            _finalize_due(world, sub, target)
    clock["frozen_time"] = target
    clock["status"] = "advancing"
    clock["status_details"] = {"advancing": {"target_frozen_time": target}}
    return dict(clock)


def delete_clock(world: World, clock_id: str) -> Obj:
    world.get("test_helpers.test_clock", clock_id)
    for customer in [c for c in world.objects["customer"].values() if c.get("test_clock") == clock_id]:
        _delete_customer_objects(world, customer["id"])
    world.remove("test_helpers.test_clock", clock_id)
    return {"id": clock_id, "object": "test_helpers.test_clock", "deleted": True}


# ---- customers -------------------------------------------------------------------------------------------------


LIVE_MODE_TEST_CARD = "Your card was declined. Your request was in live mode, but used a known test card."


def _payment_method(world: World, magic: str, customer_id: str) -> Obj:
    if world.livemode and magic.startswith("pm_card_"):
        # Stripe's magic test payment methods exist in test mode only: live mode declines them outright.
        raise CardDeclined("card_declined", "live_mode_test_card", LIVE_MODE_TEST_CARD, param=None)
    declined = ATTACH_DECLINES.get(magic)
    if declined is not None:
        raise CardDeclined(*declined, param=None)
    card = TEST_CARDS.get(magic)
    if card is None:
        existing = world.objects["payment_method"].get(magic)
        if existing is None:
            raise invalid(f"No such PaymentMethod: '{magic}'", "payment_method", "resource_missing")
        existing["customer"] = customer_id
        return existing
    brand, last4, behaviour = card
    return world.add(
        "payment_method",
        {
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": None,
                "name": None,
                "phone": None,
                "tax_id": None,
            },
            "card": {
                "brand": brand,
                "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                "country": "US",
                "description": None,
                "display_brand": brand,
                "exp_month": 12,
                "exp_year": 2034,
                # Stripe's fingerprint identifies the card number: one per test card here
                "fingerprint": hashlib.sha256(magic.encode()).hexdigest()[:16],
                "funding": "credit",
                "generated_from": None,
                "iin": None,
                "issuer": None,
                "last4": last4,
                "networks": {"available": [brand], "preferred": None},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            "customer": customer_id,
            "customer_account": None,
            "metadata": {},
            "radar_options": {},
            "type": "card",
            "_behaviour": behaviour,
        },
    )


def render_payment_method(pm: Obj) -> Obj:
    return {key: value for key, value in pm.items() if not key.startswith("_")}


CUSTOMER_MODELLED = frozenset(
    {"description", "email", "expand", "invoice_settings", "metadata", "name", "payment_method", "phone", "test_clock"}
)
SUBSCRIPTION_MODELLED = frozenset(
    {"currency", "customer", "default_payment_method", "expand", "items", "metadata", "payment_behavior"}
)


def create_customer(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "CustomerCreateParams")
    refuse_unmodelled(params, CUSTOMER_MODELLED)
    refuse_unmodelled(mapping(params, "invoice_settings"), frozenset({"default_payment_method"}), "invoice_settings")
    clock_id = text(params, "test_clock")
    if clock_id:
        world.get("test_helpers.test_clock", clock_id, param="test_clock")
    customer = world.add(
        "customer",
        {
            "address": None,
            "balance": 0,
            "business_name": None,
            "currency": None,
            "customer_account": None,
            "default_source": None,
            "delinquent": False,
            "description": text(params, "description"),
            "discount": None,
            "email": text(params, "email"),
            "individual_name": None,
            "invoice_prefix": None,  # set below from the id: Stripe's are 8 random upper-case hex digits
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "metadata": mapping(params, "metadata"),
            "name": text(params, "name"),
            "next_invoice_sequence": 1,
            "phone": text(params, "phone") or None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": clock_id,
        },
    )
    customer["invoice_prefix"] = hashlib.sha256(customer["id"].encode()).hexdigest()[:8].upper()
    attached: dict[str, str] = {}
    magic = text(params, "payment_method")
    try:
        if magic:
            attached[magic] = _payment_method(world, magic, customer["id"])["id"]
        settings = mapping(params, "invoice_settings")
        default = settings.get("default_payment_method")
        if default:
            if default not in attached:
                param = "invoice_settings[default_payment_method]"
                if default in TEST_CARDS or default not in world.objects["payment_method"]:
                    raise invalid(f"The payment method `{default}` must be attached to the customer first.", param)
                attached[default] = default
            customer["invoice_settings"]["default_payment_method"] = attached[default]
    except ApiError:
        world.remove("customer", customer["id"])
        raise
    return customer


def _delete_customer_objects(world: World, customer_id: str) -> None:
    for sub in [s for s in world.objects["subscription"].values() if s["customer"] == customer_id]:
        for item in sub["items"]["data"]:
            world.remove("subscription_item", item["id"])
        world.remove("subscription", sub["id"])
    for invoice in [i for i in world.objects["invoice"].values() if i["customer"] == customer_id]:
        for payment in _payments_of(world, invoice["id"]):
            _others(world, "invoice_payment").pop(payment["id"], None)
            _others(world, "payment_intent").pop(payment["payment"]["payment_intent"], None)
        world.remove("invoice", invoice["id"])
    for pm in [p for p in world.objects["payment_method"].values() if p.get("customer") == customer_id]:
        world.remove("payment_method", pm["id"])
    world.remove("customer", customer_id)


def delete_customer(world: World, customer_id: str) -> Obj:
    world.get("customer", customer_id)
    _delete_customer_objects(world, customer_id)
    return {"id": customer_id, "object": "customer", "deleted": True}


def _customer_now(world: World, customer: Obj) -> int:
    clock_id = customer.get("test_clock")
    if clock_id and clock_id in world.objects["test_helpers.test_clock"]:
        return int(world.objects["test_helpers.test_clock"][clock_id]["frozen_time"])
    return world.now()


# ---- usage and amounts -----------------------------------------------------------------------------------------


def usage(world: World, meter_id: str | None, customer_id: str, start: int, end: int) -> int:
    """The meter's aggregate for the customer over [start, end), per its formula."""
    meter = world.objects["billing.meter"].get(meter_id or "")
    if meter is None:
        return 0
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    # Stripe aggregates meter events asynchronously: `Sandbox(meter_event_lag=...)` plays that delay.
    lag = world.meter_event_lag
    now = world.clock()
    events = [
        e
        for e in world.meter_events
        if e["event_name"] == meter["event_name"]
        and e.get("_error") is None  # dropped by Stripe's asynchronous checks
        and e["payload"].get(customer_key) == customer_id
        and start <= e["timestamp"] < end
        and now - float(e["_received"]) >= lag
    ]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return len(events)
    if not events:
        return 0
    if formula == "last":
        return int(Decimal(str(max(events, key=lambda e: e["timestamp"])["payload"].get(value_key, 0))))
    return int(sum(Decimal(str(e["payload"].get(value_key, 0))) for e in events))


def price_in(world: World, price: Obj, currency: str) -> Obj:
    """The price as the calculator bills it in `currency`: tiers and that currency's option expanded."""
    return render_price(world, price, {"tiers", "currency_options", f"currency_options.{currency}.tiers"})


def _line(world: World, sub: Obj, item: Obj, quantity: int, start: int, end: int, skew: int) -> Obj:
    from portal_tui.pricing import amount_for

    price = world.objects["price"][item["price"]["id"]]
    currency = sub["currency"]  # the customer's: a multi-currency price bills in its option for it
    amount = amount_for(price_in(world, price, currency), quantity, currency=currency) + skew
    unit_decimal = currency_options(price)[currency].get("unit_amount_decimal")
    product = world.objects["product"].get(price["product"], {})
    return world.add(
        "line_item",
        {
            "amount": amount,
            "currency": currency,
            "description": f"{quantity} × {product.get('name', 'Product')} (at price {price['id']})",
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "invoice": None,  # set when the line lands on a real invoice; previews have none
            "livemode": world.livemode,
            "metadata": {},
            "parent": {
                "invoice_item_details": None,
                "type": "subscription_item_details",
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
            },
            "period": {"start": start, "end": end},
            "pretax_credit_amounts": [],
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": unit_decimal,
            },
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "subscription": sub["id"],
            "subtotal": amount,
            "taxes": [],
        },
    )


def _invoice(world: World, sub: Obj, lines: list[Obj], reason: str, start: int, end: int, *, preview: bool) -> Obj:
    total = sum(line["amount"] for line in lines)
    customer = world.objects["customer"].get(sub["customer"]) or {}
    fields = {
        "account_country": ACCOUNT_COUNTRY,
        "account_name": ACCOUNT_NAME,
        "account_tax_ids": None,
        "amount_paid_off_stripe": 0,
        "application": None,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "confirmation_secret": None,
        "custom_fields": None,
        "customer_account": None,
        # the customer's details as they are when the invoice is made
        "customer_address": customer.get("address"),
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"),
        "customer_tax_exempt": customer.get("tax_exempt", "none"),
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,  # set at finalization
        "invoice_pdf": None,
        "latest_revision": None,
        "metadata": {},
        "on_behalf_of": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "statement_descriptor": None,
        "status_details": None,
        "threshold_reason": None,
        "total_pretax_credit_amounts": [],
        "webhooks_delivered_at": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": not preview,
        # Stripe leaves a renewal invoice in draft for about an hour before it finalizes and charges it.
        "automatically_finalizes_at": None if preview else end + FINALIZE_AFTER,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "currency": sub["currency"],
        "customer": sub["customer"],
        "discounts": [],
        "due_date": None,  # charged automatically: no due date
        "effective_at": None,
        "ending_balance": None,
        "issuer": {"account": None, "type": "self"},
        "last_finalization_error": None,
        "lines": {"object": "list", "data": lines, "has_more": False, "url": "/v1/invoices/lines"},
        "next_payment_attempt": None,
        "number": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(sub.get("metadata") or {}),
                "subscription": sub["id"],
                "subscription_proration_date": None,
            },
            "type": "subscription_details",
        },
        "period_start": start,
        "period_end": end,
        "starting_balance": 0,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_taxes": [],
        "test_clock": sub.get("test_clock"),
    }
    if preview:
        # An invoice preview has the invoice's shape without an id: it is not an object one can retrieve.
        fields["created"] = end
        obj: Obj = {"object": "invoice", "livemode": world.livemode, **fields}
        return obj
    invoice = world.add("invoice", {**fields, "created": end})
    for line in lines:
        line["invoice"] = invoice["id"]
    return invoice


# ---- payments: PaymentIntents and InvoicePayments --------------------------------------------------------------

FINALIZE_AFTER = 3600  # seconds between a renewal invoice's creation and its finalization
INCOMPLETE_EXPIRES_AFTER = 23 * 3600  # an unpaid first invoice: the subscription expires and the invoice is voided
DECLINE = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
}
AUTHENTICATION_REQUIRED = {
    "type": "card_error",
    "code": "authentication_required",
    "decline_code": "authentication_required",
    "message": "Your card was declined. This transaction requires authentication.",
    "doc_url": "https://stripe.com/docs/error-codes/authentication-required",
}


def _others(world: World, kind: str) -> dict[str, Obj]:
    """Stores for kinds the shared store does not list (payment intents, invoice payments)."""
    return world.objects.setdefault(kind, {})


def _new_id(world: World, prefix: str) -> str:
    return prefix + "_" + world.new_id("invoice").partition("_")[2]


def _payments_of(world: World, invoice_id: str) -> list[Obj]:
    return [p for p in _others(world, "invoice_payment").values() if p["invoice"] == invoice_id]


# Stripe's minimum charge per currency in minor units (docs: "Minimum and maximum charge amounts"); others 50.
MINIMUM_CHARGE = {
    "usd": 50, "eur": 50, "gbp": 30, "jpy": 50, "aud": 50, "cad": 50, "chf": 50, "nzd": 50, "sgd": 50, "inr": 50,
    "brl": 50, "aed": 200, "bgn": 100, "czk": 1500, "dkk": 250, "hkd": 400, "huf": 17500, "mxn": 1000, "myr": 200,
    "nok": 300, "pln": 200, "ron": 200, "sek": 300, "thb": 1000,
}  # fmt: skip


def minimum_charge(currency: str) -> int:
    return MINIMUM_CHARGE.get(currency.lower(), 50)


def _apply_balance(customer: Obj, invoice: Obj) -> None:
    """At finalization the customer's balance (owed > 0, credit < 0) is carried into the invoice's amount due."""
    balance = int(customer.get("balance") or 0)
    invoice["starting_balance"] = balance
    owed = invoice["total"] + balance
    invoice["amount_due"] = invoice["amount_remaining"] = max(0, owed)
    invoice["ending_balance"] = min(0, owed)
    if customer:
        customer["balance"] = invoice["ending_balance"]


def _number(world: World, invoice: Obj, customer: Obj) -> None:
    """Finalizing gives an invoice its number (the customer's prefix and sequence) and its hosted pages."""
    sequence = int(customer.get("next_invoice_sequence") or 1)
    invoice["number"] = f"{customer.get('invoice_prefix') or 'SANDBOX'}-{sequence:04d}"
    if customer:
        customer["next_invoice_sequence"] = sequence + 1
    mode = "live" if world.livemode else "test"
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.com/i/{ACCOUNT_ID}/{mode}_{invoice['id']}"
    invoice["invoice_pdf"] = f"https://pay.stripe.com/invoice/{ACCOUNT_ID}/{mode}_{invoice['id']}/pdf"


def _collect(world: World, invoice: Obj, now: int, *, off_session: bool) -> bool:
    """Finalize and try to pay with the customer's default card, as a PaymentIntent; True when paid."""
    invoice["status"] = "open"
    customer = world.objects["customer"].get(invoice["customer"], {})
    _number(world, invoice, customer)
    invoice["status_transitions"]["finalized_at"] = now
    invoice["automatically_finalizes_at"] = None
    invoice["effective_at"] = now
    _apply_balance(customer, invoice)
    if invoice["amount_due"] <= 0:
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = now
        return True
    if invoice["amount_due"] < minimum_charge(invoice["currency"]):
        # Stripe charges nothing below the currency's minimum: the invoice is paid without a payment and the
        # amount is added to the customer's balance, to be collected with the next invoice.
        invoice.update(status="paid", amount_paid=0, amount_remaining=0, ending_balance=invoice["amount_due"])
        invoice["status_transitions"]["paid_at"] = now
        if customer:
            customer["balance"] = invoice["amount_due"]
        return True
    sub = world.objects["subscription"].get(invoice["parent"]["subscription_details"]["subscription"]) or {}
    # Stripe charges the subscription's own default payment method first, then the customer's
    pm_id = sub.get("default_payment_method") or (customer.get("invoice_settings") or {}).get("default_payment_method")
    pm = world.objects["payment_method"].get(pm_id or "")
    behaviour = pm.get("_behaviour") if pm is not None else None
    invoice["attempted"] = True
    invoice["attempt_count"] = 1
    intent = payment_intent(world, invoice, pm_id, now)
    payment: Obj = {
        "id": _new_id(world, "inpay"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": invoice["amount_due"],
        "created": now,
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": world.livemode,
        "payment": {"charge": None, "payment_intent": intent["id"], "payment_record": None, "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }
    _others(world, "payment_intent")[intent["id"]] = intent
    _others(world, "invoice_payment")[payment["id"]] = payment
    paid = behaviour == "succeeds"
    if paid:
        intent.update(status="succeeded", amount_received=invoice["amount_due"])
        payment.update(status="paid", amount_paid=invoice["amount_due"])
        payment["status_transitions"]["paid_at"] = now
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = now
    elif behaviour == "requires_action":
        # On session (the first invoice) the customer is asked for 3-D Secure; off session the bank declines.
        intent["status"] = "requires_action"
        intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
        if off_session:
            intent["last_payment_error"] = {
                **AUTHENTICATION_REQUIRED,
                "payment_method": render_payment_method(pm or {}),
            }
    else:
        error: Obj = {
            "type": "invalid_request_error",
            "code": "payment_intent_payment_attempt_failed",
            "message": "The customer has no default payment method.",
        }
        if pm is not None:
            error = {**DECLINE, "payment_method": render_payment_method(pm)}
        intent["last_payment_error"] = error
    return paid


def payment_intent(world: World, invoice: Obj, pm_id: str | None, now: int) -> Obj:
    """A PaymentIntent for an invoice's amount due, as Stripe makes one at finalization (not yet confirmed)."""
    intent_id = _new_id(world, "pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "allowed_payment_method_types": None,
        "amount": invoice["amount_due"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},  # as Stripe shows it: no tip
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_sandbox",
        "confirmation_method": "automatic",
        "created": now,
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "customer_account": None,
        "description": "Subscription creation"
        if invoice["billing_reason"] == "subscription_create"
        else "Subscription update",
        "excluded_payment_method_types": None,
        "hooks": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": world.livemode,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_details": None,
        "payment_method": pm_id,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "capture_method": None,
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_extended_authorization": None,
                "request_incremental_authorization": None,
                "request_multicapture": None,
                "request_overcapture": None,
                "request_three_d_secure": "automatic",
                "require_cvc_recollection": None,
                "setup_credential_usage": None,
                "setup_future_usage": None,
                "statement_descriptor_suffix_kana": None,
                "statement_descriptor_suffix_kanji": None,
                "stored_credential_usage": None,
            }
        },
        "payment_method_types": ["card"],
        "payment_record": None,
        "presentment_details": None,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def _expire_if_due(world: World, sub: Obj, target: int) -> None:
    """Stripe never renews an incomplete subscription: after 23 hours it expires and the first invoice is voided."""
    expires = int(sub["start_date"]) + INCOMPLETE_EXPIRES_AFTER
    if target < expires:
        return
    sub["status"] = "incomplete_expired"
    sub["ended_at"] = expires
    invoice = world.objects["invoice"].get(sub.get("latest_invoice") or "")
    if invoice is None or invoice["status"] != "open":
        return
    invoice["status"] = "void"
    invoice["amount_remaining"] = 0
    invoice["status_transitions"]["voided_at"] = expires
    for payment in _payments_of(world, invoice["id"]):
        payment["status"] = "canceled"
        payment["status_transitions"]["canceled_at"] = expires
        intent = _others(world, "payment_intent").get(payment["payment"]["payment_intent"])
        if intent is not None:
            intent.update(status="canceled", canceled_at=expires, cancellation_reason="void_invoice")


def _finalize_due(world: World, sub: Obj, target: int) -> None:
    """Finalize and charge the subscription's drafts whose hour has passed by `target`."""
    drafts = [
        i
        for i in world.objects["invoice"].values()
        if i["parent"]["subscription_details"]["subscription"] == sub["id"]
        and i["status"] == "draft"
        and i.get("automatically_finalizes_at") is not None
        and i["automatically_finalizes_at"] < target
    ]
    for invoice in sorted(drafts, key=lambda i: int(i["created"])):
        paid = _collect(world, invoice, int(invoice["automatically_finalizes_at"]), off_session=True)
        if sub["status"] in ("active", "past_due"):
            sub["status"] = "active" if paid else "past_due"


def _period(sub: Obj) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return int(item["current_period_start"]), int(item["current_period_end"])


def _bill_until(world: World, sub: Obj, target: int, skew: int) -> None:
    """Invoice every period that ends by `target` (a draft at first): usage for the ended period, licensed
    quantities in advance."""
    while True:
        start, end = _period(sub)
        if end > target:
            return
        recurring = sub["items"]["data"][0]["price"]["recurring"]
        next_end = add_interval(end, recurring["interval"], recurring["interval_count"])
        lines = _lines(world, sub, (start, end), (end, next_end), skew)
        invoice = _invoice(world, sub, lines, "subscription_cycle", start, end, preview=False)
        sub["latest_invoice"] = invoice["id"]
        for item in sub["items"]["data"]:
            item["current_period_start"], item["current_period_end"] = end, next_end


def _lines(world: World, sub: Obj, used: tuple[int, int], ahead: tuple[int, int], skew: int) -> list[Obj]:
    lines = []
    for item in sub["items"]["data"]:
        price = world.objects["price"][item["price"]["id"]]
        if price["recurring"]["usage_type"] == "metered":
            quantity = usage(world, price["recurring"]["meter"], sub["customer"], *used)
            lines.append(_line(world, sub, item, quantity, used[0], used[1], skew))
        else:
            lines.append(_line(world, sub, item, int(item["quantity"]), ahead[0], ahead[1], skew))
    return lines


# ---- subscriptions ---------------------------------------------------------------------------------------------


SUBSCRIPTION_EXPANDABLE = frozenset({"customer", "latest_invoice"})
SUBSCRIPTION_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)


def plan_of(price: Obj) -> Obj:
    """The legacy Plan Stripe still shows beside a subscription item's price: the same price, seen as a plan."""
    recurring = price.get("recurring") or {}
    transform = price.get("transform_quantity")
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price.get("unit_amount"),
        "amount_decimal": price.get("unit_amount_decimal"),
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": price["livemode"],
        "metadata": dict(price.get("metadata") or {}),
        "meter": recurring.get("meter"),
        "nickname": price.get("nickname"),
        "product": price["product"] if isinstance(price["product"], str) else price["product"]["id"],
        "tiers_mode": price.get("tiers_mode"),
        "transform_usage": dict(transform) if transform else None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type"),
    }


def render_item(world: World, item: Obj) -> Obj:
    """A subscription item as Stripe returns it: the price as it is now, and its plan."""
    out = dict(item)
    price = world.objects["price"].get(item["price"]["id"])
    if price is not None:
        out["price"] = render_price(world, price, set())
    out["plan"] = plan_of(out["price"])
    return out


def render_subscription(world: World, sub: Obj, expand: set[str]) -> Obj:
    out = dict(sub)
    out["items"] = {**sub["items"], "data": [render_item(world, item) for item in sub["items"]["data"]]}
    if "latest_invoice" in expand and sub.get("latest_invoice"):
        out["latest_invoice"] = world.objects["invoice"].get(sub["latest_invoice"], sub["latest_invoice"])
    if "customer" in expand:
        out["customer"] = world.objects["customer"].get(sub["customer"], sub["customer"])
    return out


ENDED = ("canceled", "incomplete_expired")


def _subscription_currency(world: World, params: dict[str, Any], customer: Obj, prices: list[Obj]) -> str:
    """The currency a new subscription bills in: `currency` if given, else the customer's once set, else the first
    price's own. Every price must offer it (its own currency or one of its `currency_options`), and a customer
    with a running subscription in another currency is refused, as Stripe refuses it."""
    asked = text(params, "currency")
    if asked is not None:
        currency_code(asked, "currency")
    settled = customer.get("currency")
    currency = (asked or "").lower() or (
        settled if settled and all(settled in currency_options(price) for price in prices) else prices[0]["currency"]
    )
    for index, price in enumerate(prices):
        offered = currency_options(price)
        if currency not in offered:
            raise invalid(
                f"The price specified ({price['id']}) is not available in {currency}: it bills in "
                f"{', '.join(offered)}. Subscribe in one of those or add {currency} to its `currency_options`.",
                f"items[{index}][price]",
            )
    running = [
        sub
        for sub in world.objects["subscription"].values()
        if sub["customer"] == customer["id"] and sub["status"] not in ENDED and sub["currency"] != currency
    ]
    if settled and settled != currency and running:
        raise invalid(
            "You cannot combine currencies on a single customer. This customer has an active subscription, "
            f"subscription schedule, discount, quote, or invoice item with currency {settled}.",
            "currency",
        )
    return currency


def create_subscription(world: World, params: dict[str, Any], skew: int) -> Obj:
    check_known(params, "SubscriptionCreateParams")
    refuse_unmodelled(params, SUBSCRIPTION_MODELLED)
    customer_id = text(params, "customer")
    if not customer_id:
        raise missing_param("customer")
    customer = world.get("customer", customer_id, param="customer")
    raw_items = params.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise missing_param("items")
    behaviour = (
        choice(
            params,
            "payment_behavior",
            ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"),
        )
        or "allow_incomplete"
    )
    default_pm = text(params, "default_payment_method")
    if default_pm and (world.objects["payment_method"].get(default_pm) or {}).get("customer") != customer_id:
        raise invalid(
            f"The PaymentMethod `{default_pm}` must be attached to the customer `{customer_id}` first.",
            "default_payment_method",
        )
    prices: list[tuple[Obj, int | None, dict[str, Any]]] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise invalid("Invalid hash", f"items[{index}]", "parameter_invalid_hash")
        refuse_unmodelled(raw, frozenset({"metadata", "price", "quantity"}), f"items[{index}]")
        price_id = text(raw, "price", f"items[{index}][price]")
        if not price_id:
            raise missing_param(f"items[{index}][price]")
        price = world.get("price", price_id, param=f"items[{index}][price]")
        if not price["active"]:
            raise invalid(
                "The price specified is inactive. This field only accepts active prices.", f"items[{index}][price]"
            )
        if price["type"] != "recurring":
            raise invalid(
                "The price specified is set to `type=one_time` but this field only accepts prices with "
                "`type=recurring`.",
                f"items[{index}][price]",
            )
        quantity = integer(raw, "quantity", f"items[{index}][quantity]")
        if price["recurring"]["usage_type"] == "metered" and quantity is not None:
            raise invalid(
                "Quantity should not be specified where usage_type is `metered`. Remove quantity from "
                f"`line_items[{index}]`.",
                f"items[{index}][quantity]",
            )
        prices.append((price, quantity, mapping(raw, "metadata")))
    first = prices[0][0]
    for index, (price, _qty, _meta) in enumerate(prices[1:], start=1):
        if (price["recurring"]["interval"], price["recurring"]["interval_count"]) != (
            first["recurring"]["interval"],
            first["recurring"]["interval_count"],
        ):
            raise invalid(
                "All prices on a subscription must have the same `recurring.interval` and `recurring.interval_count`.",
                f"items[{index}][price]",
            )
    currency = _subscription_currency(world, params, customer, [price for price, _qty, _meta in prices])
    start = _customer_now(world, customer)
    end = add_interval(start, first["recurring"]["interval"], first["recurring"]["interval_count"])
    sub = world.add(
        "subscription",
        {
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": start,
            "billing_cycle_anchor_config": None,
            # flexible billing mode is the default for new subscriptions since 2025-09-30.clover
            "billing_mode": {"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": start},
            "billing_schedules": [],
            "billing_thresholds": None,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "feedback_option": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": start,
            "currency": currency,
            "customer": customer_id,
            "customer_account": None,
            "days_until_due": None,
            "default_payment_method": default_pm,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": {"account": None, "type": "self"},
            },
            "items": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""},
            "latest_invoice": None,
            "managed_payments": None,
            "metadata": mapping(params, "metadata"),
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "presentment_details": None,
            "schedule": None,
            "start_date": start,
            "status": "incomplete",
            "status_details": None,
            "test_clock": customer.get("test_clock"),
            "transfer_data": None,
            "trial_end": None,
            "trial_settings": {
                "end_behavior": {"billing_cycle_anchor": None, "missing_payment_method": "create_invoice"}
            },
            "trial_start": None,
        },
    )
    sub["items"]["url"] = f"/v1/subscription_items?subscription={sub['id']}"
    for price, quantity, metadata in prices:
        item = world.add(
            "subscription_item",
            {
                "billed_until": None,
                "billing_thresholds": None,
                "created": start,
                "current_period_end": end,
                "current_period_start": start,
                "current_trial": None,
                "discounts": [],
                "metadata": metadata,
                "price": render_price(world, price, set()),
                "quantity": None if price["recurring"]["usage_type"] == "metered" else (quantity or 1),
                "subscription": sub["id"],
                "tax_rates": [],
            },
        )
        sub["items"]["data"].append(item)
    sub["items"]["total_count"] = len(sub["items"]["data"])
    earlier_currency = customer["currency"]
    customer["currency"] = currency  # billed in it from now on (Stripe sets it with the first invoice)
    lines = _lines(world, sub, (start, start), (start, end), skew)
    invoice = _invoice(world, sub, lines, "subscription_create", start, start, preview=False)
    if behaviour == "default_incomplete" and invoice["amount_due"] > 0:
        invoice.update(status="open", automatically_finalizes_at=None)
        invoice["status_transitions"]["finalized_at"] = start
        paid = False
    else:
        paid = _collect(world, invoice, start, off_session=False)
    if not paid and behaviour == "error_if_incomplete":
        intents = _others(world, "payment_intent")
        intent = next((intents.get(p["payment"]["payment_intent"]) for p in _payments_of(world, invoice["id"])), None)
        _delete_customer_subscription(world, sub, invoice)
        customer["currency"] = earlier_currency  # nothing was billed after all
        error = (intent or {}).get("last_payment_error") or {}
        if intent is not None and intent["status"] == "requires_action":
            raise ApiError(
                402,
                "Payment for this subscription requires additional user action before it can be completed "
                "successfully.",
                type="card_error",
                code="subscription_payment_intent_requires_action",
            )
        raise ApiError(
            402,
            str(error.get("message") or "Your card was declined."),
            type="card_error",
            code=str(error.get("code") or "card_declined"),
        )
    sub["latest_invoice"] = invoice["id"]
    sub["status"] = "active" if paid else "incomplete"
    return render_subscription(world, sub, expansions(params))


def _delete_customer_subscription(world: World, sub: Obj, invoice: Obj) -> None:
    for payment in _payments_of(world, invoice["id"]):
        _others(world, "invoice_payment").pop(payment["id"], None)
        _others(world, "payment_intent").pop(payment["payment"]["payment_intent"], None)
    for item in sub["items"]["data"]:
        world.remove("subscription_item", item["id"])
    world.remove("invoice", invoice["id"])
    world.remove("subscription", sub["id"])


def cancel_subscription(world: World, sub_id: str, params: dict[str, Any] | None = None) -> Obj:
    """`DELETE /v1/subscriptions/:id`: canceled at once (at the customer's clock time), as requested."""
    params = params or {}
    check_known(params, "SubscriptionCancelParams")
    refuse_unmodelled(params, frozenset({"expand"}))
    sub = world.get("subscription", sub_id)
    if sub["status"] == "canceled":
        raise invalid(f"No such subscription: '{sub_id}'; it has been canceled.", None, "resource_missing")
    now = _customer_now(world, world.objects["customer"].get(sub["customer"]) or {})
    sub["status"] = "canceled"
    sub["canceled_at"] = sub["ended_at"] = now
    sub["cancel_at_period_end"] = False
    sub["cancellation_details"] = {**sub["cancellation_details"], "reason": "cancellation_requested"}
    return render_subscription(world, sub, expansions(params))


def list_subscriptions(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "SubscriptionListParams")
    expand = list_expansions(params, SUBSCRIPTION_EXPANDABLE)
    within = [
        created_filter(params),
        range_filter(params, "current_period_start", lambda s: _period(s)[0]),
        range_filter(params, "current_period_end", lambda s: _period(s)[1]),
    ]
    items = [s for s in world.objects["subscription"].values() if all(check(s) for check in within)]
    for key in ("customer", "test_clock", "collection_method"):
        wanted = text(params, key)
        if wanted:
            items = [s for s in items if s.get(key) == wanted]
    for key in ("price", "plan"):  # a plan id is its price's id
        price = text(params, key)
        if price:
            items = [s for s in items if any(item["price"]["id"] == price for item in s["items"]["data"])]
    automatic_tax = mapping(params, "automatic_tax")
    if boolean(automatic_tax, "enabled", "automatic_tax[enabled]"):
        items = []  # the sandbox never calculates tax
    status = choice(params, "status", SUBSCRIPTION_STATUSES)
    # Stripe's default leaves out canceled subscriptions; `ended` means canceled or expired.
    if status is None:
        items = [s for s in items if s["status"] != "canceled"]
    elif status == "ended":
        items = [s for s in items if s["status"] in ENDED]
    elif status != "all":
        items = [s for s in items if s["status"] == status]
    return page(world, items, params, "/v1/subscriptions", lambda s: render_subscription(world, s, expand))


# ---- invoices --------------------------------------------------------------------------------------------------


def list_invoices(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "InvoiceListParams")
    items = [
        i
        for i in world.objects["invoice"].values()
        if created_filter(params)(i) and range_filter(params, "due_date", lambda i: int(i.get("due_date") or 0))(i)
    ]
    collection = choice(params, "collection_method", ("charge_automatically", "send_invoice"))
    if collection:
        items = [i for i in items if i["collection_method"] == collection]
    customer = text(params, "customer")
    if customer:
        items = [i for i in items if i["customer"] == customer]
    subscription = text(params, "subscription")
    if subscription:
        items = [i for i in items if i["parent"]["subscription_details"]["subscription"] == subscription]
    status = choice(params, "status", ("draft", "open", "paid", "uncollectible", "void"))
    if status:
        items = [i for i in items if i["status"] == status]
    return page(world, items, params, "/v1/invoices", lambda i: i)


INVOICE_PAYMENT_EXPANDABLE = frozenset({"invoice", "payment.payment_intent"})
PAYMENT_INTENT_EXPANDABLE = frozenset({"customer", "payment_method"})


def list_invoice_payments(world: World, params: dict[str, Any]) -> Obj:
    """`GET /v1/invoice_payments`: an invoice's payments; `expand[]=data.payment.payment_intent` embeds the intent
    (its status and `last_payment_error` say whether the card was declined or needs 3-D Secure)."""
    check_known(params, "InvoicePaymentListParams")
    expand = list_expansions(params, INVOICE_PAYMENT_EXPANDABLE)
    items = [p for p in _others(world, "invoice_payment").values() if created_filter(params)(p)]
    invoice_id = text(params, "invoice")
    if invoice_id:
        items = [p for p in items if p["invoice"] == invoice_id]
    status = choice(params, "status", ("canceled", "open", "paid"))
    if status:
        items = [p for p in items if p["status"] == status]
    if "payment" in params:
        payment = mapping(params, "payment")
        kind = choice(payment, "type", ("payment_intent", "payment_record"), "payment[type]")
        items = [p for p in items if p["payment"]["type"] == kind]
        for key in ("payment_intent", "payment_record"):
            wanted = text(payment, key, f"payment[{key}]")
            if wanted:
                items = [p for p in items if p["payment"].get(key) == wanted]

    def render(payment: Obj) -> Obj:
        out = {**payment, "payment": dict(payment["payment"])}
        if "payment.payment_intent" in expand:
            out["payment"]["payment_intent"] = retrieve_payment_intent(world, payment["payment"]["payment_intent"])
        if "invoice" in expand:
            out["invoice"] = world.objects["invoice"].get(payment["invoice"], payment["invoice"])
        return out

    return page(world, items, params, "/v1/invoice_payments", render)


def retrieve_payment_intent(world: World, intent_id: str, expand: set[str] | frozenset[str] = frozenset()) -> Obj:
    """`GET /v1/payment_intents/:id`."""
    intent = _others(world, "payment_intent").get(intent_id)
    if intent is None:
        raise no_such("payment_intent", intent_id, None, 404)
    out = dict(intent)
    if "customer" in expand and intent.get("customer"):
        out["customer"] = world.objects["customer"].get(intent["customer"], intent["customer"])
    pm = world.objects["payment_method"].get(intent.get("payment_method") or "")
    if "payment_method" in expand and pm is not None:
        out["payment_method"] = render_payment_method(pm)
    return out


def list_clocks(world: World, params: dict[str, Any]) -> Obj:
    """`GET /v1/test_helpers/test_clocks`: lets a client find a clock whose create response it never received."""
    check_known(params, "test_helpers.TestClockListParams")
    items = list(world.objects["test_helpers.test_clock"].values())
    return page(world, items, params, "/v1/test_helpers/test_clocks", lambda c: retrieve_clock(world, c["id"]))


def create_preview(world: World, params: dict[str, Any], skew: int) -> Obj:
    """The next invoice of a subscription: this period's usage and the next period's licensed quantities."""
    check_known(params, "InvoiceCreatePreviewParams")
    refuse_unmodelled(params, frozenset({"customer", "expand", "subscription"}))
    sub_id = text(params, "subscription")
    customer_id = text(params, "customer")
    if not sub_id:
        # Since 2025 Stripe no longer picks "the customer's upcoming invoice" from a customer alone.
        raise invalid(
            "You must provide at least one of the following parameters: subscription, schedule, "
            "subscription_details.items, schedule_details.phases, invoice_items.",
            "subscription",
        )
    sub = world.get("subscription", sub_id, param="subscription")
    if customer_id and sub["customer"] != customer_id:
        raise invalid(f"The subscription `{sub_id}` does not belong to customer `{customer_id}`.", "subscription")
    if sub["status"] == "canceled":
        raise invalid(
            "The subscription is canceled: it has no upcoming invoice.", "subscription", "invoice_upcoming_none"
        )
    start, end = _period(sub)
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    next_end = add_interval(end, recurring["interval"], recurring["interval_count"])
    lines = _lines(world, sub, (start, end), (end, next_end), skew)
    return _invoice(world, sub, lines, "upcoming", start, end, preview=True)


# ---- a portal's own billing calls: customers, payment methods, subscription updates ----------------------------

CUSTOMER_UPDATE_MODELLED = frozenset(
    {"description", "email", "expand", "invoice_settings", "metadata", "name", "phone"}
)
SUBSCRIPTION_UPDATE_MODELLED = frozenset(
    {"cancel_at_period_end", "default_payment_method", "description", "expand", "metadata"}
)


def _merge_metadata(current: dict[str, str], params: dict[str, Any]) -> dict[str, str]:
    """Stripe's metadata update: keys merge, `metadata[key]=""` unsets one, `metadata=""` clears them all."""
    if params.get("metadata") == "":
        return {}
    merged = dict(current)
    for key, value in mapping(params, "metadata").items():
        if not isinstance(value, str):
            raise invalid("Invalid string", f"metadata[{key}]", "parameter_invalid_string")
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return merged


def _attached(world: World, pm_id: str, customer_id: str, param: str) -> str:
    pm = world.objects["payment_method"].get(pm_id)
    if pm is None or pm.get("customer") != customer_id:
        raise invalid(f"The payment method `{pm_id}` must be attached to the customer first.", param)
    return pm_id


def update_customer(world: World, customer_id: str, params: dict[str, Any]) -> Obj:
    """`POST /v1/customers/:id`: every parameter checked before anything changes."""
    check_known(params, "CustomerUpdateParams")
    refuse_unmodelled(params, CUSTOMER_UPDATE_MODELLED)
    settings = mapping(params, "invoice_settings")
    refuse_unmodelled(settings, frozenset({"default_payment_method"}), "invoice_settings")
    customer = world.get("customer", customer_id)
    changes: Obj = {}
    for key in ("description", "email", "name", "phone"):
        if key in params:
            changes[key] = text(params, key) or None
    if "default_payment_method" in settings:
        default = text(settings, "default_payment_method", "invoice_settings[default_payment_method]")
        param = "invoice_settings[default_payment_method]"
        changes["default_payment_method"] = _attached(world, default, customer_id, param) if default else None
    if "metadata" in params:
        changes["metadata"] = _merge_metadata(customer["metadata"], params)
    if "default_payment_method" in changes:
        customer["invoice_settings"]["default_payment_method"] = changes.pop("default_payment_method")
    customer.update(changes)
    return customer


def list_customers(world: World, params: dict[str, Any]) -> Obj:
    check_known(params, "CustomerListParams")
    items = [c for c in world.objects["customer"].values() if created_filter(params)(c)]
    email = text(params, "email")
    if email is not None:
        items = [c for c in items if c.get("email") == email]  # Stripe matches the email exactly (case-sensitive)
    clock = text(params, "test_clock")
    if clock:
        items = [c for c in items if c.get("test_clock") == clock]
    if text(params, "customer_account"):
        items = []  # the sandbox has no customer accounts
    return page(world, items, params, "/v1/customers", lambda c: c)


def retrieve_payment_method(world: World, pm_id: str) -> Obj:
    """`GET /v1/payment_methods/:id`; a test ID (`pm_card_visa`) reads as a card no customer holds yet."""
    if pm_id in TEST_CARDS and not world.livemode:
        fresh = _payment_method(world, pm_id, "")
        world.remove("payment_method", fresh["id"])
        return {**render_payment_method(fresh), "id": pm_id, "customer": None}
    return render_payment_method(world.get("payment_method", pm_id))


def attach_payment_method(world: World, pm_id: str, params: dict[str, Any]) -> Obj:
    """`POST /v1/payment_methods/:id/attach`: a test ID (`pm_card_visa`) attaches as a new card, as on Stripe."""
    check_known(params, "PaymentMethodAttachParams")
    refuse_unmodelled(params, frozenset({"customer", "expand"}))
    customer_id = text(params, "customer")
    if not customer_id:
        raise missing_param("customer")
    world.get("customer", customer_id, param="customer")
    if pm_id.startswith("pm_card_"):
        return render_payment_method(_payment_method(world, pm_id, customer_id))
    pm = world.get("payment_method", pm_id)
    if pm.get("customer") and pm["customer"] != customer_id:
        raise invalid(
            "The payment method you provided has already been attached to a customer.", None, "resource_already_exists"
        )
    pm["customer"] = customer_id
    return render_payment_method(pm)


def detach_payment_method(world: World, pm_id: str, params: dict[str, Any]) -> Obj:
    """`POST /v1/payment_methods/:id/detach`: the card leaves its customer (and stops being its default)."""
    check_known(params, "PaymentMethodDetachParams")
    pm = world.get("payment_method", pm_id)
    customer_id = pm.get("customer")
    if not customer_id:
        raise invalid(f"The payment method `{pm_id}` is not attached to a customer so detachment is impossible.", None)
    customer = world.objects["customer"].get(customer_id)
    if customer is not None and customer["invoice_settings"]["default_payment_method"] == pm_id:
        customer["invoice_settings"]["default_payment_method"] = None
    for sub in world.objects["subscription"].values():
        if sub.get("default_payment_method") == pm_id:
            sub["default_payment_method"] = None
    pm["customer"] = None
    return render_payment_method(pm)


def list_payment_methods(world: World, params: dict[str, Any]) -> Obj:
    """`GET /v1/payment_methods?customer=…`: a customer's payment methods (Stripe lists only attached ones)."""
    check_known(params, "PaymentMethodListParams")
    refuse_unmodelled(params, frozenset({"customer", "ending_before", "expand", "limit", "starting_after", "type"}))
    customer_id = text(params, "customer")
    if not customer_id:
        raise missing_param("customer")
    world.get("customer", customer_id, param="customer")
    items = [p for p in world.objects["payment_method"].values() if p.get("customer") == customer_id]
    kind = text(params, "type")
    if kind:
        items = [p for p in items if p["type"] == kind]
    return page(world, items, params, "/v1/payment_methods", render_payment_method)


def update_subscription(world: World, sub_id: str, params: dict[str, Any]) -> Obj:
    """`POST /v1/subscriptions/:id` for what a portal changes without a new price: every parameter checked first."""
    check_known(params, "SubscriptionUpdateParams")
    refuse_unmodelled(params, SUBSCRIPTION_UPDATE_MODELLED)
    sub = world.get("subscription", sub_id)
    if sub["status"] in ENDED:
        raise invalid(
            f"A canceled subscription can only update its cancellation_details and metadata (subscription {sub_id}).",
            None,
        )
    changes: Obj = {}
    if "cancel_at_period_end" in params:
        at_end = boolean(params, "cancel_at_period_end")
        changes["cancel_at_period_end"] = bool(at_end)
        changes["cancel_at"] = _period(sub)[1] if at_end else None
        customer = world.objects["customer"].get(sub["customer"]) or {}
        changes["canceled_at"] = _customer_now(world, customer) if at_end else None
    if "default_payment_method" in params:
        pm_id = text(params, "default_payment_method")
        changes["default_payment_method"] = (
            _attached(world, pm_id, sub["customer"], "default_payment_method") if pm_id else None
        )
    if "description" in params:
        changes["description"] = text(params, "description") or None
    if "metadata" in params:
        changes["metadata"] = _merge_metadata(sub["metadata"], params)
    sub.update(changes)
    return render_subscription(world, sub, expansions(params))


def retrieve_invoice(world: World, invoice_id: str) -> Obj:
    return world.get("invoice", invoice_id)
