#!/usr/bin/env python3
"""Time to first frame: portal-tui against a bare Textual app, measured in the same run, in fresh processes.

Each run starts a new Python process that builds the app and exits right after its first screen update; the time
is measured from just before the process starts. Runs alternate between the two apps; medians and their ratio are
printed, of the wall time and of the CPU time the process used by its first frame (on a shared, busy machine the
wall time mostly measures the wait for a core; the CPU time does not). Target: portal-tui within 1.15x of a bare
Textual app. Run it with the bytecode cache on (`env -u PYTHONDONTWRITEBYTECODE`), as an installed app runs.

    .venv/bin/python scripts/bench_startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 1.15
CHILD = r"""
import sys, time
t0 = float(sys.argv[2])
kind = sys.argv[1]
from textual.app import App


def timed(cls):
    # The first frame is the first screen update written to the terminal with the app's own screen in it (not
    # Textual's blank default screen). Work an app starts after that frame (a worker reading the keyring, a
    # callback queued for after the refresh) is not counted, for either app.
    class Timed(cls):
        _reported = False

        def _display(self, screen, renderable):
            super()._display(screen, renderable)
            if renderable is not None and not self._reported and len(screen.children):
                self._reported = True
                # Wall time since just before the process started, and the CPU time the process used (all its
                # threads) by then: on a busy machine the wall time waits for a core, while the CPU time stays put.
                loaded = int("stripe" in sys.modules)
                sys.stdout.write(f"{time.perf_counter() - t0:.6f} {time.process_time():.6f} {loaded}\n")
                sys.stdout.flush()
                self.exit()

    return Timed


if kind == "bare":
    from textual.widgets import Footer, Header, Static

    class Bare(App):
        def compose(self):
            yield Header()
            yield Static("Hello")
            yield Footer()

    timed(Bare)().run(headless=True)
else:
    # The real start-up path of `portal-tui` with a saved key (here from STRIPE_API_KEY): the keyring and the
    # Stripe check happen after the first frame.
    from portal_tui.commands.app import real_context
    from portal_tui.ui.app import PortalApp

    context = real_context(None, "http://127.0.0.1:9")
    timed(PortalApp)(context, load_key_on_start=True).run(headless=True)
"""


def run_once(kind: str, folder: str) -> tuple[float, float, bool]:
    start = time.perf_counter()
    env = {**os.environ, "PORTAL_TUI_CONFIG_DIR": folder, "STRIPE_API_KEY": "sk_test_" + "Bench" * 8}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, repr(start), folder], capture_output=True, text=True, timeout=60, env=env
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr}")
    # perf_counter is system-wide monotonic on Linux, so the child's reading is comparable with ours.
    wall, cpu, stripe_loaded = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu), stripe_loaded == "1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)  # fewer gives medians that differ by 0.1x between runs
    args = parser.parse_args()
    bare: list[tuple[float, float, bool]] = []
    portal: list[tuple[float, float, bool]] = []
    with tempfile.TemporaryDirectory() as folder:
        run_once("bare", folder)  # warm the OS file cache for both
        run_once("portal", folder)
        for _ in range(args.runs):
            bare.append(run_once("bare", folder))
            portal.append(run_once("portal", folder))
    print(f"runs: {args.runs} each, alternating, fresh processes, headless; load average {os.getloadavg()[0]:.1f}")
    for column, what in ((0, "wall"), (1, "CPU ")):
        b_runs, p_runs = [run[column] for run in bare], [run[column] for run in portal]
        b, p = statistics.median(b_runs), statistics.median(p_runs)
        print(f"{what}  bare Textual app  first frame: median {b * 1000:7.1f} ms  (min {min(b_runs) * 1000:.1f})")
        print(f"{what}  portal-tui (home) first frame: median {p * 1000:7.1f} ms  (min {min(p_runs) * 1000:.1f})")
        print(f"{what}  ratio portal-tui / bare: {p / b:.2f}x  (target <= {TARGET:.2f}x)")
    print(f"stripe imported before the first frame: {any(run[2] for run in portal)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
