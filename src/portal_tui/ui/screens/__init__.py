"""One screen per file: each is a step of the admin's setup flow."""
