"""portal-tui: set up subscription billing for a SaaS or hosting portal on Stripe, from a terminal."""

__version__ = "0.1.0"
