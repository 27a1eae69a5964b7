"""The portal-tui application: the six steps of the setup flow as modes, one key press apart."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget

from portal_tui.ui.context import AppContext
from portal_tui.ui.steps import STEPS
from portal_tui.ui.widgets.status_line import Notice, NoticeBoard, NoticePosted, StatusLine

if TYPE_CHECKING:
    from rich.traceback import Trace

    from portal_tui.ui.screens.plans import PlansScreen

SCREEN_CLASSES = {
    "home": ("home", "HomeScreen"),
    "connect": ("connect", "ConnectScreen"),
    "builder": ("builder", "BuilderScreen"),
    "catalog": ("catalog", "CatalogScreen"),
    "plans": ("plans", "PlansScreen"),
    "verify": ("verify", "VerifyScreen"),
    "go_live": ("go_live", "GoLiveScreen"),
}


def screen_class(mode: str) -> type[Screen[None]]:
    """The screen class of a step, imported on first use: start-up stays fast."""
    from importlib import import_module

    module_name, class_name = SCREEN_CLASSES[mode]
    cls: type[Screen[None]] = getattr(import_module(f"portal_tui.ui.screens.{module_name}"), class_name)
    return cls


def binding_keys(cls: type[object], action: str) -> str | None:
    """The keys bound to `action` in a class's BINDINGS ("ctrl+s", "c / enter"), for the palette's help text."""
    keys: list[str] = []
    for binding in Binding.make_bindings(getattr(cls, "BINDINGS", [])):
        if binding.action == action:
            key = binding.key_display or binding.key
            if key not in keys:
                keys.append(key)
    return " / ".join(keys) or None


def with_keys(help_text: str, keys: str | None) -> str:
    return f"{help_text} — {keys}" if keys else help_text


def _redact_trace(trace: Trace) -> None:
    """Mask keys in everything a traceback prints that is not source code: exception texts and notes."""
    from portal_tui.services.redact import redact

    for stack in trace.stacks:
        stack.exc_value = redact(stack.exc_value)
        stack.notes = [redact(note) for note in stack.notes]
        if stack.syntax_error is not None:
            stack.syntax_error.line = redact(stack.syntax_error.line)
            stack.syntax_error.msg = redact(stack.syntax_error.msg)
        for frame in stack.frames:
            frame.locals = None
        for inner in stack.exceptions:
            _redact_trace(inner)


class PortalApp(App[None]):
    """Set up subscription billing on Stripe: connect, build prices, pick IDs, edit plans, verify, go live."""

    TITLE = "portal-tui"
    CSS = """
    Screen { background: $background; }
    .step-title { text-style: bold; padding: 0 1; margin-top: 1; }
    .muted { color: $text-muted; }
    .panel { border: round $panel; padding: 0 1; height: auto; }
    .notice { background: $warning 20%; padding: 0 1; height: auto; }
    .notice-live { background: $error 25%; padding: 0 1; height: auto; }
    /* Dense forms (screens with class "dense"): one-row fields with their labels beside them, as in Posting and
       Harlequin, so a whole form fits 80×24. Focus: a bar at the field's left edge on a lighter background. */
    .dense Input { height: 1; border: none; padding: 0 1; }
    .dense Input:focus { border: none; border-left: outer $accent; padding-left: 0; background: $boost; }
    .dense Input.-invalid { border: none; border-left: outer $error 60%; padding-left: 0; }
    .dense Input.-invalid:focus { border: none; border-left: outer $error; padding-left: 0; }
    .dense Select > SelectCurrent { height: 1; border: none; padding: 0 1; }
    .dense Select:focus > SelectCurrent { border: none; border-left: outer $accent; padding-left: 0;
                                          background: $boost; }
    .dense Button { height: 1; min-width: 0; border: none; padding: 0 1; }
    .dense Checkbox { height: 1; border: none; padding: 0 1; }
    .dense Checkbox:focus { border: none; border-left: outer $accent; padding-left: 0; }
    """
    # The steps are modes (added in __init__, each screen built when its step is first opened).
    DEFAULT_MODE = "home"
    # The notice on the status line of every screen (None: the line is empty).
    notice: reactive[Notice | None] = reactive(None, always_update=True)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h,0", "open_step('home')", "Home"),
        *[Binding(key, f"open_step('{mode}')", title, show=False) for key, mode, title, _what in STEPS],
        # Function keys work even while typing in a field (digits then go into the field).
        *[
            Binding(f"f{key}", f"open_step('{mode}')", title, show=False, priority=True)
            for key, mode, title, _what in STEPS
        ],
        Binding("f7", "open_step('home')", "Home", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        # Leaving a text field gives the single-key bindings (?, h, 1–6, …) back; screens with their own escape
        # (cancel a check, back to the table) take it first.
        Binding("escape", "leave_field", "Leave the text field", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("f8", "notices", "Notices (the last messages)", show=False, priority=True),
    ]

    def __init__(
        self, context: AppContext, *, load_key_on_start: bool = False, start_notice: str | None = None
    ) -> None:
        super().__init__()
        for mode in SCREEN_CLASSES:
            self.add_mode(mode, partial(self._build_step, mode))
        self.context = context
        self.load_key_on_start = load_key_on_start
        # Shown once after the first frame (the demo says where its plans go); screenshots and tests pass none.
        self.start_notice = start_notice
        self._failing: BaseException | None = None
        self.price_to_replace: dict[str, Any] | None = None  # for the builder, from the catalog's "Replace price…"
        self.notices = NoticeBoard()
        # Notices show on the status line above the key bar (widgets/status_line.py), not as Textual's toasts, which
        # covered the lower right of the form: no screen gets a toast rack (as in run_test(notifications=False)).
        self._disable_notifications = True
        # Each open modal, the screen under it and the control that had focus there when it opened.
        self._modal_openers: list[tuple[Screen[object], Screen[object], Widget | None]] = []

    def _build_step(self, mode: str) -> Screen[None]:
        """A step's screen, built when the step is first opened.

        Textual restyles every screen of every mode, after parsing all the CSS again, when it opens a mode whose
        screen missed a CSS change (a theme switch). A screen built now missed none (it is styled as it mounts), so
        it is marked current: the home screen's first frame and each step's first opening skip that pass."""
        screen = screen_class(mode)()
        current = getattr(self, "_css_update_count", None)  # Textual's count of CSS changes (private: if gone, skip)
        if isinstance(current, int):
            screen._css_update_count = current
        return screen

    # ---- errors: never a key on screen or in a traceback ------------------------------------------------------

    def _handle_exception(self, error: Exception) -> None:
        """A failed worker becomes a notification and the app stays up (nothing typed is lost); anything else
        exits, and `_fatal_error` prints its traceback without locals and with every key masked."""
        from textual.worker import WorkerFailed

        if isinstance(error, WorkerFailed) and isinstance(error.error, Exception):
            self.report_error(error.error)
            return
        self._failing = error
        super()._handle_exception(error)

    def report_error(self, error: Exception) -> None:
        """An error notification for an exception no screen caught; its text masked."""
        from portal_tui.services.errors import PortalError
        from portal_tui.services.redact import redact

        if isinstance(error, PortalError):
            text = error.message + (f"\n{error.hint}" if error.hint else "")
            self.notify(redact(text), title=redact(error.title), severity="error", timeout=10, markup=False)
            return
        self.notify(
            redact(f"{type(error).__name__}: {error}"),
            title="Something went wrong (nothing was lost)",
            severity="error",
            timeout=10,
            markup=False,
        )

    # ---- notices: the status line, never a toast over the form -----------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every screen's notify() lands here: on the status line above the key bar, each notice once per run.
        Thread-safe, like Textual's."""
        seconds = self.NOTIFICATION_TIMEOUT if timeout is None else timeout
        self.post_message(NoticePosted(Notice.of(message, title, severity, seconds, markup=markup)))

    def on_notice_posted(self, event: NoticePosted) -> None:
        notice = self.notices.add(event.notice)
        if notice is None:
            return  # shown before this run
        # Textual's own record too (no toast shows it), for anything that reads the app's notifications.
        super().notify(
            notice.message, title=notice.title, severity=notice.severity, timeout=notice.timeout, markup=False
        )
        if isinstance(self.screen, ModalScreen) and not self.screen.query_children(StatusLine):
            # A dialog gets its own line, on the same row: the one under it is dimmed by the dialog's backdrop.
            self.screen.mount(StatusLine())
        self.notice = notice
        self.set_timer(notice.timeout, lambda: self._expire(notice))

    def _expire(self, notice: Notice) -> None:
        if self.notices.expire(notice):
            self.notice = None

    def action_notices(self) -> None:
        from portal_tui.ui.widgets.notice_log import NoticeLogModal

        if not isinstance(self.screen, NoticeLogModal):
            self.push_screen(NoticeLogModal(self.notices.recent))

    def _fatal_error(self) -> None:
        # Textual's own version shows every frame's locals: KeyStore.get's `value`, parse_key's `raw`, a keyring's
        # `password` and the SDK's `api_key` would all print the raw key.
        from rich.segment import Segment, Segments
        from rich.traceback import Traceback

        from portal_tui.services.redact import redact

        error = self._failing or sys.exc_info()[1]
        self.bell()
        if error is not None:
            trace = Traceback.extract(type(error), error, error.__traceback__, show_locals=False)
            _redact_trace(trace)
            rendered = self.console.render(Traceback(trace, width=None, show_locals=False), self.console.options)
            # A second pass over the rendered text, for anything key-shaped the trace fields did not hold.
            self._exit_renderables.append(
                Segments([Segment(redact(seg.text), seg.style, seg.control) for seg in rendered])
            )
        self._close_messages_no_wait()

    # ---- PortalAppAPI -----------------------------------------------------------------------------------------

    async def confirm_write(self, action: str, details: str = "", *, live: bool | None = None) -> bool:
        """True at once in test mode; in live mode the admin must confirm every write.

        `live=True` asks whatever the connected key: Go live writes to the live account with the live key while the
        app may still be connected in test mode.
        """
        if not (self.context.livemode if live is None else live):
            return True
        from portal_tui.ui.widgets.confirm import ConfirmModal

        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        modal = ConfirmModal(
            f"LIVE MODE: {action}?",
            (details + "\n\n" if details else "") + "This changes your live Stripe account, where real customers pay.",
            confirm_label="Yes, change live data",
            live=True,
        )
        self.push_screen(modal, lambda result: answer.set_result(bool(result)) if not answer.done() else None)
        return await answer

    def _built_screens(self) -> list[Screen[object]]:
        """Every screen already built and mounted, in any mode, not only the visible one."""
        screens: list[Screen[object]] = []
        for stack in [*self._screen_stacks.values(), self.screen_stack]:
            screens += [screen for screen in stack if screen not in screens and screen.is_mounted]
        return screens

    def connection_changed(self) -> None:
        """Tell every screen already built, not only the visible one: each shows state that depends on the key."""
        from portal_tui.ui.widgets.top_bar import TopBar

        for screen in self._built_screens():
            for bar in screen.query(TopBar):
                bar.refresh_state()
            refresh = getattr(screen, "connection_changed", None)
            if callable(refresh):
                refresh()

    def catalog_changed(self) -> None:
        """A price was created, replaced or archived: every built screen with a `catalog_changed` drops what it
        cached about prices (the catalog reloads, the plan editor forgets its price checks)."""
        for screen in self._built_screens():
            refresh = getattr(screen, "catalog_changed", None)
            if callable(refresh):
                refresh()

    def plan_file_changed(self) -> None:
        """Something other than the plan editor wrote the plan file (Go live linked live prices): an editor without
        unsaved edits reloads it; one with unsaved edits keeps them, and its save asks before overwriting the file."""
        plans = self._unsaved_screen("plans")
        load_file = getattr(plans, "load_file", None)
        if plans is None or not callable(load_file):
            return
        if getattr(plans, "unsaved", False):
            self.notify(
                "The plan editor (4) has unsaved edits: they are kept. Saving them asks first, since the file "
                "changed on disk (ctrl+r there loads the new file instead).",
                title="Plan file changed",
                severity="warning",
                timeout=12,
            )
            return
        self.run_worker(load_file(), group="plans-reload")

    def open_step(self, step: str) -> None:
        if self.current_mode == step:
            return
        # Only the plan editor asks: its edits belong in a file. The builder keeps its form across steps.
        if self.current_mode == "plans" and getattr(self.screen, "unsaved", False):
            from portal_tui.ui.widgets.confirm import ConfirmModal

            def answer(leave: bool | None) -> None:
                if leave:
                    self.switch_mode(step)

            self.push_screen(
                ConfirmModal(
                    "Leave with unsaved changes?",
                    "Your edits stay in the plan editor until you quit, "
                    "but they are not in the file yet (ctrl+s saves).",
                    confirm_label="Leave",
                ),
                answer,
            )
            return
        self.switch_mode(step)

    async def action_quit(self) -> None:
        pending = [
            what
            for mode, what in (("plans", "unsaved plan changes"), ("builder", "a price form not yet created"))
            if getattr(self._unsaved_screen(mode), "unsaved", False)
        ]
        busy = getattr(self._unsaved_screen("verify"), "busy", None)
        if busy:
            pending.append(busy)
        promoting = getattr(self._unsaved_screen("go_live"), "busy", None)
        if promoting:
            pending.append(promoting)
        if self.context.plans_are_throwaway and self.context.config_store.exists():
            # The demo's temp folder goes on quit: a plan file saved there this session goes with it.
            pending.append(
                f"the plans saved in this demo ({self.context.config_store.path}): demo plans are thrown away on "
                "quit (portal-tui --demo --config PATH keeps them)"
            )
        if not pending:
            self.exit()
            return
        from portal_tui.ui.widgets.confirm import ConfirmModal

        def answer(leave: bool | None) -> None:
            if leave:
                if busy:
                    self.notify("Cancelling the test run and deleting its test clock…", timeout=10)
                self.exit()

        self.push_screen(
            ConfirmModal("Quit now?", "This would drop " + "; ".join(pending) + ".", confirm_label="Quit"), answer
        )

    def _unsaved_screen(self, mode: str) -> object:
        stack = self._screen_stacks.get(mode) or []
        return stack[0] if stack else None

    def replace_price(self, price: dict[str, Any]) -> None:
        """Open the builder prefilled from `price`: the builder takes it as it comes on view (`price_to_replace`),
        before it handles any key typed after the one that asked for this."""
        self.price_to_replace = price
        builder = self._unsaved_screen("builder")
        if builder is not None:
            builder.take_price_to_replace()  # type: ignore[attr-defined]
        self.switch_mode("builder")

    def link_price_to_plan(self, price_id: str) -> None:
        async def offer() -> None:
            screen = self.screen
            if hasattr(screen, "offer_price"):
                plans: PlansScreen = screen  # type: ignore[assignment]
                await plans.offer_price(price_id)

        self.switch_mode("plans")
        self.call_after_refresh(offer)

    # ---- actions ----------------------------------------------------------------------------------------------

    def action_open_step(self, step: str) -> None:
        self.open_step(step)

    def action_leave_field(self) -> None:
        from textual.widgets import Input

        if isinstance(self.focused, Input):
            self.screen.set_focus(None)

    def action_help(self) -> None:
        from portal_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        """Every screenshot (palette, save_screenshot, deliver_screenshot) is taken with a revealed key masked."""
        for screen in self.screen_stack:
            hide = getattr(screen, "hide_key", None)
            if callable(hide):
                hide()
        return super().export_screenshot(title=title, simplify=simplify)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's "Screenshot" writes an SVG of the screen to disk: no such file for an app that shows a secret key.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Screenshot")
        # Each entry's help ends with its key: the palette is where an admin learns the shortcut for next time.
        yield SystemCommand(
            "Home: setup overview", "The six steps and their state — h or F7", lambda: self.open_step("home")
        )
        for key, mode, title, what in STEPS:
            yield SystemCommand(f"{key} {title}", f"{what} — {key} or F{key}", lambda mode=mode: self.open_step(mode))
        yield SystemCommand("Help: every key binding", "List the bindings of every screen — ?", self.action_help)
        yield SystemCommand("Notices: the last messages", "What the status line said — F8", self.action_notices)
        # The main actions of every step, not only the visible one: choosing one opens its step first.
        for _key, mode, _title, _what in [("h", "home", "", ""), *STEPS]:
            cls = screen_class(mode)
            for title, help_text, action in getattr(cls, "PALETTE_ACTIONS", []):
                yield SystemCommand(
                    title,
                    with_keys(help_text, binding_keys(cls, action)),
                    lambda mode=mode, action=action: self.run_worker(self.step_action(mode, action)),
                )

    async def step_action(self, mode: str, action: str) -> None:
        """Open a step (asking first if the current one has unsaved changes), then run one of its actions."""
        if self.current_mode != mode:
            if getattr(self.screen, "unsaved", False):
                self.open_step(mode)  # asks; the admin runs the action again once there
                return
            await self.switch_mode(mode)
        await self.run_action(action, self.screen)

    # ---- focus: back to the control that opened a modal ---------------------------------------------------------

    def _track_modals(self, screen: Screen[object]) -> None:
        """A modal remembers the control focused under it; once it closes, that control has focus again (if it is
        still shown), and the modal's result handler, which runs after this, may still move focus on purpose.

        Textual keeps a screen's focus under a modal, but not when the control was removed, hidden or disabled
        meanwhile: focus then fell on a neighbour (a text field, where the next step key became text) or nowhere."""
        open_screens = [s for stack in self._screen_stacks.values() for s in stack]
        for record in list(self._modal_openers):
            modal, under, control = record
            if modal not in open_screens:
                self._modal_openers.remove(record)
                if under is screen:
                    self._refocus(under, control)
        stack = self.screen_stack
        known = any(modal is screen for modal, _under, _control in self._modal_openers)
        if isinstance(screen, ModalScreen) and not known and len(stack) > 1 and stack[-1] is screen:
            self._modal_openers.append((screen, stack[-2], stack[-2].focused))

    @staticmethod
    def _refocus(screen: Screen[object], control: Widget | None) -> None:
        if control is None:
            return  # nothing had focus: Textual's auto-focus decides, as on any screen
        chain = screen.focus_chain
        # A form rebuilt meanwhile (a plan file reloaded) has a new control with the old one's ID: that is the one.
        same = control if control in chain else next((w for w in chain if control.id and w.id == control.id), None)
        if same is not None:
            screen.set_focus(same)
        elif screen.focused not in chain:
            # The opener is gone: the first control shown, never an invisible one.
            screen.set_focus(chain[0] if chain else None)

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._track_modals)
        if self.start_notice:
            self.notify(self.start_notice, timeout=15, markup=False)
        if self.load_key_on_start:
            # The keyring and Stripe are slow to reach: do it after the first frame, in a thread.
            self.call_after_refresh(
                lambda: self.run_worker(self._load_saved_key, thread=True, exclusive=True, group="startup")
            )

    def _load_saved_key(self) -> None:
        from portal_tui.services.errors import PortalError

        try:
            stored = self.context.keystore.current()
            if stored is None:
                self.call_from_thread(self.notify, "No saved key found: connect Stripe (press 1).", timeout=8)
                return
            account = self.context.gateway_for(stored.key).verify()
        except PortalError as error:
            self.call_from_thread(self.notify, error.message, title=error.title, severity="error", timeout=10)
            return
        self.call_from_thread(self._connected_at_start, stored, account)

    def _connected_at_start(self, stored: object, account: object) -> None:
        from portal_tui.services.gateway import AccountInfo
        from portal_tui.services.keystore import StoredKey

        if isinstance(account, AccountInfo) and isinstance(stored, StoredKey):
            self.context.connect(stored, account)
            self.connection_changed()
            mode = "LIVE" if stored.key.mode == "live" else "test"
            self.notify(f"Connected to {account.display_name} ({mode} mode).")
