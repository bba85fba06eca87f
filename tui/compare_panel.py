"""Two answers compared: the shown answer's request run again with another backend or search
setting, and what the two share (candidates, ANN results, top K)."""

from __future__ import annotations

from dataclasses import replace

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

from engine.engine import Engine
from engine.errors import TwostageError
from engine.requests import RecommendRequest
from lab.compare import Comparison, compare
from lab.render.compare import comparison_view
from tui.engine_thread import EngineThread
from tui.request_panel import BackendSelect, search_params


class ComparePanel(Vertical):
    """Runs both requests on the screen's engine thread and shows the comparison."""

    request: reactive[RecommendRequest | None] = reactive(None)  # the shown answer's
    comparison: reactive[Comparison | None] = reactive(None, always_update=True)

    def __init__(self, engine: Engine, engine_thread: EngineThread, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine, self.engine_thread = engine, engine_thread

    def compose(self) -> ComposeResult:
        backends = self.engine.usable_backends()
        with Horizontal(classes="row"):
            yield Label("with", classes="caption")
            yield BackendSelect(backends, backends[0], id="compare-backend")
            yield Input(id="compare-param", placeholder="param, e.g. nprobe=4", classes="param", compact=True)
            yield Label("x: compare", classes="hint")
        yield Static("Press x to run this request again with the backend chosen here.", id="compare-result")

    def second(self, request: RecommendRequest) -> RecommendRequest:
        """`request` with this panel's backend and search setting (a clear error on a bad one)."""
        backend = self.query_one("#compare-backend", Select).value
        params = search_params(self.query_one("#compare-param", Input).value)
        return replace(request, backend=str(backend), search_params=params)

    def start(self) -> bool:
        """Compare the shown answer's request with its second version; False (and a
        notification) when there is nothing to compare or the setting is malformed."""
        if self.request is None:
            self.notify("run a request first", severity="warning")
            return False
        try:
            other = self.second(self.request)
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Bad request")
            return False
        self.compare_answers(self.request, other)
        return True

    @on(Input.Submitted, "#compare-param")
    def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        self.start()

    @work(exclusive=True, group="compare", description="compare two answers")
    async def compare_answers(self, a: RecommendRequest, b: RecommendRequest) -> None:
        try:
            first = await self.engine_thread.run(self.engine.recommend, a)
            second = await self.engine_thread.run(self.engine.recommend, b)
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Compare failed")
            return
        self.comparison = compare(first, second)

    def watch_comparison(self, comparison: Comparison | None) -> None:
        if comparison is not None:
            titles = self.engine.catalog.titles
            self.query_one("#compare-result", Static).update(comparison_view(comparison, titles))
