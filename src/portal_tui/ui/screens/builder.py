"""Products & pricing (step 2): build a product and its price in any pricing model, see what customers pay, create.

The form's state and rules live in `portal_tui.forms.price_form.PriceForm`; this screen binds widgets to it: a change
in a field updates the form model, then the errors, the parts that apply and the preview are shown from it again.
Create stays disabled, and says why, while anything is invalid. Creation runs in a worker with one idempotency key for
the whole action, and a half-finished action (product made, price failed) resumes instead of repeating. Below 100
columns the preview sits under the form; ctrl+o gives it the whole screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from portal_tui.forms.price_form import Built, PriceForm
from portal_tui.services.product_setup import SetupProgress, SetupRequest
from portal_tui.ui.context import portal
from portal_tui.ui.widgets.currency_prompt import CurrencyPrompt
from portal_tui.ui.widgets.extra_currency import ExtraCurrency
from portal_tui.ui.widgets.key_bar import KeyBar
from portal_tui.ui.widgets.meter_picker import MeterPicker
from portal_tui.ui.widgets.price_fields import BOUND, PriceFields
from portal_tui.ui.widgets.price_preview import PricePreview
from portal_tui.ui.widgets.review_modal import ReviewModal
from portal_tui.ui.widgets.setup_result import SetupResult
from portal_tui.ui.widgets.tier_editor import TierEditor, TierRow
from portal_tui.ui.widgets.top_bar import TopBar

if TYPE_CHECKING:
    from portal_tui.services.errors import PortalError

METER_FIELDS = ("meter", "meter-name", "meter-event", "meter-agg", "meter-customer-key", "meter-value-key")


class BuilderScreen(Screen[None]):
    """The "Add a product" form, keyboard first, with a live what-a-customer-pays preview."""

    DEFAULT_CLASSES = "dense"  # one-row fields (app CSS): at 80×24 the flat-rate form fits without scrolling
    AUTO_FOCUS = "#product-name"  # straight to the first field: focusing the scrolling form first restyled it twice
    DEFAULT_CSS = """
    BuilderScreen Vertical { height: auto; }
    BuilderScreen #builder-body { height: 1fr; }
    BuilderScreen #form { width: 1fr; padding: 0 1; }
    BuilderScreen #preview-pane { width: 44; border-left: vkey $panel; padding: 0 1; }
    BuilderScreen.narrow #builder-body { layout: vertical; }
    BuilderScreen.narrow #form { height: 1fr; }
    BuilderScreen.narrow #preview-pane { width: 1fr; height: 3; border-left: none; border-top: hkey $panel; }
    BuilderScreen.narrow.preview-full #form { display: none; }
    BuilderScreen.narrow.preview-full #preview-pane { height: 1fr; }
    /* Narrow: the form gets the height; under it two lines (price, total at the sample quantity), ctrl+o the rest */
    BuilderScreen #preview-compact, BuilderScreen #preview-help { display: none; }
    BuilderScreen.narrow #preview-pane > * { display: none; }
    BuilderScreen.narrow #preview-pane > #preview-compact { display: block; }
    BuilderScreen.narrow.preview-full #preview-pane > * { display: block; }
    BuilderScreen.narrow.preview-full #preview-pane > #preview-compact { display: none; }
    BuilderScreen.preview-hidden #preview-pane { display: none; }
    BuilderScreen .row { height: auto; }
    BuilderScreen .row > Label { width: 18; padding: 0 1 0 0; }
    BuilderScreen .row > Input, BuilderScreen .row > Select { width: 1fr; }
    BuilderScreen .section { text-style: bold; margin-top: 1; color: $accent; }
    BuilderScreen #form > .section:first-of-type { margin-top: 0; }
    BuilderScreen.short #form > .section, BuilderScreen.short #tier-keys { display: none; }
    BuilderScreen #transfer { margin-left: 17; }
    BuilderScreen #interval-count { width: 8; margin-right: 1; }
    BuilderScreen .hidden { display: none; }
    BuilderScreen #tier-keys { color: $text-muted; }
    BuilderScreen #create-row { height: auto; }
    BuilderScreen #why-not { color: $warning; padding: 0 1; width: 1fr; }
    BuilderScreen #why-not.done { color: $success; }
    BuilderScreen #result { height: auto; display: none; margin-top: 1; }
    BuilderScreen #result.visible { display: block; }
    BuilderScreen #result Horizontal { height: auto; }
    BuilderScreen #result Button { width: auto; min-width: 0; margin-right: 1; }
    BuilderScreen #progress { height: auto; color: $text-muted; }
    BuilderScreen FieldError { padding-left: 19; }
    BuilderScreen #preview-help { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "create", "Create…"),
        Binding("ctrl+o", "toggle_preview", "Preview"),
        Binding("ctrl+t", "add_tier", "Add tier"),
        # Priority: a focused Input would take ctrl+x as "cut"; outside the tier rows the action steps aside.
        Binding("ctrl+x", "remove_tier", "Remove tier", priority=True),
        Binding("ctrl+up", "move_tier(-1)", "Tier up", show=False),
        Binding("ctrl+down", "move_tier(1)", "Tier down", show=False),
        Binding("ctrl+r", "reset", "Reset form", show=False),
        # Not ctrl+e: text fields take it (cursor to the end). Last, so the key bar cuts it before the others.
        Binding("ctrl+g", "add_currency", "Add currency"),
    ]
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Pricing: review and create", "Show what will be sent, then create", "create"),
        ("Pricing: add a tier", "Insert a tier before the unbounded one", "add_tier"),
        ("Pricing: add a currency", "Offer the price in one more currency", "add_currency"),
        ("Pricing: show or hide the preview", "Full screen on narrow terminals", "toggle_preview"),
        ("Pricing: reset the form", "Start a new product", "reset"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.form = PriceForm()
        self.built: Built = self.form.build()
        self.choices_loaded = False
        self._form_focus: Widget | None = None
        self._held_keys: list[events.Key] | None = None  # see on_key
        if portal(self).price_to_replace is not None:
            # Opened to replace a price: no field until the form is filled, keys typed meanwhile are held for it
            self.AUTO_FOCUS = ""  # type: ignore[misc]  # Textual reads it from the instance
            self._held_keys = []
        self._refresh_pending = False

    # ---- layout ----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The size classes before the first styling pass: set on the first resize, they restyled ~500 widgets again.
        self.fit_to(self.app.size.width, self.app.size.height)
        yield TopBar("2 Products & pricing")
        with Horizontal(id="builder-body"):
            yield PriceFields(self.form.values, id="form")
            yield PricePreview(id="preview-pane")
        yield KeyBar()

    def on_mount(self) -> None:
        self.tier_editor.reset()
        self.sync_default_currency()
        self.load_choices()
        self.refresh_form()
        self.take_price_to_replace()

    def on_screen_resume(self) -> None:
        self.query_one(TopBar).refresh_state()
        self.sync_default_currency()
        if not self.choices_loaded:
            self.load_choices()
        self.take_price_to_replace()
        if self.focused is None and self._held_keys is None:
            self.set_focus(self.query_one("#product-name", Input))

    def take_price_to_replace(self) -> None:
        """Prefill from the price the catalog asked to replace (`PortalApp.replace_price`), if any: at once when
        nothing typed would be lost, even before this screen is on view, so that keys typed meanwhile are held for
        the form; otherwise once on view, after asking."""
        app = portal(self)
        price = app.price_to_replace
        if price is None or (self.unsaved and not self.is_current):
            return
        app.price_to_replace = None
        self.replace_price(price)

    def on_key(self, event: events.Key) -> None:
        """While a replacement refills the tier rows no field has the cursor: keys typed then are held, and given to
        the first tier's amount once it exists (not to the step keys, nor to a field about to go)."""
        if self._held_keys is not None:
            event.stop()
            event.prevent_default()
            self._held_keys.append(event)

    def connection_changed(self) -> None:
        self.sync_default_currency()
        self.load_choices()

    def on_resize(self) -> None:
        self.fit_to(self.size.width, self.size.height)

    def fit_to(self, width: int, height: int) -> None:
        # Too narrow for side by side: the preview goes under the form (ctrl+o shows it full screen).
        self.set_class(width < 100, "narrow")
        # A 24-row terminal: the section headings and the tier keys' hint (also in the key bar) give their rows to
        # the form, so a three-tier price fits from Name to "Review & create".
        self.set_class(height < 30, "short")

    def action_toggle_preview(self) -> None:
        if not self.has_class("narrow"):
            self.toggle_class("preview-hidden")
            return
        if self.has_class("preview-full"):
            self.remove_class("preview-full")
            if self._form_focus is not None and self._form_focus.is_attached:
                self._form_focus.focus()
            return
        self._form_focus = self.focused
        self.add_class("preview-full")
        self.query_one("#preview-quantity", Input).focus()

    def sync_default_currency(self) -> None:
        """Follow the account's default currency while the admin has not chosen one."""
        account = portal(self).context.account
        if self.form.follow_account_currency(account.default_currency if account is not None else None):
            self.push("currency")

    # ---- binding widgets to the form model -----------------------------------------------------------------------

    @property
    def fields(self) -> PriceFields:
        return self.query_one(PriceFields)

    def push(self, *widget_ids: str) -> None:
        """Show the form model's values in these widgets (all bound ones when none are named)."""
        self.fields.show_values(self.form.values, *widget_ids)

    def pull(self, *widget_ids: str) -> None:
        """Copy what these widgets hold into the form model (after they changed themselves, e.g. the meter list)."""
        for widget_id in widget_ids:
            setattr(self.form.values, BOUND[widget_id], self.fields.value_of(widget_id))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def form_changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        widget = event.control
        if widget.id == "preview-quantity":
            self.form.preview_quantity = self.query_one("#preview-quantity", Input).value
            self.preview_pane.show(self.form.preview(self.built))
            return
        if widget.id in BOUND:
            self.form.edit(BOUND[widget.id], self.fields.value_of(widget.id))
        elif isinstance(widget, Input) and widget.has_class("tier-up-to"):
            self.tier_editor.relabel()  # posts TierEditor.Changed: the rows are read then
            return
        elif isinstance(widget, Input) and self.tier_editor in widget.ancestors:
            self.form.edit_tiers(self.tier_editor.values())
        elif section := next((node for node in widget.ancestors if isinstance(node, ExtraCurrency)), None):
            self.form.edit_currency(section.entry())
        if widget.id == "model":
            self.refresh_bindings()
        self.refresh_form_soon()

    @on(TierEditor.Changed)
    def tiers_changed(self) -> None:
        self.form.edit_tiers(self.tier_editor.values())
        self.refresh_form_soon()

    @on(MeterPicker.Changed)
    def meter_changed(self) -> None:
        self.pull(*METER_FIELDS)
        self.refresh_form_soon()

    def refresh_form_soon(self) -> None:
        """One refresh for a burst of changes: mounting the form, or a prefill, posts a dozen Changed messages, and
        each refresh restyles the form's fields."""
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_after_refresh(self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh_pending = False
        self.refresh_form()

    def refresh_form(self, *, focus: str | None = None) -> None:
        """Show what the form model says: the parts that apply, the problems at their fields, the preview.
        `focus`: an extra currency just added, whose first amount gets the cursor."""
        if not self.is_mounted:
            return
        self.built = self.form.build()
        self.fields.show(self.form, self.built.problems, connected=portal(self).context.connected, focus=focus)
        self.preview_pane.show(self.form.preview(self.built))

    def action_add_currency(self) -> None:
        def add(code: str | None) -> None:
            if code and self.form.add_currency(code) is None:
                self.refresh_form(focus=code)

        self.app.push_screen(CurrencyPrompt(self.form.currency_refusal), add)

    @on(Button.Pressed, ".remove-currency")
    def remove_currency(self, event: Button.Pressed) -> None:
        section = next(node for node in event.button.ancestors if isinstance(node, ExtraCurrency))
        self.form.remove_currency(section.code)
        self.refresh_form()
        self.query_one("#currency", Input).focus()

    @property
    def unsaved(self) -> bool:
        """The form holds the admin's input that has not been created (read by the app before quitting)."""
        return self.is_mounted and self.form.unsaved

    @property
    def preview_pane(self) -> PricePreview:
        return self.query_one(PricePreview)

    # ---- choices from Stripe ------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="builder-choices")
    def load_choices(self) -> None:
        from portal_tui.services.errors import PortalError

        context = portal(self).context
        if not context.connected:
            return
        try:
            gateway = context.gateway()
            products, meters = gateway.list_products(), gateway.list_meters()
        except PortalError as error:
            self.app.call_from_thread(self.notify, error.message, title=error.title, severity="warning")
            return
        self.app.call_from_thread(self.set_choices, products, meters)

    def set_choices(self, products: list[dict[str, Any]], meters: list[dict[str, Any]]) -> None:
        self.choices_loaded = True
        # Selecting what was just created is part of the result, not a change by the admin.
        just_created = self.form.just_created
        self.form.add_products(products)
        self.fields.show_products(self.form.products, self.form.values.product)
        self.form.set_meters(meters)
        self.meter_picker.set_meters(meters)
        self.pull(*METER_FIELDS)
        if just_created:
            self.form.created_values = self.form.snapshot()
        self.refresh_form()

    @property
    def meter_picker(self) -> MeterPicker:
        return self.query_one(MeterPicker)

    # ---- tiers ---------------------------------------------------------------------------------------------------

    @property
    def tier_editor(self) -> TierEditor:
        return self.query_one(TierEditor)

    def tier_rows(self) -> list[TierRow]:
        """The tier rows on screen, in order (rows being removed or not yet composed are left out)."""
        return self.tier_editor.rows()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add_tier", "remove_tier", "move_tier") and self.is_mounted:
            # Hidden while the model has no tiers (and ctrl+x then cuts text in a field, as everywhere).
            return self.form.model.is_tiered
        return True

    def action_add_tier(self) -> None:
        self.tier_editor.add_row()

    def action_remove_tier(self) -> None:
        index = self.tier_editor.row_of(self.app.focused)
        if index is None and isinstance(self.app.focused, Input):
            raise SkipAction()  # ctrl+x in another field keeps its meaning there: cut
        if index is not None and len(self.tier_rows()) > 1:
            self.form.tier_removed(index)  # each extra currency's row for it goes with it
        if not self.tier_editor.remove_row(index):
            self.notify("A tiered price needs at least one tier.", severity="warning")

    def action_move_tier(self, direction: int) -> None:
        index = self.tier_editor.row_of(self.app.focused)
        if index is not None:
            self.tier_editor.move_row(index, direction)

    # ---- create -----------------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        self.form.attempted = True
        self.refresh_form()
        if not portal(self).context.connected:
            self.notify("Connect Stripe first (F1).", severity="warning")
            return
        if self.built.problems:
            self.notify(next(iter(self.built.problems.values())), severity="warning")
            return
        request, result = self.built.request, self.form.result
        if result is not None and self.form.just_created:
            from portal_tui.ui.widgets.confirm import ConfirmModal

            self.app.push_screen(
                ConfirmModal(
                    "Create another price for this product?",
                    f"{result.price_id} was just created from exactly this form. Confirm to add one more "
                    f"price with the same settings to {result.product_id}, or go back and change the form.",
                    confirm_label="Create another price",
                    destructive=False,
                ),
                lambda again: self.review(request) if again else None,
            )
            return
        self.review(request)

    def review(self, request: SetupRequest) -> None:
        live = portal(self).context.livemode
        self.app.push_screen(
            ReviewModal(request.review(self.form.progress), live, self.form.review_notes(request)),
            lambda ok: self.confirmed(request) if ok else None,
        )

    def confirmed(self, request: SetupRequest) -> None:
        self.run_worker(self._confirm_live_then_run(request), exclusive=True, group="create-confirm")

    async def _confirm_live_then_run(self, request: SetupRequest) -> None:
        if not await portal(self).confirm_write("Create this product and price", "A second, explicit confirmation."):
            return
        if self.form.progress is None:
            self.form.progress = SetupProgress()
        self.query_one("#create", Button).disabled = True
        self.run_setup(request, self.form.progress)

    @work(thread=True, exclusive=True, group="create")
    def run_setup(self, request: SetupRequest, progress: SetupProgress) -> None:
        from portal_tui.services.errors import PortalError
        from portal_tui.services.product_setup import ProductSetup

        try:
            gateway = portal(self).context.gateway()
            setup = ProductSetup(gateway, request, progress)
            setup.run(lambda text: self.app.call_from_thread(self.set_progress, text))
        except PortalError as error:
            self.app.call_from_thread(self.create_failed, error)
            return
        self.app.call_from_thread(self.created, progress)

    def set_progress(self, text: str) -> None:
        self.query_one("#progress", Static).update(text)

    def create_failed(self, error: PortalError) -> None:
        from portal_tui.services.errors import InvalidRequestError

        done = self.form.progress.describe() if self.form.progress else "Nothing was created yet"
        if isinstance(error, InvalidRequestError) and error.param == "lookup_key":
            self.form.lookup_key_refused(error.message)
        self.set_progress(
            f"✗ {error.title}: {error.message}\n{error.hint or ''}\n{done}. Fix the form and press ctrl+n: "
            "what exists already is reused, not created again."
        )
        self.refresh_form()
        if self.form.lookup_taken is not None:
            self.query_one("#lookup-key", Input).focus()

    def created(self, progress: SetupProgress) -> None:
        replaced_key = (self.form.replaces or {}).get("lookup_key")
        self.form.created(progress)
        self.query_one("#replace-note").add_class("hidden")
        self.fields.show_products(self.form.products, self.form.values.product)
        if progress.meter_id:
            self.meter_picker.remember(progress.meter_id)  # a new meter is chosen in the list once it is reloaded
        self.set_progress("✓ Created.")
        result = self.query_one(SetupResult)
        result.show(progress, replaced_key)
        self.refresh_form()
        self.query_one("#copy-price", Button).focus()
        self.call_after_refresh(lambda: result.scroll_visible(animate=False))
        self.notify(f"Created {progress.price_id}", title="Price created")
        self.load_choices()
        portal(self).catalog_changed()  # the catalog re-reads, the plan editor re-checks (a replaced price)

    # ---- reset and replace -----------------------------------------------------------------------------------------

    @on(Button.Pressed, "#new-form")
    def action_reset(self) -> None:
        self._ask_before_discarding("Clear the form?", self.reset_form)

    def _ask_before_discarding(self, question: str, then: Any) -> None:
        if not self.unsaved:
            then()
            return
        from portal_tui.ui.widgets.confirm import ConfirmModal

        self.app.push_screen(
            ConfirmModal(question, "What you typed has not been created and will be lost.", confirm_label="Clear"),
            lambda ok: then() if ok else None,
        )

    def reset_form(self) -> None:
        """Every field back to what a fresh screen shows, and no memory of earlier attempts."""
        self.sync_default_currency()
        self.form.reset()
        self.push()
        self.query_one("#preview-quantity", Input).value = ""
        self.meter_picker.reset()
        self.query_one("#replace-note").add_class("hidden")
        self.query_one(SetupResult).hide()
        self.set_progress("")
        self.tier_editor.reset()
        self.refresh_bindings()
        self.refresh_form()
        self.set_focus(self.query_one("#product-name", Input))

    def replace_price(self, price: dict[str, Any]) -> None:
        """Prefill the form from an existing price; creating then moves its lookup key and archives it."""
        self._ask_before_discarding("Replace the form with this price?", lambda: self._prefill(price))

    def _prefill(self, price: dict[str, Any]) -> None:
        self.reset_form()
        draft = self.form.prefill(price)
        self.fields.show_products(self.form.products, self.form.values.product)
        self.push()
        if draft.meter_id and not self.meter_picker.choose(draft.meter_id):
            self.load_choices()  # the picker selects it when the meter list arrives
        if draft.model.is_tiered:
            self._held_keys = self._held_keys or []
            self.set_focus(None)
            self.run_worker(self._fill_tiers(), exclusive=True, group="fill-tiers")
        note = self.query_one("#replace-note", Static)
        note.update(self.form.replace_note())
        note.remove_class("hidden")
        self.refresh_bindings()
        self.refresh_form()
        if not draft.model.is_tiered:
            self._type_held_keys_into(self.query_one("#amount", Input))  # the name is hidden: the product exists

    async def _fill_tiers(self) -> None:
        await self.tier_editor.fill(self.form.values.tiers)
        self._type_held_keys_into(self.tier_rows()[0].query_one(".tier-unit", Input))

    def _type_held_keys_into(self, field: Input) -> None:
        self.set_focus(field)
        held, self._held_keys = self._held_keys or [], None
        for key in held:  # to the field, as the app hands a key to the focused widget
            field.post_message(events.Key(key.key, key.character))
