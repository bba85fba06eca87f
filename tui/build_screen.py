"""The screen a first run shows while it builds what the first answer needs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar


class BuildScreen(Screen[None]):
    """Shown on a first run while the default data set, indexes and model are built."""

    def compose(self) -> ComposeResult:
        with Vertical(id="build"):
            yield Label("Building the default data set, index and model (under a minute, once)")
            yield Label("", id="step")
            yield ProgressBar(total=1, show_eta=False, id="progress")
        yield Footer()

    def report(self, step: str, done: int, total: int) -> None:
        self.query_one("#step", Label).update(step)
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(total, 1), progress=done)
