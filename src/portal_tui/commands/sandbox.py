"""`portal-tui sandbox`: serve the local Stripe sandbox so the app (or curl, or the stripe CLI) can use it."""

from __future__ import annotations

import sys
from typing import TextIO

from portal_tui.locations import API_BASE_ENV


def run_sandbox(*, port: int, seed: bool, out: TextIO | None = None) -> int:
    from portal_tui.sandbox import DEMO_KEY, DEMO_LIVE_KEY, Sandbox

    stream = out or sys.stdout
    sandbox = Sandbox(port=port, seed=seed)
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
        "Press Ctrl-C to stop.\n"
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
