"""What every screen can reach: the services, the connection state and the write-confirmation rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from portal_tui.services.config_store import ConfigStore
    from portal_tui.services.gateway import AccountInfo, StripeGateway
    from portal_tui.services.keystore import KeyStore, Mode, SecretKey, StoredKey


class GatewayOptions(TypedDict, total=False):
    """StripeGateway's tuning, the same for every gateway the app makes (tests lower the retry back-off)."""

    max_retries: int
    timeout: float
    retry_delay: float
    rate_limit_retries: int


@dataclass
class AppContext:
    """Services and connection state shared by all screens (owned by the app, read by screens)."""

    keystore: KeyStore
    config_store: ConfigStore
    api_base: str | None = None
    demo: bool = False
    # The demo's plan file sits in a temp folder deleted on quit (unless --demo --config PATH named one to keep).
    plans_are_throwaway: bool = False
    gateway_options: GatewayOptions = field(default_factory=lambda: GatewayOptions())
    stored_key: StoredKey | None = None
    account: AccountInfo | None = None
    # Go live works with both keys: the one connected, and the other mode's key (saved, from the environment, or
    # pasted on the Go live screen for this session only).
    other_keys: dict[str, StoredKey] = field(default_factory=dict, repr=False)
    _gateway: StripeGateway | None = field(default=None, repr=False)
    _mode_gateways: dict[str, tuple[SecretKey, StripeGateway]] = field(default_factory=dict, repr=False)

    @property
    def connected(self) -> bool:
        return self.stored_key is not None

    @property
    def livemode(self) -> bool:
        return self.stored_key is not None and self.stored_key.key.mode == "live"

    @property
    def plans_note(self) -> str | None:
        """Where the demo's plans go and that they go away; None when saved plans are kept (for save notices)."""
        if not self.plans_are_throwaway:
            return None
        return (
            f"Demo: plans are saved to {self.config_store.path} and thrown away when you quit. "
            "To keep them, run portal-tui --demo --config PATH."
        )

    def gateway(self) -> StripeGateway:
        """The gateway for the connected key; raises `NotConnectedError` before Connect Stripe."""
        from portal_tui.services.errors import NotConnectedError

        if self.stored_key is None:
            raise NotConnectedError()
        if self._gateway is None:
            self._gateway = self.gateway_for(self.stored_key.key)
        return self._gateway

    def gateway_for(self, key: SecretKey) -> StripeGateway:
        """A new gateway for `key` (one not yet connected, e.g. while Connect verifies it)."""
        from portal_tui.services.gateway import StripeGateway

        return StripeGateway(key, api_base=self.api_base, **self.gateway_options)

    def key_for(self, mode: Mode) -> StoredKey | None:
        """The key for `mode`: the connected one, one remembered this session, $STRIPE_API_KEY, or the saved one.

        Reads the keyring (which may wait on an unlock prompt): call it in a worker.
        """
        if self.stored_key is not None and self.stored_key.key.mode == mode:
            return self.stored_key
        if mode in self.other_keys:
            return self.other_keys[mode]
        env = self.keystore.from_environment()
        if env is not None and env.key.mode == mode:
            return env
        return self.keystore.get(mode)

    def remember_key(self, stored_key: StoredKey) -> None:
        """Keep a key of the other mode for this session (Go live's live key), saved or not."""
        self.other_keys[stored_key.key.mode] = stored_key

    def gateway_for_mode(self, mode: Mode) -> StripeGateway | None:
        """A gateway with the key for `mode` (None when there is none); the connected one for its own mode."""
        stored = self.key_for(mode)
        if stored is None:
            return None
        if stored is self.stored_key:
            return self.gateway()
        cached = self._mode_gateways.get(mode)
        if cached is None or cached[0] != stored.key:
            cached = (stored.key, self.gateway_for(stored.key))
            self._mode_gateways[mode] = cached
        return cached[1]

    def connect(self, stored_key: StoredKey, account: AccountInfo) -> None:
        self.stored_key, self.account, self._gateway = stored_key, account, None

    def disconnect(self) -> None:
        self.stored_key, self.account, self._gateway = None, None, None


class PortalAppAPI(Protocol):
    """What screens may call on the app (implemented by `PortalApp`)."""

    context: AppContext
    price_to_replace: dict[str, Any] | None  # set by `replace_price`, taken by the builder as it comes on view

    async def confirm_write(self, action: str, details: str = "", *, live: bool | None = None) -> bool:
        """True at once in test mode; in live mode asks the admin first (every live write). `live=True` asks
        whatever the connected key (Go live writes with the live key while connected in test mode)."""

    def plan_file_changed(self) -> None:
        """The plan file was written outside the plan editor: an editor without unsaved edits reloads it."""

    def connection_changed(self) -> None:
        """Refresh the header badge and the home screen after connect/disconnect."""

    def catalog_changed(self) -> None:
        """Tell every built screen that a price was created, replaced or archived (their price caches are stale)."""

    def open_step(self, step: str) -> None:
        """Go to a step of the flow: "home", "connect", "builder", "catalog", "plans", "verify", "go_live"."""

    def replace_price(self, price: dict[str, Any]) -> None:
        """Open the builder prefilled from `price` (a Stripe price), to create its replacement."""

    def link_price_to_plan(self, price_id: str) -> None:
        """Open the plan editor with `price_id` ready to be linked to a plan."""


def portal(node: DOMNode) -> PortalAppAPI:
    """The running app, typed for screens: `portal(self).context.gateway()`."""
    return cast("PortalAppAPI", node.app)
