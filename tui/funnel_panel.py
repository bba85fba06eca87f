"""The request's funnel: how many items each step kept, beside the time the step took."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from engine.funnel import funnel
from engine.requests import RecommendResponse


class FunnelPanel(Static):
    """How many items each step of the request kept, beside the time the step took."""

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)

    def watch_response(self, response: RecommendResponse | None) -> None:
        if response is None:
            return
        steps = funnel(response)
        widest = max(max(step.items for step in steps), 1)
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", pad_edge=False)
        table.add_column("step", no_wrap=True)
        table.add_column("items", justify="right")
        table.add_column("", no_wrap=True)
        table.add_column("ms", justify="right")
        table.add_column("", style="dim", no_wrap=True)
        for step in steps:
            width = round(12 * step.items / widest)
            table.add_row(
                step.step,
                f"{step.items:,}",
                Text("█" * width if step.items else "", style="cyan"),
                "" if step.ms is None else f"{step.ms:.2f}",
                step.detail,
            )
        self.update(table)
