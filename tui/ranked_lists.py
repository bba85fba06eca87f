"""The stage-1 list beside the re-ranked one (the wide layout), following one item in both."""

from __future__ import annotations

import numpy as np
from textual.containers import Horizontal
from textual.reactive import reactive

from engine.data import Catalog
from engine.requests import RecommendResponse
from tui.stage_one_table import StageOneTable
from tui.stage_two_table import StageTwoTable


class RankedLists(Horizontal):
    """Holds a `StageOneTable` and a `StageTwoTable`; its subtitle says how far the selected
    item moved between them."""

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog

    def follow(self, item: int) -> None:
        """Select `item` in both lists and say how it moved."""
        if self.response is None:
            return
        self.query_one(StageTwoTable).select_item(item)
        self.query_one(StageOneTable).select_item(item)
        self.border_subtitle = self.movement(item)

    def movement(self, item: int) -> str:
        response = self.response
        title = self.catalog.titles[item]
        before = int(np.flatnonzero(response.candidates.candidates.item_ids == item)[0]) + 1
        after = next((i.rank_after for i in response.items if i.item_id == item), None)
        if after is None:
            return f"{title}: stage 1 #{before}, not in the top {response.k}"
        change = before - after
        how = f"up {change}" if change > 0 else f"down {-change}" if change < 0 else "unmoved"
        return f"{title}: stage 1 #{before} -> #{after} ({how})"
