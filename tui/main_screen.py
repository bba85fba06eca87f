"""The main screen arranges the app: the request panel, the two lists, the views of one
answer, the timings. It holds the answer being shown in reactive attributes that the widgets
are bound to, and routes keys and messages; the widgets own their fields and their work.

At WIDE_COLUMNS and up the stage-1 list and the re-ranked list stand side by side with the
explanation and the funnel below them; narrower terminals show them as tabs.

Every engine call runs on the screen's one `EngineThread`, awaited by an async worker, so the
UI thread never waits and a newer request cancels the wait for a stale one.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from engine.engine import Engine
from engine.errors import TwostageError
from engine.latency import SessionStats
from engine.requests import RecommendRequest, RecommendResponse
from tui.compare_panel import ComparePanel
from tui.engine_thread import EngineThread
from tui.explain_panel import ExplainPanel
from tui.funnel_panel import FunnelPanel
from tui.messages import ExplanationReady, ItemAction, ItemHighlighted, ResultReady, Why
from tui.ranked_lists import RankedLists
from tui.request_panel import BackendSelect, RequestPanel
from tui.stage_one_table import StageOneTable
from tui.stage_two_table import StageTwoTable
from tui.sweep_panel import SweepPanel
from tui.timings_panel import TimingsPanel

WIDE_COLUMNS = 140  # from here on, before | after side by side
#: tabs whose content the wide layout shows beside the lists
SHOWN_BESIDE = ("candidates", "why", "funnel")
TABS = ("ranked", "candidates", "why", "funnel", "compare", "sweep")


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "random_user", "Random user"),
        Binding("x", "compare", "Compare"),
        Binding("s", "sweep", "Sweep"),
        Binding("S", "recall_sweep", "Recall sweep"),
        Binding("question_mark", "app.help", "Help"),
        *(
            Binding(str(n), f"tab('{tab}')", tab.capitalize(), show=False)
            for n, tab in enumerate(TABS, start=1)
        ),
    ]

    request: reactive[RecommendRequest | None] = reactive(None)  # the shown answer's
    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)
    why: reactive[Why | None] = reactive(None, always_update=True)

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.session = SessionStats()
        self.wide = False
        self.engine_thread = EngineThread()

    def compose(self) -> ComposeResult:
        catalog = self.engine.catalog
        yield Header()
        yield RequestPanel(self.engine)
        with TabbedContent(initial="ranked"):
            with TabPane("Ranked [1]", id="ranked"):
                with RankedLists(catalog, id="lists").data_bind(MainScreen.response):
                    yield StageOneTable(catalog, id="before").data_bind(MainScreen.response)
                    yield StageTwoTable(catalog, id="stage2").data_bind(MainScreen.response)
                with Horizontal(id="beside"):
                    with VerticalScroll(id="why-beside"):
                        yield ExplainPanel(catalog).data_bind(MainScreen.why)
                    yield FunnelPanel(id="funnel-beside").data_bind(MainScreen.response)
            with TabPane("Candidates [2]", id="candidates"):
                yield StageOneTable(catalog, id="stage1").data_bind(MainScreen.response)
            with TabPane("Why [3]", id="why"), VerticalScroll():
                yield ExplainPanel(catalog, id="explain").data_bind(MainScreen.why)
            with TabPane("Funnel [4]", id="funnel"), VerticalScroll():
                yield FunnelPanel(id="funnel-tab").data_bind(MainScreen.response)
            with TabPane("Compare [5]", id="compare"), VerticalScroll():
                compare = ComparePanel(self.engine, self.engine_thread, id="comparison")
                yield compare.data_bind(MainScreen.request)
            with TabPane("Sweep [6]", id="sweep"), VerticalScroll():
                yield SweepPanel(self.engine, id="sweep-plot").data_bind(MainScreen.request)
        yield TimingsPanel(self.session).data_bind(MainScreen.response)
        yield Footer()

    def on_mount(self) -> None:
        # After the first paint: a request racing the screen's layout for the GIL would
        # report the UI's work as its own latency.
        self.call_after_refresh(self.query_one(RequestPanel).submit)

    def on_unmount(self) -> None:
        self.engine_thread.shutdown()

    def on_resize(self, event: Resize) -> None:
        wide = event.size.width >= WIDE_COLUMNS
        if wide == self.wide:
            return
        self.wide = wide
        self.set_class(wide, "wide")
        tabs = self.query_one(TabbedContent)
        for tab in SHOWN_BESIDE:
            if wide:
                tabs.hide_tab(tab)
            else:
                tabs.show_tab(tab)
        if wide and tabs.active in SHOWN_BESIDE:
            tabs.active = "ranked"

    def action_tab(self, tab: str) -> None:
        """Show a view; in the wide layout the lists, the explanation and the funnel are all
        on the first tab, so their keys go there (2 moves into the stage-1 list)."""
        tabs = self.query_one(TabbedContent)
        if self.wide and tab in SHOWN_BESIDE:
            tabs.active = "ranked"
            if tab == "candidates":
                self.query_one("#before", StageOneTable).focus()
            return
        tabs.active = tab
        if tab == "candidates":  # its keys (up / down, left / right, c / b / e) work at once
            self.query_one("#stage1", StageOneTable).focus()

    def add_backends(self, backends: list[str]) -> None:
        """A background build finished: offer its backends in the request and compare panels."""
        for select in self.query(BackendSelect):
            select.offer(backends)

    # ------------------------------------------------------------ requests
    def on_request_panel_submitted(self, message: RequestPanel.Submitted) -> None:
        self.ask(message.request)

    def ask(self, request: RecommendRequest) -> None:
        self.sub_title = f"user {request.user_id} · {request.backend} · {request.n_candidates} candidates"
        # After the repaint the title asks for: the UI thread drawing while the engine runs
        # takes the GIL from it, and the app would show its own work as the engine's time.
        self.call_after_refresh(self.recommend, request)

    def action_random_user(self) -> None:
        self.query_one(RequestPanel).random_user()

    # A description, or Textual would repr() the arguments (a whole response) on the UI thread.
    @work(exclusive=True, group="request", description="recommend")  # a newer request cancels it
    async def recommend(self, request: RecommendRequest) -> None:
        try:
            response = await self.engine_thread.run(self.engine.recommend, request)
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Request failed")
            return
        # The top item's explanation comes with the answer: the screen lays out once.
        why = None
        if response.items and response.model_scored:
            try:
                why = await self.why_of(response, response.items[0].item_id)
            except TwostageError as error:  # the answer still shows
                self.notify(str(error), severity="error")
        self.post_message(ResultReady(request, response, why))

    def on_result_ready(self, message: ResultReady) -> None:
        first = self.response is None
        response = message.response
        self.session.add({**response.timings_ms, **{v.stage: v.ms for v in response.verdicts}})
        self.request = message.request
        self.response = response  # the lists, the funnel and the timings redraw themselves
        if message.why is not None:
            self.why = message.why
        top = self.query_one("#stage2", StageTwoTable)
        if first:  # keyboard first: the list has focus, so single-key bindings work at once
            top.focus()
        item = top.selected_item()
        if item is not None:
            self.explain_selected(item)
        for note in response.notes:
            self.notify(note, title="Note")

    # ------------------------------------------- the selected item, in both lists
    def on_item_highlighted(self, message: ItemHighlighted) -> None:
        self.explain_selected(message.item_id)

    def explain_selected(self, item: int) -> None:
        """Follow the item in both lists and explain it."""
        if self.response is None:
            return
        self.query_one(RankedLists).follow(item)
        shown = self.why
        if shown is not None and shown.response is self.response and shown.explanation.item_id == item:
            return  # explained already (the answer brought its top item's explanation)
        if self.response.model_scored:
            self.explain(self.response, item)

    @work(exclusive=True, group="explain", description="explain the selected item")
    async def explain(self, response: RecommendResponse, item: int) -> None:
        try:
            why = await self.why_of(response, item)
        except TwostageError as error:
            self.notify(str(error), severity="error")
            return
        self.post_message(ExplanationReady(why))

    async def why_of(self, response: RecommendResponse, item: int) -> Why:
        """The item's explanation against the request, and, for a top-K item, against the
        item ranked just below it."""
        alone, pair = await self.engine_thread.run(self.engine.explain_in_list, response, item)
        return Why(alone, pair, response)

    def on_explanation_ready(self, message: ExplanationReady) -> None:
        self.why = message.why

    # ------------------------------------------------------ simulated users
    def on_item_action(self, message: ItemAction) -> None:
        if self.response is None or self.request is None:
            return
        if message.action == "explain":
            self.action_tab("why")
            return
        self.record(self.request, self.response.user_id, message.item_id, message.action)

    @work(group="events", description="record a simulated user's event")
    async def record(self, request: RecommendRequest, user: int, item: int, action: str) -> None:
        """On the engine thread, after the request in flight: a live store over the network
        (Redis) must not stall the screen, nor change a user's state mid-request."""
        try:
            await self.engine_thread.run(self.engine.record_event, user, item, action)
        except TwostageError as error:
            self.notify(str(error), severity="error")
            return
        verb = "clicked" if action == "click" else "bought"
        self.notify(f"user {user} {verb} {self.engine.catalog.titles[item]}; ranking again")
        self.ask(request)

    # ------------------------------------------------------ compare, sweeps
    def action_compare(self) -> None:
        """The shown answer's request again, with the backend and setting of the compare tab."""
        if self.query_one(ComparePanel).start():
            self.action_tab("compare")

    def action_sweep(self) -> None:
        self.query_one(SweepPanel).start_sizes()
        self.action_tab("sweep")

    def action_recall_sweep(self) -> None:
        if self.query_one(SweepPanel).start_recall():
            self.action_tab("sweep")
