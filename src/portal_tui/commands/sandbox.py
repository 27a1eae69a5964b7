"""`portal-tui sandbox`: serve the local Stripe sandbox so the app (or curl, or the stripe CLI) can use it.

`--faults 429=0.1,500=0.05,reset=0.02 --latency 150ms --meter-event-lag 30s` rehearses a bad network day: random
rate limits, server errors and dropped connections (before or after a request ran), slow answers, and usage that
takes a while to count.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TextIO

from portal_tui.locations import API_BASE_ENV

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def parse_duration(text: str) -> float:
    """ "150ms" -> 0.15, "30s" / "30" -> 30.0, "2m" -> 120.0 (seconds); argparse-friendly errors."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 150ms, 2s, 1m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def parse_faults(text: str) -> dict[str, float]:
    """ "429=0.1,500=0.05,reset=0.02" -> {"429": 0.1, "500": 0.05, "reset": 0.02}; rates may be percentages ("10%")."""
    from portal_tui.sandbox.server import RANDOM_NAMES

    rates: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, raw = part.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not raw:
            raise argparse.ArgumentTypeError(f"{part!r}: write KIND=RATE, e.g. 500=0.05")
        if name not in (*RANDOM_NAMES, "drop"):
            raise argparse.ArgumentTypeError(f"unknown fault {name!r}: use {', '.join(RANDOM_NAMES)}")
        try:
            rate = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: the rate must be a number such as 0.05 or 5%") from None
        if not 0 <= rate <= 1:
            raise argparse.ArgumentTypeError(f"{part!r}: the rate must lie between 0 and 1")
        rates[name] = rates.get(name, 0.0) + rate
    if sum(rates.values()) > 1:
        raise argparse.ArgumentTypeError("the fault rates add up to more than 1")
    return rates


def describe(rates: dict[str, float], latency: float, lag: float, seed: int | None) -> str:
    parts = [f"{name} {rate:.0%}" for name, rate in rates.items()]
    if latency:
        parts.append(f"{latency * 1000:.0f} ms latency")
    if lag:
        parts.append(f"meter events count after {lag:g} s")
    if not parts:
        return ""
    seeded = f" (seed {seed})" if seed is not None and rates else ""
    return "Bad network day: " + ", ".join(parts) + seeded + "\n"


def run_sandbox(
    *,
    port: int,
    seed: bool,
    out: TextIO | None = None,
    faults: dict[str, float] | None = None,
    latency: float = 0.0,
    meter_event_lag: float = 0.0,
    fault_seed: int | None = None,
) -> int:
    from portal_tui.sandbox import DEMO_KEY, DEMO_LIVE_KEY, Sandbox

    stream = out or sys.stdout
    sandbox = Sandbox(port=port, seed=seed, latency=latency, meter_event_lag=meter_event_lag)
    if faults:
        sandbox.faults.randomly(faults, seed=fault_seed)
    try:
        sandbox.start()
    except OSError as error:
        sys.stderr.write(f"portal-tui sandbox: cannot listen on 127.0.0.1:{port}: {error.strerror}\n")
        return 2
    catalog = "demo catalog in test mode, live mode empty" if seed else "empty"
    stream.write(
        f"Stripe sandbox listening on {sandbox.url} ({catalog}; serves test and live mode)\n"
        f"Point the app at it:  portal-tui --api-base {sandbox.url}\n"
        f"              or:     {API_BASE_ENV}={sandbox.url} portal-tui\n"
        f"Test mode: any sk_test_… key of plausible length, e.g. {DEMO_KEY}\n"
        f"Live mode: any sk_live_… key of plausible length, e.g. {DEMO_LIVE_KEY}\n"
        "  (a local live world: nothing reaches Stripe; the account can charge but has no statement descriptor\n"
        "   and no webhook endpoint yet)\n"
        + describe(faults or {}, latency, meter_event_lag, fault_seed)
        + "Press Ctrl-C to stop.\n"
    )
    stream.flush()
    try:
        assert sandbox._thread is not None
        while sandbox._thread.is_alive():
            sandbox._thread.join(0.5)
    except KeyboardInterrupt:
        stream.write("Stopped.\n")
    finally:
        sandbox.stop()
    return 0
