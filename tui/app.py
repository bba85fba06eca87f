"""`twostage demo`: the Textual app. A thin client of engine.Engine: every engine call runs in
a thread worker and posts a message back; a new request cancels a stale one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, TabbedContent, TabPane
from textual.worker import get_current_worker

from engine.ann import available, backend_class
from engine.build import build
from engine.config import EngineConfig
from engine.engine import Engine
from engine.errors import TwostageError
from engine.features import FEATURES
from engine.layout import Layout
from engine.requests import RecommendResponse
from engine.stats import SessionStats
from engine.sweep import candidate_sweep, recall_sweep
from sample_data.synthetic import SyntheticParams
from tui.messages import BuildProgress, EngineReady, ExplanationReady, ResultReady, SweepProgress, SweepReady
from tui.panels import ExplainPanel, RequestPanel, StageOneTable, StageTwoTable, SweepPanel, TimingsPanel
from tui.screens import BuildScreen, HelpScreen

SWEEP_USERS = 100
RECALL_SWEEP_USERS = 50
# A first run builds these (the exact one needs none).
DEMO_BACKENDS = ["faiss-ivf", "faiss-hnsw", "hnswlib", "scann"]


class MainScreen(Screen[None]):
    """The request panel, both stages' tables, the explanation, the sweep and the timings."""

    BINDINGS = [
        Binding("r", "random_user", "Random user"),
        Binding("c", "record('click')", "Click"),
        Binding("b", "record('purchase')", "Buy"),
        Binding("e", "explain", "Explain"),
        Binding("s", "sweep", "Sweep"),
        Binding("S", "recall_sweep", "Recall sweep"),
        Binding("question_mark", "app.help", "Help"),
        Binding("1", "tab('reranked')", "Re-ranked", show=False),
        Binding("2", "tab('candidates')", "Candidates", show=False),
        Binding("3", "tab('why')", "Why", show=False),
        Binding("4", "tab('sweep')", "Sweep view", show=False),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.session = SessionStats()
        self.response: RecommendResponse | None = None
        self.rng = np.random.default_rng()

    def compose(self) -> ComposeResult:
        yield Header()
        yield RequestPanel(self.engine)
        with TabbedContent(initial="reranked"):
            with TabPane("Re-ranked [1]", id="reranked"):
                yield StageTwoTable(id="stage2")
            with TabPane("Candidates [2]", id="candidates"):
                yield StageOneTable(id="stage1")
            with TabPane("Why [3]", id="why"), VerticalScroll():
                yield ExplainPanel("Select an item in the re-ranked list.", id="explain")
            with TabPane("Sweep [4]", id="sweep"), VerticalScroll():
                yield SweepPanel("Press s to run the candidate-size sweep.", id="sweep-plot")
        yield TimingsPanel()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RequestPanel).show_param_hint(self.query_one("#backend", Select).value)
        # After the first paint: a request racing the screen's layout for the GIL would
        # report the UI's work as its own latency.
        self.call_after_refresh(self.action_run)

    # ------------------------------------------------------------ requests
    def action_run(self) -> None:
        try:
            request = self.query_one(RequestPanel).request()
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Bad request")
            return
        self.sub_title = f"user {request.user_id} · {request.backend} · {request.n_candidates} candidates"
        # After the repaint the title asks for: the UI thread drawing while the engine runs
        # takes the GIL from it, and the app would show its own work as the engine's time.
        self.call_after_refresh(self.recommend, request)

    @work(thread=True, exclusive=True, group="request")
    def recommend(self, request) -> None:
        try:
            response = self.engine.recommend(request)
        except TwostageError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", title="Request failed")
            return
        if not get_current_worker().is_cancelled:  # a newer request replaced this one
            self.post_message(ResultReady(response))

    def on_result_ready(self, message: ResultReady) -> None:
        response = message.response
        first = self.response is None
        self.response = response
        self.session.add({**response.timings_ms, **{v.stage: v.ms for v in response.verdicts}})
        self.query_one(StageTwoTable).show(response)
        self.query_one(StageOneTable).show(self.engine, response)
        self.query_one(TimingsPanel).show(response, self.session)
        if first:  # keyboard first: the list has focus, so single-key bindings work at once
            self.query_one(StageTwoTable).focus()
        for note in response.notes:
            self.notify(note, title="Note")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            self.find_user(event.value)
        else:
            self.action_run()

    @on(Select.Changed)
    def selected(self, event: Select.Changed) -> None:
        if event.select.id == "backend" and event.value is not Select.NULL:
            self.query_one(RequestPanel).show_param_hint(event.value)
            self.query_one("#param", Input).value = ""
        if self.response is not None:
            self.action_run()

    def action_random_user(self) -> None:
        self.query_one(RequestPanel).set_user(int(self.rng.integers(0, self.engine.users.n_users)))
        self.action_run()

    def find_user(self, text: str) -> None:
        """A user whose strongest category (from the profile) is the one typed."""
        names = [n.lower() for n in self.engine.catalog.category_names]
        if text.strip().lower() not in names:
            self.notify(
                f"no category named {text!r}; try one of: {', '.join(names[:8])}, ...", severity="error"
            )
            return
        code = names.index(text.strip().lower())
        fans = np.flatnonzero(self.favourite_categories() == code)
        if len(fans) == 0:
            self.notify(f"no user prefers {text}", severity="warning")
            return
        self.query_one(RequestPanel).set_user(int(self.rng.choice(fans)))
        self.action_run()

    def favourite_categories(self) -> np.ndarray:
        """Each user's strongest category: the profile's when the data set has one, else the
        category they clicked most."""
        users, catalog = self.engine.users, self.engine.catalog
        if "category_affinity" in self.engine.dataset.attributes:
            return users.category_affinity.argmax(axis=1)
        owners = np.repeat(np.arange(users.n_users), np.diff(users.history_offsets))
        n_categories = len(catalog.category_names)
        counts = np.bincount(
            owners * n_categories + catalog.category[users.history_items],
            minlength=users.n_users * n_categories,
        ).reshape(users.n_users, n_categories)
        return np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1)

    # -------------------------------------------------------- explanations
    @on(DataTable.RowHighlighted, "#stage2")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.action_explain()

    def action_explain(self) -> None:
        table = self.query_one(StageTwoTable)
        item = table.selected_item()
        if item is None or self.response is None or self.response.degraded:
            return
        items = [i.item_id for i in self.response.items]
        position = items.index(item) if item in items else -1
        below = items[position + 1] if 0 <= position < len(items) - 1 else None
        self.explain(self.response, item, below)

    @work(thread=True, exclusive=True, group="explain")
    def explain(self, response: RecommendResponse, item: int, below: int | None) -> None:
        try:
            alone = self.engine.explain(response, item)
            pair = None if below is None else self.engine.explain(response, item, below)
        except TwostageError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
            return
        if not get_current_worker().is_cancelled:
            self.post_message(ExplanationReady(alone, pair))

    def on_explanation_ready(self, message: ExplanationReady) -> None:
        self.query_one(ExplainPanel).show(self.engine, message.explanation, message.pair)

    # ------------------------------------------------------ simulated users
    def action_record(self, kind: str) -> None:
        item = self.query_one(StageTwoTable).selected_item()
        if item is None or self.response is None:
            self.notify("run a request and select an item first", severity="warning")
            return
        try:
            self.engine.record_event(self.response.user_id, item, kind)
        except TwostageError as error:
            self.notify(str(error), severity="error")
            return
        verb = "clicked" if kind == "click" else "bought"
        self.notify(f"user {self.response.user_id} {verb} {self.engine.catalog.titles[item]}; ranking again")
        self.action_run()

    # ---------------------------------------------------------------- sweep
    def action_sweep(self) -> None:
        self.query_one(SweepPanel).update("Running the sweep: 7 candidate sizes x 100 users ...")
        self.action_tab("sweep")
        self.sweep()

    def action_recall_sweep(self) -> None:
        backend = self.query_one("#backend", Select).value
        if backend is Select.NULL or not backend_class(str(backend)).needs_build:
            self.notify("choose an approximate backend first: exact search has recall 1", severity="warning")
            return
        self.query_one(SweepPanel).update(f"Running the recall sweep: {backend}'s search settings ...")
        self.action_tab("sweep")
        self.sweep(str(backend))

    @work(thread=True, exclusive=True, group="sweep")
    def sweep(self, backend: str | None = None) -> None:
        """The candidate-size sweep, or with `backend` the recall sweep over its search grid."""

        def progress(step: str, done: int, total: int) -> None:
            self.post_message(SweepProgress(done, total))

        root, config = self.engine.layout.root, self.engine.config
        try:
            if backend is None:
                result = candidate_sweep(root, config, n_users=SWEEP_USERS, progress=progress)
            else:
                result = recall_sweep(
                    root, config, backends=[backend], n_users=RECALL_SWEEP_USERS, progress=progress
                )
        except TwostageError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
            return
        self.post_message(SweepReady(result))

    def on_sweep_progress(self, message: SweepProgress) -> None:
        self.query_one(SweepPanel).update(
            f"Running the sweep: step {message.done} of {message.total} done ..."
        )

    def on_sweep_ready(self, message: SweepReady) -> None:
        self.query_one(SweepPanel).show(message.sweep)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab


