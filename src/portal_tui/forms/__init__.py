"""Form models: plain typed classes holding a form's state and rules, with no Textual in them.

A form model keeps what the admin typed (as text and choices), which fields apply, every problem keyed by field,
whether there are unsaved changes, and what a create or save would send. Screens bind their widgets to one and only
render what it says, so the rules are tested fast without a terminal. Layers: ui → forms → services → domain.
"""
