"""Small rich renderings that the CLI and the app share."""

from __future__ import annotations

from rich.text import Text

from engine.requests import RankedItem


def movement(before: int, change: int) -> Text:
    """'▲13 (14)': up 13 places from stage-1 rank 14; red '▼' for down, '=' for unmoved."""
    if change > 0:
        return Text.assemble((f"▲{change}", "bold green"), f" ({before})")
    if change < 0:
        return Text.assemble((f"▼{-change}", "bold red"), f" ({before})")
    return Text.assemble(("=", "dim"), f" ({before})")


def ranked_cells(item: RankedItem) -> tuple[str, Text, str, str, str]:
    """Rank, movement, title, category and score: how both clients show a final item."""
    return (
        str(item.rank_after),
        movement(item.rank_before, item.rank_change),
        item.title,
        item.category,
        f"{item.score:.3f}",
    )
