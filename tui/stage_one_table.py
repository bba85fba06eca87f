"""The candidate set in stage-1 order, drawn with Textual's line API.

A DataTable measures every cell of every row it is given: for 500 candidates that cost the
UI thread more than everything else on screen (docs/benchmarks.md). This list computes each
column's text once per answer (plain strings) and renders only the lines on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.data import Catalog
from engine.requests import RecommendResponse
from tui.item_keys import ITEM_BINDINGS, post_item_action
from tui.messages import ItemHighlighted

COLUMNS = ("#", "item", "model", "found by", "sim", "rules", "category")
MAX_WIDTH = {"item": 40, "found by": 30, "rules": 28, "category": 20}


@dataclass(frozen=True)
class Rows:
    """One answer's candidates as text, a list per column, and which rows reached the top K."""

    item_ids: list[int]
    cells: dict[str, list[str]]
    in_top: np.ndarray
    widths: dict[str, int]

    @classmethod
    def of(cls, response: RecommendResponse, catalog: Catalog) -> Rows:
        cands = response.candidates.candidates
        ids = cands.item_ids.tolist()
        ruled = {effect.item_id: f"{effect.rule}: {effect.action}" for effect in response.effects}
        model_rank = np.empty(len(ids), dtype=np.int64)
        model_rank[np.argsort(-response.scores, kind="stable")] = np.arange(1, len(ids) + 1)
        names = catalog.category_names
        cells = {
            "#": [str(row + 1) for row in range(len(ids))],
            "item": [catalog.titles[item] for item in ids],
            "model": [f"#{rank}" for rank in model_rank.tolist()]
            if response.model_scored
            else ["-"] * len(ids),
            "found by": [", ".join(cands.found_by(row)) for row in range(len(ids))],
            "sim": ["-" if s != s else f"{s:.3f}" for s in cands.similarity.tolist()],
            "rules": [ruled.get(item, "") for item in ids],
            "category": [names[c] for c in catalog.category[cands.item_ids].tolist()],
        }
        top = np.isin(cands.item_ids, [item.item_id for item in response.items])
        widths = {
            name: min(max([cell_len(name), *map(cell_len, column)]), MAX_WIDTH.get(name, 1_000))
            for name, column in cells.items()
        }
        return cls(ids, cells, top, widths)


class StageOneTable(ScrollView, can_focus=True):
    """Every candidate in stage-1 order: the paths that found it, its similarity, where the
    model put it, and the rule that dropped or moved it. The cursor selects an item.

    Filled only while it is on screen (or when it comes into view), so a list in a hidden
    tab costs nothing per answer."""

    BINDINGS = [
        *ITEM_BINDINGS,
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1_000_000)", "First", show=False),
        Binding("end", "cursor(1_000_000)", "Last", show=False),
    ]
    COMPONENT_CLASSES = {"candidates--header", "candidates--cursor", "candidates--top", "candidates--rule"}
    DEFAULT_CSS = """
    StageOneTable {
        background: $surface;
        color: $foreground;
        & > .candidates--header { text-style: bold; background: $panel; color: $foreground; }
        & > .candidates--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .candidates--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .candidates--top { color: $success; text-style: bold; }
        & > .candidates--rule { color: $warning; }
    }
    """

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)
    cursor_row: reactive[int] = reactive(0)
    stale = False

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog
        self.rows: Rows | None = None

    # ------------------------------------------------------------- the data
    @property
    def row_count(self) -> int:
        return 0 if self.rows is None else len(self.rows.item_ids)

    def cell(self, row: int, column: str) -> str:
        """The text shown in one cell (for tests and for reading the list back)."""
        assert self.rows is not None
        return self.rows.cells[column][row]

    def row_of(self, item: int) -> int | None:
        if self.rows is None or item not in self.rows.item_ids:
            return None
        return self.rows.item_ids.index(item)

    def watch_response(self, response: RecommendResponse | None) -> None:
        self.stale = True
        if self.is_on_screen:
            self.fill()

    def on_show(self) -> None:
        if self.stale:
            self.fill()

    def fill(self) -> None:
        self.stale = False
        response = self.response
        self.rows = None if response is None else Rows.of(response, self.catalog)
        if response is not None:
            n = len(response.candidates.candidates)
            self.border_title = f"stage 1: {n} candidates, in retrieval order"
        width = 0 if self.rows is None else sum(w + 2 for w in self.rows.widths.values())
        self.virtual_size = Size(width, self.row_count + 1)
        self.set_reactive(StageOneTable.cursor_row, 0)
        self.scroll_to(y=0, animate=False)
        self.refresh()

    # ----------------------------------------------------------- the cursor
    def selected_item(self) -> int | None:
        return None if not self.row_count else self.rows.item_ids[self.cursor_row]

    def select_item(self, item: int) -> bool:
        """Put the cursor on `item` (False when the list does not hold it)."""
        row = self.row_of(item)
        if row is None:
            return False
        self.cursor_row = row
        return True

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, self.row_count - 1))

    def watch_cursor_row(self, row: int) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)  # the header takes a line
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False)
        self.refresh()
        item = self.selected_item()
        if item is not None:
            self.post_message(ItemHighlighted(item))

    def action_cursor(self, step: int) -> None:
        self.cursor_row += step

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * max(self.scrollable_content_region.height - 2, 1)

    def action_act(self, action: str) -> None:
        post_item_action(self, self.selected_item(), action)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)  # None on the border or a scrollbar
        if offset is not None and offset.y >= 1 and self.row_count:
            self.cursor_row = round(self.scroll_y) + offset.y - 1

    # ------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        rows = self.rows
        if rows is None:
            return Strip.blank(width, base)
        if y == 0:
            texts = list(COLUMNS)
            style = base + self.get_component_rich_style("candidates--header")
            return self._line(texts, [style] * len(COLUMNS), width, base)
        row = round(self.scroll_y) + y - 1
        if row >= len(rows.item_ids):
            return Strip.blank(width, base)
        texts = [rows.cells[name][row] for name in COLUMNS]
        styles = [base] * len(COLUMNS)
        if rows.in_top[row]:
            top = base + self.get_component_rich_style("candidates--top")
            styles[1] = styles[2] = top
        styles[5] = base + self.get_component_rich_style("candidates--rule")
        if row == self.cursor_row:
            cursor = self.get_component_rich_style("candidates--cursor")
            styles = [style + cursor for style in styles]
        return self._line(texts, styles, width, base)

    def _line(self, texts: list[str], styles: list[Style], width: int, base: Style) -> Strip:
        """One padded cell per column, least needed last: a narrow pane shows the first ones
        and scrolls sideways (left / right) to the rest."""
        assert self.rows is not None
        widths = self.rows.widths
        segments = [
            Segment(" " + set_cell_size(text, widths[name]) + " ", style)
            for name, text, style in zip(COLUMNS, texts, styles, strict=True)
        ]
        left = round(self.scroll_x)
        return Strip(segments).crop_extend(left, left + width, base)
