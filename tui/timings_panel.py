"""What an answer cost: one bar per stage against its budget, a sparkline of recent totals,
the session's p50 and p99, and the ANN path's recall against exact search."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Sparkline, Static

from engine.latency import SessionStats
from engine.requests import RecommendResponse


class TimingsPanel(Vertical):
    """One bar per stage against its budget, a sparkline of recent totals, session p50/p99."""

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)

    def __init__(self, session: SessionStats, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session = session

    def compose(self) -> ComposeResult:
        yield Static(id="bars")
        yield Sparkline([], id="spark", summary_function=max)
        yield Static(id="recall")

    def watch_response(self, response: RecommendResponse | None) -> None:
        if response is not None:
            self.show(response, self.session)

    def show(self, response: RecommendResponse, session: SessionStats) -> None:
        table = Table.grid(padding=(0, 1))
        for _ in range(5):
            table.add_column()
        for verdict in response.verdicts:
            share = verdict.ms / verdict.budget_ms if verdict.budget_ms else 0.0
            style = "green" if verdict.ok else "bold white on red"
            p50, p99 = session.percentile(verdict.stage, 50), session.percentile(verdict.stage, 99)
            table.add_row(
                Text(f"{verdict.stage:<9}", style="bold" if verdict.stage == "total" else ""),
                bar(share, 16, style),
                Text(f"{verdict.ms:6.2f}/{verdict.budget_ms:g} ms", style=style),
                Text(f"p50 {p50:.2f}" if p50 is not None else "", style="dim"),
                Text(f"p99 {p99:.2f}" if p99 is not None else "", style="dim"),
            )
        self.query_one("#bars", Static).update(table)
        self.query_one("#spark", Sparkline).data = session.recent_totals()
        result = response.candidates
        degraded = " · ".join(response.degraded)
        recall = "n/a (no query vector)" if result.recall is None else f"{result.recall:.3f}"
        text = Text.assemble(
            (f"ANN recall@{result.ann_k} vs exact: ", "dim"),
            recall,
            (f" · {len(session)} requests this session", "dim"),
        )
        if degraded:
            text.append(f"\n{degraded}", style="bold yellow")
        self.query_one("#recall", Static).update(text)


def bar(share: float, width: int, style: str) -> Text:
    """A horizontal bar: full = the stage's whole budget; over budget fills and turns red."""
    filled = min(width, round(share * width))
    if share > 0 and filled == 0:
        filled = 1
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))
