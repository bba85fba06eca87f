"""Why an item ranks where it does: the selected item against the request's mean candidate
(features that are the same for every candidate cancel out), by feature group, and why it
beats the item ranked below it."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from engine.data import Catalog
from tui.messages import Why

CONTRIBUTIONS_SHOWN = 6
PAIR_CONTRIBUTIONS_SHOWN = 4


def signed(value: float) -> Text:
    return Text(f"{value:+.3f}", style="green" if value > 0 else "red")


class ExplainPanel(Static):
    """The selected item against the request's mean candidate (features that are the same
    for every candidate cancel out), by feature group, and why it beats the next item."""

    why: reactive[Why | None] = reactive(None, always_update=True)

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__("Select an item in a list to see why it ranks there.", **kwargs)
        self.catalog = catalog

    def watch_why(self, why: Why | None) -> None:
        if why is None:
            return
        e, titles = why.explanation, self.catalog.titles
        head = Text.assemble(
            ("why ", "bold"),
            (titles[e.item_id], "bold"),
            f" {e.score:.3f} vs the candidates' mean {e.baseline:.3f}: ",
            signed(e.score - e.baseline),
        )
        found = ", ".join(f"{path} #{rank}" for path, rank in e.found_by.items()) or "no path (back-fill)"
        groups = Text("by group: ", style="dim")
        for group, total in e.groups.items():
            groups.append(f"{group} ")
            groups.append_text(signed(total))
            groups.append("  ")
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", pad_edge=False)
        table.add_column("feature", no_wrap=True)
        table.add_column("group", style="dim")
        table.add_column("value", justify="right")
        table.add_column("vs mean", justify="right")
        for c in e.contributions[:CONTRIBUTIONS_SHOWN]:
            table.add_row(c.feature, c.group, f"{c.value:.3g}", signed(c.contribution))
        parts = [head, Text(f"found by {found}", style="dim"), groups, table]
        pair = why.pair
        if pair is not None and pair.other_id is not None:
            parts.append(
                Text.assemble(
                    ("above ", "bold"),
                    (titles[pair.other_id], "bold"),
                    f" ({pair.other_score:.3f}) because",
                )
            )
            pairs = Table(box=None, padding=(0, 1), show_header=False, pad_edge=False)
            for c in pair.contributions[:PAIR_CONTRIBUTIONS_SHOWN]:
                pairs.add_row(c.feature, f"{c.value:.3g} vs {c.other_value:.3g}", signed(c.contribution))
            parts.append(pairs)
        self.update(Group(*parts))
