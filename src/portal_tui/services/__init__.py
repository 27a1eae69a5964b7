"""Services: the Stripe gateway, the key store, the plan config store. No Textual."""
