"""The demo catalog of a small hosting company: every pricing model of the setup guide, made through the same
endpoint code as real requests (so the seed obeys Stripe's rules too), with stable ids and timestamps."""

from __future__ import annotations

from typing import Any

from portal_tui.sandbox import catalog
from portal_tui.sandbox.store import World

# A fixed moment so the seeded catalog (ids, created, order) is the same on every run.
SEED_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z


def _monthly(**extra: Any) -> dict[str, Any]:
    return {"interval": "month", **extra}


def seed_catalog(world: World) -> None:
    """Meters, products and prices: flat, volume, graduated, usage per unit/package/tier, one-off, EUR, JPY, and a
    flat and a graduated price in USD with EUR and JPY amounts."""
    tick = iter(range(SEED_TIME, SEED_TIME + 10_000, 60))
    clock = world.clock
    world.clock = lambda: float(next(tick))
    try:
        _seed(world)
    finally:
        world.clock = clock


def _seed(world: World) -> None:
    meters = {
        name: catalog.create_meter(
            world,
            {"display_name": label, "event_name": name, "default_aggregation": {"formula": "sum"}},
        )["id"]
        for name, label in [
            ("api_calls", "API calls"),
            ("compute_minutes", "Compute minutes"),
            ("bandwidth_gb", "Bandwidth (GB)"),
        ]
    }

    def product(name: str, description: str) -> str:
        return str(catalog.create_product(world, {"name": name, "description": description})["id"])

    def price(**params: Any) -> dict[str, Any]:
        created = catalog.create_price(world, params)
        # Like products made in the Dashboard: the first price of a product becomes its default price.
        if not world.objects["product"][created["product"]].get("default_price"):
            catalog.update_product(world, created["product"], {"default_price": created["id"]})
        return created

    starter = product("Starter VPS", "1 vCPU, 1 GB RAM, 25 GB SSD")
    price(
        product=starter,
        currency="usd",
        unit_amount="500",
        recurring=_monthly(),
        nickname="Starter monthly",
        lookup_key="starter_monthly",
    )
    legacy = price(product=starter, currency="usd", unit_amount="400", recurring=_monthly(), nickname="Starter 2024")
    catalog.update_price(world, legacy["id"], {"active": "false"})

    pro = product("Pro VPS", "4 vCPU, 8 GB RAM, 160 GB SSD")
    price(
        product=pro,
        currency="usd",
        unit_amount="2000",
        recurring=_monthly(),
        nickname="Pro monthly",
        lookup_key="pro_monthly",
    )
    price(
        product=pro,
        currency="usd",
        unit_amount="20000",
        recurring={"interval": "year"},
        nickname="Pro yearly",
        lookup_key="pro_yearly",
    )

    seats = product("Team seats", "Control-panel seats for your team")
    price(
        product=seats,
        currency="usd",
        recurring=_monthly(),
        billing_scheme="tiered",
        tiers_mode="graduated",
        nickname="Seats graduated",
        lookup_key="team_seats",
        tiers=[
            {"up_to": "5", "unit_amount": "0", "flat_amount": "1000"},
            {"up_to": "20", "unit_amount": "400"},
            {"up_to": "inf", "unit_amount": "300"},
        ],
    )

    storage = product("Block storage", "SSD volumes, priced by total size")
    price(
        product=storage,
        currency="usd",
        recurring=_monthly(),
        billing_scheme="tiered",
        tiers_mode="volume",
        nickname="Storage volume",
        tiers=[
            {"up_to": "100", "unit_amount": "10"},
            {"up_to": "1000", "unit_amount": "8"},
            {"up_to": "inf", "unit_amount": "5"},
        ],
    )

    api = product("API calls", "Metered API requests")
    price(
        product=api,
        currency="usd",
        unit_amount_decimal="0.04",
        nickname="API per call",
        recurring=_monthly(usage_type="metered", meter=meters["api_calls"]),
        lookup_key="api_calls",
    )

    compute = product("Compute hours", "Burst compute, billed per started hour")
    price(
        product=compute,
        currency="usd",
        unit_amount="10",
        nickname="Compute per hour",
        recurring=_monthly(usage_type="metered", meter=meters["compute_minutes"]),
        transform_quantity={"divide_by": "60", "round": "up"},
    )

    bandwidth = product("Bandwidth", "Outbound traffic")
    price(
        product=bandwidth,
        currency="usd",
        nickname="Bandwidth per GB",
        recurring=_monthly(usage_type="metered", meter=meters["bandwidth_gb"]),
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[
            {"up_to": "1000", "unit_amount": "0"},
            {"up_to": "10000", "unit_amount": "2"},
            {"up_to": "inf", "unit_amount_decimal": "1.5"},
        ],
    )

    setup = product("Setup fee", "One-time server provisioning")
    price(product=setup, currency="usd", unit_amount="4900", nickname="Setup fee")

    eu = product("Managed EU", "Managed hosting in Frankfurt")
    price(
        product=eu,
        currency="eur",
        unit_amount="1800",
        recurring=_monthly(),
        nickname="EU monthly",
        lookup_key="eu_monthly",
    )

    tokyo = product("Tokyo region", "Servers in Tokyo")
    price(product=tokyo, currency="jpy", unit_amount="1500", recurring=_monthly(), nickname="Tokyo monthly")

    # One price, billed in the customer's currency: a flat and a graduated price with EUR and JPY amounts too.
    worldwide = product("Worldwide VPS", "2 vCPU, 4 GB RAM, billed in your customer's currency")
    price(
        product=worldwide,
        currency="usd",
        unit_amount="1200",
        recurring=_monthly(),
        nickname="Worldwide monthly",
        lookup_key="worldwide_monthly",
        currency_options={"eur": {"unit_amount": "1100"}, "jpy": {"unit_amount": "1800"}},
    )
    support = product("Support seats", "Help-desk seats, billed in your customer's currency")
    price(
        product=support,
        currency="usd",
        recurring=_monthly(),
        billing_scheme="tiered",
        tiers_mode="graduated",
        nickname="Support seats graduated",
        lookup_key="support_seats",
        tiers=[{"up_to": "3", "unit_amount": "900"}, {"up_to": "inf", "unit_amount": "700"}],
        currency_options={
            "eur": {"tiers": [{"up_to": "3", "unit_amount": "800"}, {"up_to": "inf", "unit_amount": "650"}]},
            "jpy": {"tiers": [{"up_to": "3", "unit_amount": "1400"}, {"up_to": "inf", "unit_amount": "1100"}]},
        },
    )


