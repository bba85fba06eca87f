"""`twostage demo`: the Textual app. A thin client of engine.Engine: every engine call runs in
a thread worker and posts a message back; a new request cancels a stale one.

A first run builds the data set, the default backend and the model, shows results, and
builds the other demo backends in the background (they join the backend lists when done)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Label

from engine.ann import available
from engine.config import EngineConfig
from engine.engine import Engine
from engine.errors import TwostageError
from engine.features import FEATURES
from engine.layout import Layout
from engine.progress import Throttled
from lab.build import build
from sample_data.synthetic import SyntheticParams
from tui.build_screen import BuildScreen
from tui.help_screen import HelpScreen
from tui.main_screen import MainScreen
from tui.messages import BackendsBuilt, BuildProgress, EngineReady

# A first run builds these (the exact one needs none): the configured backend first.
DEMO_BACKENDS = ["faiss-ivf", "faiss-hnsw", "hnswlib", "scann"]


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

    @work(thread=True, exclusive=True, group="open", description="open the data directory")
    def open_engine(self) -> None:
        """Open the data directory; on a first run build only what the first answer needs."""
        layout = Layout(self.data_dir)
        first_run = not (layout.model / "manifest.json").exists()
        try:
            if first_run:
                self.call_from_thread(self.push_screen, BuildScreen())
                # The history table waits for the background build: the history path searches.
                untabled = self.config.retrieval.replace(history_table=0)
                build(
                    layout,
                    self.build_params,
                    [self.config.retrieval.backend],
                    config=self.config.replace(retrieval=untabled),
                    progress=Throttled(self.report_build),
                )
            engine = Engine.open(self.data_dir, self.config)
            engine.warm_up()
        except TwostageError as error:
            self.call_from_thread(self.notify, str(error), severity="error", timeout=30)
            return
        self.post_message(EngineReady(engine))
        if first_run:
            self.build_rest(layout)

    @work(thread=True, exclusive=True, group="build", description="build in the background")
    def build_rest(self, layout: Layout) -> None:
        """The other demo backends and the history table, while the first backend answers
        requests (the table serves from the next start)."""
        rest = [
            name for name in DEMO_BACKENDS if name in available() and name != self.config.retrieval.backend
        ]
        self.call_from_thread(
            self.notify,
            f"building {', '.join([*rest, 'the history table'])} in the background; timings are "
            "slower until it is done",
            title="Background build",
        )
        try:
            build(layout, None, rest, config=self.config)
        except TwostageError as error:
            self.post_message(BackendsBuilt([], str(error)))
            return
        self.post_message(BackendsBuilt(rest))

    def on_backends_built(self, message: BackendsBuilt) -> None:
        if message.error is not None:
            self.notify(f"background build failed: {message.error}", severity="error", timeout=30)
            return
        built = ", ".join(message.built)
        self.notify(
            f"built {built + ' (choose them in the backend list) and ' if built else ''}the history "
            "table (used from the next start)",
            title="Background build",
        )
        if self.engine is not None:
            for screen in self.screen_stack:
                if isinstance(screen, MainScreen):
                    screen.add_backends(self.engine.usable_backends())

    def report_build(self, step: str, done: int, total: int) -> None:
        """Called from the build's thread: the screen updates on the app's."""
        self.post_message(BuildProgress(step, done, total))

    def on_build_progress(self, message: BuildProgress) -> None:
        if isinstance(self.screen, BuildScreen):
            self.screen.report(message.step, message.done, message.total)

    def on_engine_ready(self, message: EngineReady) -> None:
        self.engine = message.engine
        if isinstance(self.screen, BuildScreen):
            self.pop_screen()
        self.push_screen(MainScreen(message.engine))
