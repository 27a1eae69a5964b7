#!/usr/bin/env python3
"""Regenerate screenshots/*.svg: drive the real app on the seeded sandbox through every screen (the same tour the
snapshot tests use) and save what the terminal shows.

    .venv/bin/python scripts/screenshots.py [--size 120x40] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui.tour import STOPS, Stop, make_tour_app  # noqa: E402

from portal_tui.sandbox import Sandbox  # noqa: E402


async def shoot(stop: Stop, size: tuple[int, int], folder: Path) -> Path:
    with Sandbox(seed=True) as sandbox:
        app = make_tour_app(sandbox, plans=stop.plans)
        async with app.run_test(size=size) as pilot:
            await stop.drive(pilot)
            path = folder / f"{stop.name}.svg"
            app.save_screenshot(str(path.name), path=str(folder))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these stops (e.g. go-live home)")
    args = parser.parse_args()
    unknown = set(args.only or []) - {stop.name for stop in STOPS}
    if unknown:
        parser.error(f"no such stop: {', '.join(sorted(unknown))}; stops: {', '.join(stop.name for stop in STOPS)}")
    width, height = (int(n) for n in args.size.lower().split("x"))
    folder = ROOT / "screenshots"
    folder.mkdir(exist_ok=True)
    for stop in STOPS:
        if args.only and stop.name not in args.only:
            continue
        path = asyncio.run(shoot(stop, (width, height), folder))
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
