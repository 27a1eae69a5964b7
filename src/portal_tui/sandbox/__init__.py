"""A local HTTP server that speaks enough of Stripe's API for portal-tui, its tests and its demo."""
