"""Launch the TUI: against Stripe with the saved key, or (`--demo`, or no key at all) against the built-in sandbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal_tui.ui.context import AppContext


def demo_context(folder: Path, api_base: str, plans: Path | None = None) -> AppContext:
    """A connected context on the sandbox, with a throwaway keyring holding a test and a live key (used by --demo and
    screenshots).

    The plans go to `plans` when the admin named a file (`--demo --config PATH`), else into `folder` with the rest,
    thrown away on quit. The key store is always throwaway: the demo never touches the real keyring or config.
    """
    from portal_tui.sandbox import DEMO_KEY, DEMO_LIVE_KEY
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.gateway import AccountInfo
    from portal_tui.services.keystore import KeyStore, parse_key
    from portal_tui.services.memory_keyring import MemoryKeyring
    from portal_tui.ui.context import AppContext

    keystore = KeyStore(folder, env={}, backend=MemoryKeyring())
    stored = keystore.save(parse_key(DEMO_KEY))
    # Both keys, so Go live (6) can promote to the sandbox's live world offline; the demo stays in test mode.
    keystore.save(parse_key(DEMO_LIVE_KEY), activate=False)
    context = AppContext(
        keystore=keystore,
        config_store=ConfigStore(plans or folder / "plans.toml"),
        api_base=api_base,
        demo=True,
        plans_are_throwaway=plans is None,
    )
    # The sandbox's account, known without a request so the first frame needs no network.
    account = AccountInfo("acct_1PortalSandbox01", "Sandbox Hosting Ltd", "GB", "gbp", livemode=False)
    context.connect(stored, account)
    return context


def real_context(config: str | None, api_base: str | None, *, force: bool = False) -> AppContext | None:
    """The context for the admin's own Stripe account, or None when no key was ever saved (then: the demo).

    Decided from the environment and the non-secret state file only: the keyring is read after the first frame.
    """
    from portal_tui import locations
    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.keystore import KeyStore
    from portal_tui.ui.context import AppContext

    keystore = KeyStore(locations.config_dir())
    if not force and not keystore.has_saved_key() and api_base is None:
        return None
    return AppContext(keystore=keystore, config_store=ConfigStore(locations.plans_file(config)), api_base=api_base)


def run_app(*, config: str | None, api_base: str | None, demo: bool, no_demo: bool = False) -> int:
    from portal_tui import locations

    context = None if demo else real_context(config, api_base, force=no_demo)
    if context is None:
        if not demo:
            sys.stderr.write(
                "portal-tui: no Stripe key saved yet, so this is the demo on a local sandbox. "
                "To connect your own Stripe account run: portal-tui --no-demo\n"
            )
        # Only a plan file named on the command line with --demo: PORTAL_TUI_CONFIG and the default file are the
        # admin's real plans, which sandbox price IDs must not overwrite.
        return _run_demo(locations.plans_file(config) if demo and config else None)
    from portal_tui.ui.app import PortalApp

    PortalApp(context, load_key_on_start=True).run()
    return 0


def _run_demo(plans: Path | None = None) -> int:
    import tempfile  # the demo's alone: not worth its import on the real start-up path

    from portal_tui.sandbox import Sandbox
    from portal_tui.ui.app import PortalApp

    with tempfile.TemporaryDirectory(prefix="portal-tui-demo-") as folder, Sandbox(seed=True) as sandbox:
        context = demo_context(Path(folder), sandbox.url, plans)
        PortalApp(context, start_notice=context.plans_note).run()
    return 0
