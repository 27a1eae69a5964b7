"""`python -m portal_tui` runs the same entry point as the `portal-tui` command."""

from portal_tui.cli import main

raise SystemExit(main())
