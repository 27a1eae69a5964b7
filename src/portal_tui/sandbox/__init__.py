"""A local Stripe sandbox: an HTTP server that answers like Stripe's API for every call portal-tui makes.

No machine here reaches Stripe, so the tests, the screenshots and `portal-tui --demo` all talk to this server with
the real `stripe` client over HTTP. Where it could differ from Stripe, it follows Stripe. One sandbox plays one
account in both modes: `sk_test_`/`rk_test_` keys open its test world, `sk_live_`/`rk_live_` keys its live world.
"""

from portal_tui.sandbox.account import AccountSettings
from portal_tui.sandbox.server import DEMO_KEY, DEMO_LIVE_KEY, FaultPlan, RecordedRequest, Sandbox

__all__ = ["DEMO_KEY", "DEMO_LIVE_KEY", "AccountSettings", "FaultPlan", "RecordedRequest", "Sandbox"]
