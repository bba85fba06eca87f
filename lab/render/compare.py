"""Two answers for one user, side by side: the app's compare tab and `twostage compare`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from lab.compare import Comparison

TITLES_SHOWN = 5


def comparison_view(c: Comparison, titles: Sequence[str]) -> Group:
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold", pad_edge=False)
    table.add_column("")
    table.add_column(c.a.label)
    table.add_column(c.b.label)
    recall = [("n/a" if s.recall is None else f"{s.recall:.3f}") for s in (c.a, c.b)]
    table.add_row(f"ANN recall@{c.ann_k}", *recall)
    table.add_row("ANN ms", f"{c.a.ann_ms:.2f}", f"{c.b.ann_ms:.2f}")
    table.add_row("total ms", f"{c.a.total_ms:.2f}", f"{c.b.total_ms:.2f}")
    table.add_row("candidates", f"{c.a.candidates:,}", f"{c.b.candidates:,}")
    summary = Text(
        f"shared: {c.shared_candidates:,} candidates, {c.shared_ann} of the ANN path's {c.ann_k}, "
        f"{c.shared_top} of the top {c.k}"
    )
    lines = [table, summary]
    for label, items in ((f"only {c.a.label}", c.only_a), (f"only {c.b.label}", c.only_b)):
        if items:
            names = ", ".join(titles[i] for i in items[:TITLES_SHOWN])
            more = f" and {len(items) - TITLES_SHOWN} more" if len(items) > TITLES_SHOWN else ""
            lines.append(Text(f"{label}: {names}{more}", style="yellow"))
    if c.moved:
        moves = ", ".join(f"{titles[i]} {a}->{b}" for i, a, b in c.moved[:TITLES_SHOWN])
        lines.append(Text(f"same items, other ranks: {moves}", style="dim"))
    elif not c.only_a:
        lines.append(Text("the same top K in the same order", style="green"))
    return Group(*lines)
