#!/usr/bin/env python3
"""The price-ID picker with 10,000 prices in the sandbox: load time, filter latency per keystroke, memory.

Drives the real app (Pilot, headless) against the sandbox over HTTP. Filter latency is measured two ways:
  - redraw: the filter plus drawing every visible row (the work one keystroke causes), timed directly;
  - keystroke: a key press through the Pilot until the screen has processed it (includes Textual's overhead).
Target: a filter keystroke on 10,000 rows redrawn within 50 ms median.

    .venv/bin/python scripts/bench_picker.py [--prices 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui.tour import settle  # noqa: E402

from portal_tui.commands.app import demo_context  # noqa: E402
from portal_tui.sandbox import Sandbox  # noqa: E402
from portal_tui.ui.app import PortalApp  # noqa: E402
from portal_tui.ui.widgets.price_table import PriceTable  # noqa: E402

QUERIES = [
    "b",
    "bu",
    "bul",
    "bulk",
    "bulk ",
    "bulk p",
    "bulk pr",
    "bulk pri",
    "bulk pric",
    "bulk price",
    "bulk price 0",
    "bulk price 00",
    "bulk price 001",
    "$1",
    "$1.",
    "$1.5",
    "year",
    "graduated",
    "price_1",
    "",
]


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox() as sandbox:
        sandbox.bulk_prices(n)
        app = PortalApp(demo_context(Path(folder), sandbox.url))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            before = len([r for r in sandbox.requests if r.path == "/v1/prices"])
            started = time.perf_counter()
            await app.switch_mode("catalog")
            table = app.screen.query_one(PriceTable)
            first_page = None
            while len(table.rows) < n:
                await pilot.pause()
                if first_page is None and table.rows:
                    first_page = time.perf_counter() - started
            loaded = time.perf_counter() - started
            requests = len([r for r in sandbox.requests if r.path == "/v1/prices"]) - before
            print(f"prices: {len(table.rows):,} in {requests} list requests (expand data.product, data.tiers)")
            print(
                f"first page on screen: {(first_page or 0) * 1000:.0f} ms; all {n:,} on screen: "
                f"{loaded * 1000:.0f} ms (the sandbox answers too, on the same 2 cores)"
            )
            prices = [row.price for row in table.rows]
            tracemalloc.start()
            probe = PriceTable()
            probe.add_prices(prices)
            held, _peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"memory of the table's rows for {n:,} prices (tracemalloc): {held / 1e6:.1f} MB; "
                f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB"
            )

            height = table.size.height
            redraw: list[float] = []
            for _ in range(5):
                for query in QUERIES:
                    t0 = time.perf_counter()
                    table.set_filter(query)
                    for y in range(height):
                        table.render_line(y)
                    redraw.append(time.perf_counter() - t0)
            print(
                f"filter + redraw of {height} visible rows: median {statistics.median(redraw) * 1000:.2f} ms, "
                f"p95 {sorted(redraw)[int(len(redraw) * 0.95)] * 1000:.2f} ms over {len(redraw)} keystrokes"
            )

            baseline: list[float] = []
            await pilot.press("f2")
            await settle(pilot)
            app.screen.query_one("#product-name").focus()
            for char in "bulkprice00123xyz":
                t0 = time.perf_counter()
                await pilot.press(char)
                baseline.append(time.perf_counter() - t0)
            await pilot.press("f3")
            await settle(pilot)
            filter_input = app.screen.query_one("#filter")
            filter_input.focus()
            await pilot.pause()
            keystrokes: list[float] = []
            for char in "bulk price 00123":
                t0 = time.perf_counter()
                await pilot.press("space" if char == " " else char)
                keystrokes.append(time.perf_counter() - t0)
            for _ in range(16):
                t0 = time.perf_counter()
                await pilot.press("backspace")
                keystrokes.append(time.perf_counter() - t0)
            print(
                f"keystroke through the Pilot (press → processed): median "
                f"{statistics.median(keystrokes) * 1000:.1f} ms over {len(keystrokes)} keys"
            )
            print(
                f"same Pilot keystroke into a plain text field (Textual's own overhead): median "
                f"{statistics.median(baseline) * 1000:.1f} ms"
            )
            print("target: <= 50 ms median per filter keystroke")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prices", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.prices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
