"""The sweeps, drawn as text: NDCG@k and latency against the candidate-set size, or NDCG@k
against the ANN path's recall (how much stage-1 recall the final list needs)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from engine.ann import backend_class
from engine.engine import Engine
from engine.errors import TwostageError
from engine.requests import RecommendRequest
from lab.evaluation import SIZES
from lab.render.plot import line_plot
from lab.sweep import RecallSweep, Sweep, candidate_sweep, recall_sweep

SWEEP_USERS = 100
RECALL_SWEEP_USERS = 50


class SweepPanel(Static):
    """Runs a sweep in a thread worker (each opens its own engines on the data directory) and
    draws the result; the recall sweep searches with the shown answer's backend."""

    request: reactive[RecommendRequest | None] = reactive(None)  # the shown answer's

    @dataclass
    class Progress(Message):
        done: int
        total: int

    @dataclass
    class Ready(Message):
        sweep: Sweep | RecallSweep

    def __init__(self, engine: Engine, **kwargs) -> None:
        super().__init__("Press s to run the candidate-size sweep.", **kwargs)
        self.engine = engine

    def start_sizes(self) -> None:
        self.update(f"Running the sweep: {len(SIZES)} candidate sizes x {SWEEP_USERS} users ...")
        self.sweep()

    def start_recall(self) -> bool:
        """The recall sweep over the shown backend's search grid; False (and a notification)
        when that backend is exact: its recall is 1 at every setting."""
        shown = None if self.request is None else self.request.backend
        backend = shown or self.engine.config.retrieval.backend
        if not backend_class(backend).needs_build:
            self.notify("choose an approximate backend first: exact search has recall 1", severity="warning")
            return False
        self.update(f"Running the recall sweep: {backend}'s search settings ...")
        self.sweep(backend)
        return True

    @work(thread=True, exclusive=True, group="sweep", description="sweep")
    def sweep(self, backend: str | None = None) -> None:
        """The candidate-size sweep, or with `backend` the recall sweep over its search grid."""

        def progress(step: str, done: int, total: int) -> None:
            self.post_message(self.Progress(done, total))

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
        self.post_message(self.Ready(result))

    def on_sweep_panel_progress(self, message: Progress) -> None:
        self.update(f"Running the sweep: step {message.done} of {message.total} done ...")

    def on_sweep_panel_ready(self, message: Ready) -> None:
        self.show(message.sweep)

    def show(self, sweep: Sweep | RecallSweep) -> None:
        if isinstance(sweep, RecallSweep):
            self._show_recall(sweep)
            return
        curves = {
            "re-ranked": [(r.size, r.ndcg) for r in sweep.rows],
            "stage 1": [(r.size, r.stage1_ndcg) for r in sweep.rows],
        }
        latency = {"p50 ms": [(r.size, r.p50_ms) for r in sweep.rows]}
        plot = line_plot(curves, x_label="candidate-set size", y_label=f"NDCG@{sweep.k}", width=70, height=9)
        plot.append_text(
            line_plot(latency, x_label="candidate-set size", y_label="p50 ms", width=70, height=5)
        )
        enough = f"enough: {sweep.enough}" if sweep.enough else "still improving at the largest size"
        plot.append(f"{sweep.users} users; ground truth: {sweep.ground_truth}; {enough}")
        self.update(plot)

    def _show_recall(self, sweep: RecallSweep) -> None:
        plot = line_plot(
            sweep.curves(),
            x_label=f"ANN path recall@{sweep.size} against exact search",
            y_label=f"NDCG@{sweep.k}",
            width=70,
            height=9,
            log_x=False,
        )
        worst, best = min(sweep.rows, key=lambda r: r.ann_recall), max(sweep.rows, key=lambda r: r.ann_recall)
        plot.append(
            f"recall {worst.ann_recall:.2f} -> NDCG@{sweep.k} {worst.ndcg:.4f} "
            f"(ANN {worst.ann_p50_ms:.2f} ms); recall {best.ann_recall:.2f} -> {best.ndcg:.4f} "
            f"(ANN {best.ann_p50_ms:.2f} ms)\n"
        )
        plot.append(f"{sweep.users} users, {sweep.size} candidates; ground truth: {sweep.ground_truth}")
        self.update(plot)