class TwostageApp(App[None]):
    """Opens (and on a first run builds) the data directory, then shows the main screen."""

    CSS_PATH = "styles.tcss"
    TITLE = "twostage"
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("question_mark", "help", "Help")]

    def __init__(
        self,
        data_dir: Path,
        config: EngineConfig | None = None,
        engine: Engine | None = None,
        build_params: SyntheticParams | None = None,
    ):
        """`engine` skips opening (tests share one); `build_params` sizes a first-run build."""
        super().__init__()
        self.data_dir, self.config, self.engine = Path(data_dir), config or EngineConfig(), engine
        self.build_params = build_params

    def action_help(self) -> None:
        """Help for the engine in use; before it is open, for the configuration's budget."""
        if isinstance(self.screen, HelpScreen):
            return
        features = len(self.engine.features) if self.engine is not None else len(FEATURES)
        budget = self.engine.config.budget if self.engine is not None else self.config.budget
        self.push_screen(HelpScreen(features, budget))

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label(f"Opening {self.data_dir} ...", id="opening")
        yield Footer()

    def on_mount(self) -> None:
        if self.engine is not None:
            self.push_screen(MainScreen(self.engine))
        else:
            self.open_engine()

    @work(thread=True, exclusive=True, group="open")
    def open_engine(self) -> None:
        layout = Layout(self.data_dir)
        try:
            if not (layout.model / "manifest.json").exists():
                self.call_from_thread(self.push_screen, BuildScreen())
                build(
                    layout,
                    self.build_params,
                    [name for name in DEMO_BACKENDS if name in available()],
                    config=self.config,
                    progress=lambda step, done, total: self.post_message(BuildProgress(step, done, total)),
                )
            engine = Engine.open(self.data_dir, self.config)
            engine.warm_up()
        except TwostageError as error:
            self.call_from_thread(self.notify, str(error), severity="error", timeout=30)
            return
        self.post_message(EngineReady(engine))

    def on_build_progress(self, message: BuildProgress) -> None:
        if isinstance(self.screen, BuildScreen):
            self.screen.report(message.step, message.done, message.total)

    def on_engine_ready(self, message: EngineReady) -> None:
        self.engine = message.engine
        if isinstance(self.screen, BuildScreen):
            self.pop_screen()
        self.push_screen(MainScreen(message.engine))
