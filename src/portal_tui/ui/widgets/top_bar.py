"""The bar on top of every screen: where you are, which Stripe account, and a mode badge you cannot miss."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from portal_tui.ui.context import portal


class TopBar(Static):
    """`portal-tui · Connect Stripe        Sandbox Hosting Ltd · acct_…  [ TEST MODE ] [ DEMO ]`."""

    DEFAULT_CSS = """
    TopBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, title: str) -> None:
        super().__init__(id="top-bar")
        self.title = title

    def refresh_state(self) -> None:
        self.refresh()

    def render(self) -> Text:
        return self.build()

    def build(self) -> Text:
        context = portal(self).context
        left = Text.assemble(("portal-tui", "bold"), " · ", self.title)
        badges = Text()
        width = self.size.width or 80
        if not context.connected:
            badges.append(" NOT CONNECTED ", style="bold black on grey62")
        elif context.livemode:
            badges.append(" LIVE MODE ", style="bold white on red3")
        else:
            badges.append(" TEST MODE ", style="bold black on dark_orange")
        if context.demo:
            badges.append(" ")
            badges.append(" DEMO ", style="bold white on blue")
        if context.account is not None:
            # The account as fully as it fits: "name · acct_…", else the name, else a shortened name.
            room = width - left.cell_len - badges.cell_len - 3
            name = context.account.display_name
            for candidate in (f"{name} · {context.account.id}", name):
                if len(candidate) <= room:
                    badges = Text.assemble(candidate + "  ", badges)
                    break
            else:
                if room > 8:
                    badges = Text.assemble(name[: room - 1] + "…  ", badges)
        gap = max(1, width - left.cell_len - badges.cell_len)
        if left.cell_len + badges.cell_len + 1 > width:
            left.truncate(max(10, width - badges.cell_len - 1), overflow="ellipsis")
            gap = max(1, width - left.cell_len - badges.cell_len)
        return Text.assemble(left, " " * gap, badges)
