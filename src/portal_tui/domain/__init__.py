"""Pure domain code: money, pricing models, plans. No Textual, no stripe, no I/O."""
