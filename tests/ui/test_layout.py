"""The 80×24 SSH terminal: forms fit without scrolling, and notices never cover the focused field or a dialog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widget import Widget
from textual.widgets import Input, Select, Static

from portal_tui.domain.plans import Plan, PlanConfig
from portal_tui.sandbox import Sandbox
from portal_tui.ui.app import PortalApp
from portal_tui.ui.widgets.confirm import ConfirmModal
from portal_tui.ui.widgets.notice_log import NoticeLogModal
from portal_tui.ui.widgets.status_line import Notice, NoticeBoard, StatusLine
from tests.ui.helpers import settle, text_of

SIZE = (80, 24)
# The flat-rate form from top to bottom: every field an admin fills in, and the button that creates the price.
FLAT_FORM = [
    "#product-choice",
    "#product-name",
    "#product-description",
    "#price-type",
    "#model",
    "#currency",
    "#amount",
    "#period",
    "#lookup-key",
    "#transfer",
    "#nickname",
    "#tax",
    "#create",
]


def in_view(widget: Widget) -> bool:
    """Shown whole right now: on screen, and inside the visible part of every scrolling container above it."""
    region = widget.region
    if not widget.display or region.area == 0 or not widget.screen.region.contains_region(region):
        return False
    return all(
        ancestor.region.contains_region(region)
        for ancestor in widget.ancestors
        if isinstance(ancestor, Widget) and ancestor.is_scrollable and ancestor is not widget.screen
    )


def status_line(app: PortalApp) -> StatusLine:
    return app.screen.query_one(StatusLine)


def status_text(app: PortalApp) -> str:
    return str(status_line(app).render())


async def test_the_flat_rate_form_fits_80x24_without_scrolling(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        form = screen.query_one("#form")
        hidden = [name for name in FLAT_FORM if not in_view(screen.query_one(name))]
        assert not hidden, f"below the fold at 80×24: {hidden}"
        # The preview's two lines (price, total at a sample quantity) sit under the form, also in view.
        compact = screen.query_one("#preview-compact")
        assert in_view(compact) and compact.region.height == 2
        assert compact.region.y >= form.region.bottom
        # Filled in, and tabbing from Name to "Review & create", the form never scrolls.
        screen.query_one("#product-name", Input).value = "Pro VPS"
        screen.query_one("#amount", Input).value = "20"
        await settle(pilot)
        assert not screen.query_one("#create").disabled
        screen.query_one("#product-name", Input).focus()
        for _ in range(len(FLAT_FORM) + 3):
            await pilot.press("tab")
            assert form.scroll_y == 0, f"scrolled at {app.focused}"
            if app.focused is screen.query_one("#create"):
                break
        assert app.focused is screen.query_one("#create")


async def test_the_tier_editor_shows_three_tiers_and_the_whole_form_at_80x24(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#model", Select).value = "graduated"
        await settle(pilot)
        screen.action_add_tier()  # type: ignore[attr-defined]
        await settle(pilot)
        rows = screen.tier_rows()  # type: ignore[attr-defined]
        assert len(rows) == 3
        fields = [field for row in rows for field in row.query(Input)]
        assert all(in_view(field) for field in fields)
        # The whole tiered form, from Name to "Review & create", with the preview's lines under it.
        tiered_form = [name for name in FLAT_FORM if name != "#amount"]
        hidden = [name for name in tiered_form if not in_view(screen.query_one(name))]
        assert not hidden, f"below the fold at 80×24: {hidden}"
        assert in_view(screen.query_one("#preview-compact"))
        assert screen.query_one("#form").scroll_y == 0


async def test_the_plan_editor_shows_name_id_both_prices_and_the_quotas_at_80x24(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    app.context.config_store.save(
        PlanConfig(plans=[Plan("pro", "Pro VPS", quotas={"vcpu": 4, "memory_gb": 8, "storage_gb": 160})])
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        quotas = list(screen.query("#quota-rows Input"))
        assert len(quotas) >= 3
        shown = [screen.query_one(name) for name in ("#plan-name", "#plan-id", "#price-test", "#price-live")]
        shown += [screen.query_one(name) for name in ("#pick-test", "#pick-live")]
        assert all(in_view(widget) for widget in shown + quotas[:3]), [w.id for w in shown + quotas if not in_view(w)]


async def test_a_notice_never_covers_the_focused_field(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(pilot)
        screen = app.screen
        form = screen.query_one("#form")
        for name in ("#tax", "#nickname"):  # the lowest fields, where the toasts used to sit
            screen.query_one(name).focus()
            app.notify("A notice long enough to fill the whole line of an 80-column terminal " * 2, severity="error")
            await settle(pilot)
            line = status_line(app)
            assert app.focused is not None and in_view(app.focused)
            assert not line.region.overlaps(app.focused.region)
            assert not line.region.overlaps(form.region)
            assert "✗" in status_text(app) and status_text(app).endswith("F8: more")  # severity shown, rest in the log


async def test_every_step_keeps_a_row_for_notices_that_no_control_sits_on(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        for key in ["h", "f1", "f2", "f3", "f4", "f5", "f6"]:
            await pilot.press(key)
            await settle(pilot)
            app.notify(f"A notice on {app.current_mode}")
            await settle(pilot)
            line = status_line(app)
            assert line.region.y == SIZE[1] - 2 and line.region.width == SIZE[0], app.current_mode
            assert status_text(app) == f"A notice on {app.current_mode}"
            controls = [w for w in app.screen.focus_chain if w.region.area]
            assert controls and not [w for w in controls if w.region.overlaps(line.region)], app.current_mode


async def test_plans_saved_shows_under_the_quotas_not_over_them(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    app.context.config_store.save(PlanConfig(plans=[Plan("pro", "Pro VPS", quotas={"vcpu": 4, "memory_gb": 8})]))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        quota = screen.query_one("#quota-rows Input", Input)
        quota.focus()
        quota.value = "6"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Plans saved" in status_text(app)
        line = status_line(app)
        for field in screen.query("#quota-rows Input"):
            assert in_view(field) and not line.region.overlaps(field.region)


async def test_a_notice_under_a_dialog_leaves_its_text_alone(
    make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox
) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(pilot)
        app.push_screen(ConfirmModal("Delete plan 'Pro VPS'?", "A long explanation of what happens. " * 3))
        await settle(pilot)
        app.notify("Something happened meanwhile", severity="warning")
        await settle(pilot)
        dialog = app.screen.query_one("ConfirmModal > Vertical")
        line = status_line(app)  # the dialog's own, on the row the screen under it uses
        assert "! Something happened meanwhile" in status_text(app)
        assert not line.region.overlaps(dialog.region)
        assert line.region.y == SIZE[1] - 2


async def test_each_notice_shows_once_per_run(tmp_path: Path, seeded_sandbox: Sandbox) -> None:
    from portal_tui.commands.app import demo_context

    context = demo_context(tmp_path, seeded_sandbox.url)
    note = context.plans_note
    assert note is not None
    app = PortalApp(context, start_notice=note)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert status_text(app).startswith("Demo: plans are saved to")  # at start-up: where the demo's plans go
        await pilot.press("4")
        await settle(pilot)
        for _ in range(2):  # two saves: "Plans saved" each time, the demo's note never again
            await pilot.press("ctrl+n")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "Plans saved" in status_text(app)
        # The same save again after its notice left the line: it comes back, counted, so ctrl+s always answers.
        saved = app.notices.current
        assert saved is not None and app.notices.expire(saved)
        app.notice = None
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert status_text(app).startswith("×2 Plans saved: Saved 2 plan(s)")
        shown = [notice.message for notice in app.notices.recent]
        assert shown.count(note) == 1
        assert [n.message for n in app._notifications].count(note) <= 1
        # The same notice again while it is showing: one line, counted, not a second notice.
        app.notify("Copied price_123")
        app.notify("Copied price_123")
        await settle(pilot)
        assert status_text(app) == "×2 Copied price_123"
        # An error is news every time it happens.
        app.notify("Stripe did not answer", severity="error")
        app.notify("Something else")
        app.notify("Stripe did not answer", severity="error")
        await settle(pilot)
        assert "Stripe did not answer" in status_text(app)


async def test_f8_lists_the_last_notices_in_full(make_app: Callable[..., PortalApp], seeded_sandbox: Sandbox) -> None:
    app = make_app(seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        long = "The first notice, with more words than one line of an 80-column terminal can hold, " * 2
        app.notify(long, title="First")
        app.notify("The second notice", severity="warning")
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, NoticeLogModal)
        listing = text_of(app.screen.query_one("#notice-text", Static))
        assert listing.index("The second notice") < listing.index("First: The first notice")
        assert "can hold," in " ".join(listing.split())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, NoticeLogModal)


def test_the_notice_board_shows_each_notice_once() -> None:
    board = NoticeBoard()
    first = board.add(Notice.of("Demo: plans go to /tmp", "", "information", 5, markup=False))
    assert first is not None and board.current is first
    assert board.add(Notice.of("Plans saved", "", "information", 5, markup=False)) is not None
    assert board.add(Notice.of("Demo: plans go to /tmp", "Demo", "warning", 12, markup=False)) is None
    again = board.add(Notice.of("Plans saved", "", "information", 5, markup=False))
    assert again is not None and again.text() == "×2 Plans saved" and len(board.recent) == 2
    failed = Notice.of("Stripe did not answer", "", "error", 5, markup=False)
    assert board.add(failed) is not None and failed.timeout >= 20
    assert board.add(Notice.of("Other", "", "information", 5, markup=False)) is not None
    assert board.add(Notice.of("Stripe did not answer", "", "error", 5, markup=False)) is not None
    # Markup is rendered; brackets that are not markup stay as typed.
    assert Notice.of("[b]Saved[/b]", "", "information", 5, markup=True).message == "Saved"
    assert Notice.of("plans[0].name [/x]", "", "information", 5, markup=True).message == "plans[0].name [/x]"
    assert Notice.of("two\nlines", "Title", "information", 5, markup=False).text() == "Title: two · lines"
