"""A local Stripe sandbox: an HTTP server that answers like Stripe's API for every call portal-tui makes.

No machine here reaches Stripe, so the tests, the screenshots and `portal-tui --demo` all talk to this server with
the real `stripe` client over HTTP. Where it could differ from Stripe, it follows Stripe.
"""

from portal_tui.sandbox.server import DEMO_KEY, FaultPlan, RecordedRequest, Sandbox

__all__ = ["DEMO_KEY", "FaultPlan", "RecordedRequest", "Sandbox"]
