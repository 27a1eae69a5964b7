"""Connect Stripe (the portal's "Payment Processor" page): paste the secret key, verify it, keep it safe."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, LoadingIndicator, Static
from textual.worker import Worker, WorkerState, get_current_worker

from portal_tui.ui.context import portal
from portal_tui.ui.widgets.confirm import ConfirmModal
from portal_tui.ui.widgets.field_error import FieldError
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from portal_tui.services.gateway import AccountInfo
    from portal_tui.services.keystore import SecretKey, StoredKey


class KeyInput(Input):
    """The key field: a paste keeps every line, joined without whitespace.

    Terminals wrap a long key (today's are ~107 characters) and Textual's Input keeps only a paste's first line,
    which would leave a cut-off key that fails as "too short".
    """

    def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # Input's own handler would insert the first line only
        event.stop()
        text = "".join(event.text.split())
        if not text:
            return
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *selection)


class ConnectScreen(Screen[None]):
    """Checks the key against Stripe in a worker, then stores it in the keyring (or, if chosen, a 0600 file)."""

    DEFAULT_CLASSES = "dense"  # one-row fields (app CSS): the key field and its buttons take one row each
    DEFAULT_CSS = """
    ConnectScreen #connect-form { padding: 0 1; height: auto; }
    ConnectScreen #key-row { height: auto; }
    ConnectScreen #secret-key { width: 1fr; }
    ConnectScreen #reveal { width: 12; }
    ConnectScreen #buttons { height: auto; margin-top: 1; }
    ConnectScreen #buttons Button { margin-right: 2; }
    ConnectScreen #checking { height: 1; display: none; }
    ConnectScreen #checking.visible { display: block; }
    ConnectScreen #account { margin-top: 1; }
    ConnectScreen #file-choice { display: none; margin-top: 1; }
    ConnectScreen #file-choice.visible { display: block; }
    ConnectScreen #file-buttons { height: auto; }
    ConnectScreen #file-buttons Button { margin-right: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save configuration"),
        Binding("ctrl+r", "reveal", "Reveal key"),
        # Escape cancels a running check; otherwise it leaves the key field, so ?, h and 1–5 work as keys again.
        Binding("escape", "cancel", "Cancel check / leave field"),
        Binding("ctrl+d", "disconnect", "Disconnect", priority=True),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Connect: verify and save the key", "Check the pasted key against Stripe", "save"),
        ("Connect: disconnect", "Remove the saved key", "disconnect"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pending: SecretKey | None = None
        self.pending_account: AccountInfo | None = None
        self.verify_worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("1 Connect Stripe")
        with VerticalScroll(id="connect-form"):
            yield Label("Stripe secret key", classes="step-title")
            yield Static(
                "Dashboard → Developers → API keys → Secret key (sk_test_… for test mode, sk_live_… for live).",
                classes="muted",
            )
            with Horizontal(id="key-row"):
                yield KeyInput(placeholder="sk_test_…", password=True, id="secret-key")
                yield Button("Reveal", id="reveal")
            yield FieldError(id="key-error")
            with Horizontal(id="buttons"):
                yield Button("Save configuration", id="save", variant="primary")
                yield Button("Disconnect", id="disconnect", variant="error")
            yield LoadingIndicator(id="checking")
            with Vertical(id="file-choice", classes="notice"):
                yield Static(
                    "No system keyring works on this machine (common on headless SSH servers). portal-tui can keep "
                    "the key in a file only your user can read (mode 0600) in its config folder; anyone with root "
                    "or your account can still read it. Or use the key until you quit, saved nowhere: you paste "
                    "it again next time.",
                    markup=False,
                )
                with Horizontal(id="file-buttons"):
                    yield Button("Store in a 0600 file", id="store-file", variant="warning")
                    yield Button("Use for this session only (not saved)", id="session-only")
            yield Static("", id="account", markup=False)
            yield Static("", id="live-notice", classes="notice-live")
        yield KeyBar()

    def on_mount(self) -> None:
        self.show_connection()
        if not portal(self).context.connected:
            self.query_one("#secret-key", Input).focus()
        else:
            self.set_focus(None)

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        self.show_connection()

    def connection_changed(self) -> None:
        self.show_connection()

    # ---- showing state ----------------------------------------------------------------------------------------

    def show_connection(self) -> None:
        context = portal(self).context
        account = self.query_one("#account", Static)
        live = self.query_one("#live-notice", Static)
        stored = context.stored_key
        if stored is None:
            account.update("Not connected.")
            live.display = False
            self.query_one("#disconnect", Button).disabled = True
            return
        self.query_one("#disconnect", Button).disabled = False
        lines = []
        if context.account is not None:
            info = context.account
            lines.append(f"Connected: {info.display_name} ({info.id})")
            lines.append(f"Country: {info.country or '—'} · default currency: {(info.default_currency or '—').upper()}")
            if info.restricted:
                lines.append("Restricted key: some steps may lack permissions.")
        lines.append(f"Mode: {'LIVE' if stored.key.mode == 'live' else 'TEST'} · key {stored.key.masked}")
        lines.append(f"Kept {stored.description}")
        if stored.source.value == "environment":
            lines.append("It comes from the environment, so Disconnect cannot remove it: unset STRIPE_API_KEY.")
        account.update("\n".join(lines))
        live.display = stored.key.mode == "live"
        live.update("LIVE MODE: real customers and money. Every write will ask for confirmation first.")

    def set_busy(self, busy: bool) -> None:
        self.query_one("#checking", LoadingIndicator).set_class(busy, "visible")
        self.query_one("#save", Button).disabled = busy

    # ---- typing ----------------------------------------------------------------------------------------------

    @on(Input.Changed, "#secret-key")
    def check_as_you_type(self, event: Input.Changed) -> None:
        from portal_tui.services.keystore import check_partial

        self.query_one("#key-error", FieldError).show(check_partial(event.value))
        if self.query_one("#file-choice").has_class("visible"):
            # A different key now: the offer was for the one verified, and so was "Key verified for …".
            self.query_one("#file-choice").remove_class("visible")
            self.show_connection()

    def action_reveal(self) -> None:
        field = self.query_one("#secret-key", Input)
        field.password = not field.password
        self.query_one("#reveal", Button).label = "Hide" if not field.password else "Reveal"

    def hide_key(self) -> None:
        """Mask a revealed key (before any screenshot)."""
        if not self.query_one("#secret-key", Input).password:
            self.action_reveal()

    @on(Button.Pressed, "#reveal")
    def reveal_pressed(self) -> None:
        self.action_reveal()

    # ---- saving -------------------------------------------------------------------------------------------------

    @on(Input.Submitted, "#secret-key")
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        from portal_tui.services.errors import KeyFormatError
        from portal_tui.services.keystore import parse_key

        error = self.query_one("#key-error", FieldError)
        try:
            key = parse_key(self.query_one("#secret-key", Input).value)
        except KeyFormatError as exc:
            error.show(exc.message)
            self.query_one("#secret-key", Input).focus()
            return
        error.clear()
        self.pending = key
        self.set_busy(True)
        self.verify_worker = self.verify(key)

    @work(thread=True, exclusive=True, group="verify-key")
    def verify(self, key: SecretKey) -> None:
        """Check the key with Stripe, then keep it: both block (a keyring may wait on an unlock prompt)."""
        from portal_tui.services.errors import InvalidKeyError, KeyStorageError, PortalError

        context = portal(self).context
        try:
            account = context.gateway_for(key).verify()
        except PortalError as exc:
            message, hint = exc.message, exc.hint
            if isinstance(exc, InvalidKeyError) and key.mode == "live" and context.demo:
                # The demo's sandbox plays a test-mode account only: say so rather than "wrong or revoked".
                message = "The demo runs on a local sandbox that plays a test-mode account: it refuses live keys."
                hint = "Paste any sk_test_… key here, or start portal-tui --no-demo to connect your own account."
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self.verify_failed, message, hint)
            return
        if get_current_worker().is_cancelled:
            return  # the admin was told nothing is saved
        stored: StoredKey | None = None
        problem: str | None = None
        offer_file = False
        if context.keystore.keyring_available():
            try:
                stored = context.keystore.save(key)
            except KeyStorageError as exc:
                # A keyring that exists but refuses (locked, no prompter over SSH): offer the file, like no keyring.
                offer_file, problem = True, exc.message
            except PortalError as exc:
                problem = f"{exc.message} {exc.hint or ''}"
        else:
            offer_file = True
        # Reported even if cancelled meanwhile: once saved, the key is saved, and the screen must say so.
        self.app.call_from_thread(self.verified, account, stored, problem, offer_file)

    def verify_failed(self, message: str, hint: str | None) -> None:
        self.set_busy(False)
        self.query_one("#key-error", FieldError).show(message + (f"\n{hint}" if hint else ""))

    def verified(self, account: AccountInfo, stored: StoredKey | None, problem: str | None, offer_file: bool) -> None:
        self.set_busy(False)
        if stored is not None:
            self.query_one("#key-error", FieldError).clear()
            self.finish(stored, account)
        elif offer_file:
            self.offer_file(account, problem)
        else:
            self.query_one("#key-error", FieldError).show(problem or "")

    def offer_file(self, account: AccountInfo, reason: str | None) -> None:
        self.pending_account = account
        # The key is good: "Not connected." here would read as if the check had failed.
        self.query_one("#account", Static).update(
            f"Key verified for {account.display_name} ({account.id}) — choose where to keep it."
        )
        if reason:
            self.query_one("#key-error", FieldError).show(f"{reason} You can keep the key in a file instead.")
        self.query_one("#file-choice").add_class("visible")
        self.query_one("#store-file", Button).focus()

    @on(Button.Pressed, "#store-file")
    def store_in_file(self) -> None:
        if self.pending is None:
            return
        self.set_busy(True)
        self.query_one("#store-file", Button).disabled = True
        self.write_key_file(self.pending)

    @on(Button.Pressed, "#session-only")
    def use_for_session(self) -> None:
        if self.pending is None or self.pending_account is None:
            return
        self.query_one("#file-choice").remove_class("visible")
        self.query_one("#key-error", FieldError).clear()
        self.finish(portal(self).context.keystore.session(self.pending), self.pending_account)

    @work(thread=True, exclusive=True, group="store-key")
    def write_key_file(self, key: SecretKey) -> None:
        from portal_tui.services.errors import PortalError

        try:
            stored = portal(self).context.keystore.save(key, allow_file=True)
        except PortalError as exc:
            self.app.call_from_thread(self.file_failed, f"{exc.message} {exc.hint or ''}")
            return
        self.app.call_from_thread(self.stored_in_file, stored)

    def file_failed(self, message: str) -> None:
        self.set_busy(False)
        self.query_one("#store-file", Button).disabled = False
        self.query_one("#key-error", FieldError).show(message)

    def stored_in_file(self, stored: StoredKey) -> None:
        self.set_busy(False)
        self.query_one("#store-file", Button).disabled = False
        self.query_one("#file-choice").remove_class("visible")
        self.query_one("#key-error", FieldError).clear()
        if self.pending_account is not None:
            self.finish(stored, self.pending_account)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A worker that crashed (the app reports it) must not leave the spinner on and Save disabled.
        if event.state is WorkerState.ERROR and event.worker.group in ("verify-key", "store-key", "forget-key"):
            self.set_busy(False)
            self.query_one("#store-file", Button).disabled = False
            self.show_connection()

    def finish(self, stored: StoredKey, account: AccountInfo) -> None:
        context = portal(self).context
        context.connect(stored, account)
        field = self.query_one("#secret-key", Input)
        field.value = ""
        if not field.password:  # a revealed key field goes back to masked: the next key pasted is not shown
            self.action_reveal()
        self.pending = None
        portal(self).connection_changed()
        self.show_connection()
        mode = "LIVE" if stored.key.mode == "live" else "test"
        self.notify(f"Connected to {account.display_name} in {mode} mode; key kept {stored.description}.")

    def action_cancel(self) -> None:
        worker = self.verify_worker
        if worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            worker.cancel()
            self.set_busy(False)
            self.query_one("#key-error", FieldError).show("Check cancelled. Nothing was saved.", hint=True)
            return
        self.set_focus(None)

    # ---- disconnect ------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#disconnect")
    def action_disconnect(self) -> None:
        context = portal(self).context
        stored = context.stored_key
        if stored is None:
            return
        if stored.source.value == "environment":
            self.notify("The key comes from STRIPE_API_KEY: unset it to disconnect.", severity="warning")
            return
        if stored.source.value == "session":
            # Saved nowhere, so nothing to remove and nothing to confirm: the keyring and file are not touched.
            portal(self).context.disconnect()
            portal(self).connection_changed()
            self.show_connection()
            self.notify("Disconnected; the key was used for this session only and was never saved.")
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.query_one("#disconnect", Button).disabled = True
                self.forget(stored)

        self.app.push_screen(
            ConfirmModal(
                "Disconnect Stripe?",
                f"This removes the {stored.key.mode}-mode key {stored.key.masked} from {stored.location}.",
                confirm_label="Disconnect",
            ),
            done,
        )

    @work(thread=True, exclusive=True, group="forget-key")
    def forget(self, stored: StoredKey) -> None:
        """Remove the key: the keyring may wait on an unlock prompt, so never on the event loop."""
        from portal_tui.services.errors import PortalError

        try:
            portal(self).context.keystore.remove(stored.key.mode)
        except PortalError as exc:
            self.app.call_from_thread(self.forget_failed, exc.message, exc.title)
            return
        self.app.call_from_thread(self.forgotten, stored)

    def forget_failed(self, message: str, title: str) -> None:
        self.query_one("#disconnect", Button).disabled = False
        self.notify(message, title=title, severity="error")

    def forgotten(self, stored: StoredKey) -> None:
        portal(self).context.disconnect()
        portal(self).connection_changed()
        self.show_connection()
        self.notify(f"Disconnected; the key was removed from {stored.location}.")
