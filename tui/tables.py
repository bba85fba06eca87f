"""The two lists: the candidate set in stage-1 order, and the re-ranked top K.

Each table owns the keys that act on its selected item (click, buy, explain) and posts an
`ItemAction` for the screen to carry out; each redraws itself when its `response` changes.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from engine.data import Catalog
from engine.render.marks import ranked_cells
from engine.requests import RecommendResponse
from tui.messages import ItemAction


class ItemTable(DataTable):
    """A list of items keyed by item id, with the keys that act on the selected one."""

    BINDINGS = [
        Binding("c", "act('click')", "Click"),
        Binding("b", "act('purchase')", "Buy"),
        Binding("e", "act('explain')", "Explain"),
    ]

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

    def action_act(self, action: str) -> None:
        item = self.selected_item()
        if item is None:
            self.notify("run a request first", severity="warning")
            return
        self.post_message(ItemAction(item, action))


class StageOneTable(ItemTable):
    """Every candidate in stage-1 order: the paths that found it, its similarity, where the
    model put it, and the rule that dropped or moved it.

    Filled only while it is on screen (or when it comes into view): laying out 500 rows
    costs the UI thread ~80 ms, which a list in a hidden tab need not pay on every request."""

    stale = False

    def on_mount(self) -> None:
        # Least needed last: a narrow pane cuts columns from the right.
        self.add_columns("#", "item", "model", "found by", "sim", "rules", "category")

    def watch_response(self, response: RecommendResponse | None) -> None:
        self.stale = True
        if self.is_on_screen:
            self.fill()

    def on_show(self) -> None:
        if self.stale:
            self.fill()

    def fill(self) -> None:
        self.stale = False
        self.clear()
        response = self.response
        if response is None:
            return
        cands = response.candidates.candidates
        catalog = self.catalog
        self.border_title = f"stage 1: {len(cands)} candidates, in retrieval order"
        ruled = {effect.item_id: f"{effect.rule}: {effect.action}" for effect in response.effects}
        model_rank = np.empty(len(cands), dtype=np.int64)
        model_rank[np.argsort(-response.scores, kind="stable")] = np.arange(1, len(cands) + 1)
        top = {item.item_id for item in response.items}
        for row, item in enumerate(cands.item_ids.tolist()):
            similarity = cands.similarity[row]
            style = "bold green" if item in top else ""
            self.add_row(
                str(row + 1),
                Text(catalog.titles[item], style=style),
                Text(f"#{model_rank[row]}", style=style or "dim") if response.model_scored else "-",
                ", ".join(cands.found_by(row)),
                "-" if similarity != similarity else f"{similarity:.3f}",
                Text(ruled.get(item, ""), style="yellow"),
                catalog.category_names[int(catalog.category[item])],
                key=str(item),
            )


class StageTwoTable(ItemTable):
    """The final list: rank, movement from the stage-1 rank, score, and rules."""

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
