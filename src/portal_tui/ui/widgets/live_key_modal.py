"""The live key, asked for by Go live: paste it masked, it is checked against Stripe and kept like Connect keeps keys.

Saving it does not switch the app to live mode: the connected key stays the one in use until the admin chooses to
switch. Where no keyring works, the same choice as Connect: a 0600 file, or this session only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, LoadingIndicator, Static
from textual.worker import Worker, WorkerState, get_current_worker

from portal_tui.ui.context import portal
from portal_tui.ui.screens.connect import KeyInput
from portal_tui.ui.widgets.field_error import FieldError

if TYPE_CHECKING:
    from portal_tui.services.keystore import SecretKey, StoredKey


class LiveKeyModal(ModalScreen["StoredKey | None"]):
    """Dismisses with the stored live key once verified and kept; None when cancelled."""

    DEFAULT_CSS = """
    LiveKeyModal { align: center middle; }
    LiveKeyModal > Vertical {
        width: 76; max-width: 98%; height: auto; max-height: 95%; padding: 0 1;
        border: thick $error; background: $surface;
    }
    LiveKeyModal #live-key-title { text-style: bold; }
    LiveKeyModal .muted { color: $text-muted; }
    LiveKeyModal Horizontal { height: auto; }
    LiveKeyModal #live-key { width: 1fr; }
    LiveKeyModal #live-key-checking { height: 1; display: none; }
    LiveKeyModal #live-key-checking.visible { display: block; }
    LiveKeyModal #live-key-file { display: none; height: auto; }
    LiveKeyModal #live-key-file.visible { display: block; }
    LiveKeyModal Button { margin-right: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel (nothing saved)"),
        Binding("ctrl+r", "reveal", "Reveal the live key"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pending: SecretKey | None = None
        self.check: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Live secret key needed", id="live-key-title")
            yield Static(
                "Go live writes the verified plans' prices to your live account. Paste the live secret key "
                "(Dashboard → Developers → API keys, live mode): sk_live_… or rk_live_…. It is checked with Stripe "
                "and kept in the keyring; the app stays in its current mode.",
                classes="muted",
                markup=False,
            )
            yield KeyInput(placeholder="sk_live_…", password=True, id="live-key")
            yield FieldError(id="live-key-error")
            yield LoadingIndicator(id="live-key-checking")
            with Vertical(id="live-key-file", classes="notice"):
                yield Static(
                    "No system keyring works here. Keep the key in a file only your user can read (mode 0600), or "
                    "use it until you quit, saved nowhere.",
                    markup=False,
                )
                with Horizontal():
                    yield Button("Store in a 0600 file", id="live-key-store-file", variant="warning")
                    yield Button("This session only", id="live-key-session")
            with Horizontal():
                yield Static("enter checks and saves · esc cancels", classes="muted", id="live-key-keys")
                yield Button("Cancel", id="live-key-cancel")
                yield Button("Check and save", id="live-key-save", variant="error")

    def on_mount(self) -> None:
        self.query_one("#live-key", Input).focus()

    # ---- typing -----------------------------------------------------------------------------------------------

    @on(Input.Changed, "#live-key")
    def typed(self, event: Input.Changed) -> None:
        from portal_tui.services.keystore import check_partial

        self.query_one("#live-key-error", FieldError).show(check_partial(event.value))
        self.query_one("#live-key-file").remove_class("visible")  # the offer was for the key verified before

    def action_reveal(self) -> None:
        field = self.query_one("#live-key", Input)
        field.password = not field.password

    def hide_key(self) -> None:
        """Mask a revealed key (the app calls this before any screenshot)."""
        self.query_one("#live-key", Input).password = True

    # ---- checking and keeping -----------------------------------------------------------------------------------

    @on(Input.Submitted, "#live-key")
    @on(Button.Pressed, "#live-key-save")
    def save(self) -> None:
        from portal_tui.services.errors import KeyFormatError
        from portal_tui.services.keystore import parse_key

        error = self.query_one("#live-key-error", FieldError)
        try:
            key = parse_key(self.query_one("#live-key", Input).value)
        except KeyFormatError as exc:
            error.show(exc.message)
            return
        if key.mode != "live":
            error.show("That is a test-mode key. Go live needs the live secret key: sk_live_… or rk_live_….")
            return
        error.clear()
        self.pending = key
        self.set_busy(True)
        self.check = self.verify_and_keep(key)

    def set_busy(self, busy: bool) -> None:
        self.query_one("#live-key-checking").set_class(busy, "visible")
        self.query_one("#live-key-save", Button).disabled = busy

    @work(thread=True, exclusive=True, group="live-key")
    def verify_and_keep(self, key: SecretKey) -> None:
        from portal_tui.services.errors import KeyStorageError, PortalError

        context = portal(self).context
        try:
            account = context.gateway_for(key).verify()
        except PortalError as exc:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self.failed, exc.message + (f"\n{exc.hint}" if exc.hint else ""))
            return
        if not account.livemode:
            self.app.call_from_thread(self.failed, "Stripe answered for a test-mode account: paste the live key.")
            return
        if get_current_worker().is_cancelled:
            return
        if not context.keystore.keyring_available():
            self.app.call_from_thread(self.offer_file, None)
            return
        try:
            stored = context.keystore.save(key, activate=False)
        except KeyStorageError as exc:
            self.app.call_from_thread(self.offer_file, exc.message)
            return
        except PortalError as exc:
            self.app.call_from_thread(self.failed, f"{exc.message} {exc.hint or ''}".strip())
            return
        self.app.call_from_thread(self.kept, stored)

    def failed(self, message: str) -> None:
        self.set_busy(False)
        self.query_one("#live-key-error", FieldError).show(message)

    def offer_file(self, reason: str | None) -> None:
        self.set_busy(False)
        if reason:
            self.query_one("#live-key-error", FieldError).show(f"{reason} You can keep the key in a file instead.")
        self.query_one("#live-key-file").add_class("visible")
        self.query_one("#live-key-store-file", Button).focus()

    @on(Button.Pressed, "#live-key-store-file")
    def store_in_file(self) -> None:
        if self.pending is not None:
            self.set_busy(True)
            self.write_file(self.pending)

    @work(thread=True, exclusive=True, group="live-key")
    def write_file(self, key: SecretKey) -> None:
        from portal_tui.services.errors import PortalError

        try:
            stored = portal(self).context.keystore.save(key, allow_file=True, activate=False)
        except PortalError as exc:
            self.app.call_from_thread(self.failed, f"{exc.message} {exc.hint or ''}".strip())
            return
        self.app.call_from_thread(self.kept, stored)

    @on(Button.Pressed, "#live-key-session")
    def session_only(self) -> None:
        if self.pending is not None:
            self.kept(portal(self).context.keystore.session(self.pending))

    def kept(self, stored: StoredKey) -> None:
        self.set_busy(False)
        portal(self).context.remember_key(stored)
        self.query_one("#live-key", Input).value = ""
        self.dismiss(stored)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A crashed check (the app reports it) must not leave the spinner on and the button disabled.
        if event.state is WorkerState.ERROR:
            self.set_busy(False)

    @on(Button.Pressed, "#live-key-cancel")
    def action_cancel(self) -> None:
        if self.check is not None and self.check.state in (WorkerState.PENDING, WorkerState.RUNNING):
            self.check.cancel()
        self.query_one("#live-key", Input).value = ""
        self.dismiss(None)
