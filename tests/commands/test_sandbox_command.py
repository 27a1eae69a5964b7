"""`portal-tui sandbox --port N` as an admin runs it: a real process the stripe client reaches over HTTP."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import stripe

from portal_tui.sandbox import DEMO_KEY, DEMO_LIVE_KEY
from tests.conftest import TEST_KEY


def test_sandbox_command_serves_the_seeded_catalog_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal_tui", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, first
        banner = [first]
        while not banner[-1].startswith("Press Ctrl-C"):
            banner.append(proc.stdout.readline())
        assert "serves test and live mode" in first
        assert DEMO_KEY in "".join(banner) and DEMO_LIVE_KEY in "".join(banner)
        client = stripe.StripeClient(TEST_KEY, base_addresses={"api": match.group(0)})
        assert len(client.v1.prices.list(params={"limit": 100}).data) == 14  # archived one included
        assert client.v1.accounts.retrieve_current().id.startswith("acct_")
        # The live world starts empty, so Go live has a catalog to create; its account can charge.
        live = stripe.StripeClient(DEMO_LIVE_KEY, base_addresses={"api": match.group(0)})
        assert live.v1.prices.list().data == [] and live.v1.accounts.retrieve_current().charges_enabled
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Stopped." in out


def test_sandbox_command_reports_a_busy_port() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "portal_tui", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
