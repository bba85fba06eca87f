"""The re-ranked top K (the candidate set in stage-1 order is `tui.stage_one_table`).

Each list owns the keys that act on its selected item (click, buy, explain) and posts an
`ItemAction` for the screen to carry out, and an `ItemHighlighted` when its cursor moves;
each redraws itself when its `response` changes.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from engine.data import Catalog
from engine.requests import RecommendResponse
from lab.render.marks import ranked_cells
from tui.item_keys import ITEM_BINDINGS, post_item_action
from tui.messages import ItemHighlighted


class StageTwoTable(DataTable):
    """The final list: rank, movement from the stage-1 rank, score, and rules; rows keyed by
    item id."""

    BINDINGS = ITEM_BINDINGS

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.catalog = catalog

    def selected_item(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return int(key.value)

    def select_item(self, item: int) -> bool:
        """Put the cursor on `item` (False when the list does not hold it)."""
        try:
            row = self.get_row_index(str(item))
        except RowDoesNotExist:
            return False
        if row != self.cursor_row:
            self.move_cursor(row=row)
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        item = self.selected_item()
        if item is not None:
            self.post_message(ItemHighlighted(item))

    def action_act(self, action: str) -> None:
        post_item_action(self, self.selected_item(), action)

    def on_mount(self) -> None:
        self.add_columns("#", "move", "item", "category", "score", "rules")

    def watch_response(self, response: RecommendResponse | None) -> None:
        self.clear()
        if response is None:
            return
        self.border_title = f"re-ranked: top {len(response.items)} of {len(response.candidates.candidates)}"
        for item in response.items:
            rules = Text(", ".join(r.split(":")[0] for r in item.rules), style="yellow")
            self.add_row(*ranked_cells(item), rules, key=str(item.item_id))
