"""The main screen: the request panel, the two lists, the views of one answer, the timings.

At WIDE_COLUMNS and up the stage-1 list and the re-ranked list stand side by side with the
explanation and the funnel below them; narrower terminals show them as tabs. The screen
holds the answer being shown in reactive attributes that the panels are bound to, and carries
out what the lists ask for (`ItemAction`).

Every engine call (requests, explanations, comparisons) runs on one long-lived engine thread,
awaited by an async worker, so the UI thread never waits and a newer request cancels the
wait for a stale one. One thread, not one per call: CatBoost keeps per-thread state, and a
request on a fresh thread after an explanation on another took 1.3x as long in the model.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Select, TabbedContent, TabPane

from engine.ann import backend_class
from engine.data import favourite_categories
from engine.engine import Engine
from engine.errors import TwostageError
from engine.latency import SessionStats
from engine.requests import RecommendRequest, RecommendResponse
from lab.compare import Comparison, compare
from lab.sweep import candidate_sweep, recall_sweep
from tui.messages import (
    ComparisonReady,
    ExplanationReady,
    ItemAction,
    ItemHighlighted,
    ResultReady,
    SweepProgress,
    SweepReady,
    Why,
)
from tui.panels import BackendSelect, RequestPanel, TimingsPanel
from tui.stage_one_table import StageOneTable
from tui.stage_two_table import StageTwoTable
from tui.views import ComparePanel, ExplainPanel, FunnelPanel, SweepPanel

WIDE_COLUMNS = 140  # from here on, before | after side by side
SWEEP_USERS = 100
RECALL_SWEEP_USERS = 50
#: tabs whose content the wide layout shows beside the lists
SHOWN_BESIDE = ("candidates", "why", "funnel")
T = TypeVar("T")


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "random_user", "Random user"),
        Binding("x", "compare", "Compare"),
        Binding("s", "sweep", "Sweep"),
        Binding("S", "recall_sweep", "Recall sweep"),
        Binding("question_mark", "app.help", "Help"),
        *(
            Binding(str(n), f"tab('{tab}')", tab.capitalize(), show=False)
            for n, tab in enumerate(("ranked", "candidates", "why", "funnel", "compare", "sweep"), start=1)
        ),
    ]

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)
    why: reactive[Why | None] = reactive(None, always_update=True)
    comparison: reactive[Comparison | None] = reactive(None, always_update=True)

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.session = SessionStats()
        self.rng = np.random.default_rng()
        self.wide = False
        self.engine_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")

    def compose(self) -> ComposeResult:
        catalog = self.engine.catalog
        yield Header()
        yield RequestPanel(self.engine)
        with TabbedContent(initial="ranked"):
            with TabPane("Ranked [1]", id="ranked"):
                with Horizontal(id="lists"):
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
                backends = self.engine.usable_backends()
                yield ComparePanel(catalog, backends, id="comparison").data_bind(MainScreen.comparison)
            with TabPane("Sweep [6]", id="sweep"), VerticalScroll():
                yield SweepPanel("Press s to run the candidate-size sweep.", id="sweep-plot")
        yield TimingsPanel(self.session).data_bind(MainScreen.response)
        yield Footer()

    def on_mount(self) -> None:
        # After the first paint: a request racing the screen's layout for the GIL would
        # report the UI's work as its own latency.
        self.call_after_refresh(self.action_run)

    def on_unmount(self) -> None:
        self.engine_thread.shutdown(wait=False, cancel_futures=True)

    async def on_engine(self, call: Callable[..., T], *args: object) -> T:
        """`call(*args)` on the engine thread, awaited without blocking the UI."""
        return await asyncio.get_running_loop().run_in_executor(
            self.engine_thread, functools.partial(call, *args)
        )

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

    # A description, or Textual would repr() the arguments (a whole response) on the UI thread.
    @work(exclusive=True, group="request", description="recommend")  # a newer request cancels it
    async def recommend(self, request: RecommendRequest) -> None:
        try:
            response = await self.on_engine(self.engine.recommend, request)
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
        self.post_message(ResultReady(response, why))

    def on_result_ready(self, message: ResultReady) -> None:
        first = self.response is None
        response = message.response
        self.session.add({**response.timings_ms, **{v.stage: v.ms for v in response.verdicts}})
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

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            self.find_user(event.value)
        elif event.input.id == "compare-param":
            self.action_compare()
        else:
            self.action_run()

    @on(Select.Changed, "#backend, #candidates, #category")
    def request_changed(self, event: Select.Changed) -> None:
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
        fans = np.flatnonzero(favourite_categories(self.engine.dataset) == code)
        if len(fans) == 0:
            self.notify(f"no user prefers {text}", severity="warning")
            return
        self.query_one(RequestPanel).set_user(int(self.rng.choice(fans)))
        self.action_run()

    # ------------------------------------------- the selected item, in both lists
    def on_item_highlighted(self, message: ItemHighlighted) -> None:
        self.explain_selected(message.item_id)

    def explain_selected(self, item: int) -> None:
        """Follow the item in the other list (with how far it moved) and explain it."""
        if self.response is None:
            return
        self.query_one("#stage2", StageTwoTable).select_item(item)
        self.query_one("#before", StageOneTable).select_item(item)
        self.query_one("#lists").border_subtitle = self.movement(item)
        shown = self.why
        if shown is not None and shown.response is self.response and shown.explanation.item_id == item:
            return  # explained already (the answer brought its top item's explanation)
        if self.response.model_scored:
            self.explain(self.response, item)

    def movement(self, item: int) -> str:
        response = self.response
        title = self.engine.catalog.titles[item]
        before = int(np.flatnonzero(response.candidates.candidates.item_ids == item)[0]) + 1
        after = next((i.rank_after for i in response.items if i.item_id == item), None)
        if after is None:
            return f"{title}: stage 1 #{before}, not in the top {response.k}"
        change = before - after
        how = f"up {change}" if change > 0 else f"down {-change}" if change < 0 else "unmoved"
        return f"{title}: stage 1 #{before} -> #{after} ({how})"

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
        alone, pair = await self.on_engine(self.engine.explain_in_list, response, item)
        return Why(alone, pair, response)

    def on_explanation_ready(self, message: ExplanationReady) -> None:
        self.why = message.why

    # ------------------------------------------------------ simulated users
    def on_item_action(self, message: ItemAction) -> None:
        if self.response is None:
            return
        if message.action == "explain":
            self.action_tab("why")
            return
        try:
            self.engine.record_event(self.response.user_id, message.item_id, message.action)
        except TwostageError as error:
            self.notify(str(error), severity="error")
            return
        verb = "clicked" if message.action == "click" else "bought"
        title = self.engine.catalog.titles[message.item_id]
        self.notify(f"user {self.response.user_id} {verb} {title}; ranking again")
        self.action_run()

    # -------------------------------------------------------------- compare
    def action_compare(self) -> None:
        """The shown answer's request again, with the backend and setting of the compare tab."""
        if self.response is None:
            return
        try:
            request = self.query_one(RequestPanel).request()
            other = self.query_one(ComparePanel).second(request)
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Bad request")
            return
        self.action_tab("compare")
        self.run_comparison(request, other)

    @work(exclusive=True, group="compare", description="compare two answers")
    async def run_comparison(self, a: RecommendRequest, b: RecommendRequest) -> None:
        try:
            first = await self.on_engine(self.engine.recommend, a)
            second = await self.on_engine(self.engine.recommend, b)
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Compare failed")
            return
        self.post_message(ComparisonReady(compare(first, second)))

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        self.comparison = message.comparison

    def add_backends(self, backends: list[str]) -> None:
        """A background build finished: offer its backends in the request and compare panels."""
        for select in self.query(BackendSelect):
            select.offer(backends)

    # ---------------------------------------------------------------- sweep
    def action_sweep(self) -> None:
        self.query_one(SweepPanel).update("Running the sweep: 7 candidate sizes x 100 users ...")
        self.action_tab("sweep")
        self.sweep()

    def action_recall_sweep(self) -> None:
        backend = self.query_one(RequestPanel).backend
        if backend is None or not backend_class(backend).needs_build:
            self.notify("choose an approximate backend first: exact search has recall 1", severity="warning")
            return
        self.query_one(SweepPanel).update(f"Running the recall sweep: {backend}'s search settings ...")
        self.action_tab("sweep")
        self.sweep(backend)

    @work(thread=True, exclusive=True, group="sweep", description="sweep")
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
