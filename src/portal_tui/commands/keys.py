"""Which key a command uses for a mode: $STRIPE_API_KEY when it is a key of that mode, else the key saved for it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from portal_tui.services.errors import NotConnectedError

if TYPE_CHECKING:
    from portal_tui.services.gateway import StripeGateway
    from portal_tui.services.keystore import StoredKey

Mode = Literal["test", "live"]


def key_for_mode(mode: Mode, env: Mapping[str, str] | None = None) -> StoredKey | None:
    """$STRIPE_API_KEY if it holds a `mode` key, else the key the app saved for `mode` (keyring or 0600 file).

    A malformed $STRIPE_API_KEY raises KeyFormatError naming the variable; an unreadable keyring KeyStorageError.
    """
    from portal_tui import locations
    from portal_tui.services.keystore import KeyStore

    store = KeyStore(locations.config_dir(), env=os.environ if env is None else env)
    from_env = store.from_environment()
    if from_env is not None and from_env.key.mode == mode:
        return from_env
    return store.get(mode)


def missing_key_message(mode: Mode, env: Mapping[str, str] | None = None) -> str:
    """What to do when there is no `mode` key; names a $STRIPE_API_KEY of the other mode when that is the cause."""
    from portal_tui.services.keystore import ENV_VAR

    environ = os.environ if env is None else env
    where = "step 6 (Go live) or step 1" if mode == "live" else "step 1 (Connect Stripe)"
    message = f"no {mode} key saved: run portal-tui, {where}, or set {ENV_VAR}"
    value = environ.get(ENV_VAR, "").strip()
    if value:
        other = "live" if mode == "test" else "test"
        message = f"{ENV_VAR} holds a {other} key and {message} to a {mode} key"
    return message


def require_key(mode: Mode, env: Mapping[str, str] | None = None) -> StoredKey:
    stored = key_for_mode(mode, env)
    if stored is None:
        raise NotConnectedError(missing_key_message(mode, env))
    return stored


def gateway_for(mode: Mode, api_base: str | None, env: Mapping[str, str] | None = None) -> StripeGateway:
    from portal_tui.services.gateway import StripeGateway

    return StripeGateway(require_key(mode, env).key, api_base=api_base)
