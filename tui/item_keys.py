"""The keys both item lists share: each acts on the list's selected item by posting an
`ItemAction` for the screen to carry out."""

from __future__ import annotations

from textual.binding import Binding
from textual.widget import Widget

from tui.messages import ItemAction

ITEM_BINDINGS = [
    Binding("c", "act('click')", "Click"),
    Binding("b", "act('purchase')", "Buy"),
    Binding("e", "act('explain')", "Explain"),
]


def post_item_action(widget: Widget, item: int | None, action: str) -> None:
    """Ask the screen to act on `item`, or say that there is nothing to act on yet."""
    if item is None:
        widget.notify("run a request first", severity="warning")
        return
    widget.post_message(ItemAction(item, action))