def bulk_prices(world: World, n: int) -> None:
    """`n` prices across 100 products, written straight into the store (fast enough for 10,000)."""
    if n <= 0:
        return
    products = []
    for index in range(100):
        created = catalog.create_product(world, {"name": f"Bulk product {index:03d}"})
        products.append(created["id"])
    now = world.now()
    for index in range(n):
        kind = index % 4
        fields: dict[str, Any] = {
            "active": True,
            "billing_scheme": "per_unit",
            "currency": "usd",
            "custom_unit_amount": None,
            "lookup_key": None,
            "metadata": {},
            "nickname": f"Bulk price {index:05d}",
            "product": products[index % 100],
            "recurring": {
                "interval": "month",
                "interval_count": 1,
                "meter": None,
                "trial_period_days": None,
                "usage_type": "licensed",
            },
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring",
            "unit_amount": 100 + index,
            "unit_amount_decimal": str(100 + index),
            "created": now - index,
        }
        if kind == 1:
            fields["recurring"] = {**fields["recurring"], "interval": "year"}
        price = world.add("price", fields)
        if kind == 2:
            price.update(billing_scheme="tiered", tiers_mode="graduated", unit_amount=None, unit_amount_decimal=None)
            price["tiers"] = [
                {
                    "up_to": 10,
                    "unit_amount": 500,
                    "unit_amount_decimal": "500",
                    "flat_amount": None,
                    "flat_amount_decimal": None,
                },
                {
                    "up_to": None,
                    "unit_amount": 400,
                    "unit_amount_decimal": "400",
                    "flat_amount": 1000,
                    "flat_amount_decimal": "1000",
                },
            ]
