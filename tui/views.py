"""The app's views of one answer beyond the lists: why an item ranks where it does, the
request's funnel, two answers compared, and the sweeps. Each redraws itself when the
reactive attribute it shows changes."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Static

from engine.data import Catalog
from engine.funnel import funnel
from engine.requests import RecommendRequest, RecommendResponse
from lab.compare import Comparison
from lab.render.compare import comparison_view
from lab.render.plot import line_plot
from lab.sweep import RecallSweep, Sweep
from tui.messages import Why
from tui.panels import BackendSelect, search_params

CONTRIBUTIONS_SHOWN = 6
PAIR_CONTRIBUTIONS_SHOWN = 4


def signed(value: float) -> Text:
    return Text(f"{value:+.3f}", style="green" if value > 0 else "red")


class ExplainPanel(Static):
    """The selected item against the request's mean candidate (features that are the same
    for every candidate cancel out), by feature group, and why it beats the next item."""

    why: reactive[Why | None] = reactive(None, always_update=True)

    def __init__(self, catalog: Catalog, **kwargs) -> None:
        super().__init__("Select an item in a list to see why it ranks there.", **kwargs)
        self.catalog = catalog

    def watch_why(self, why: Why | None) -> None:
        if why is None:
            return
        e, titles = why.explanation, self.catalog.titles
        head = Text.assemble(
            ("why ", "bold"),
            (titles[e.item_id], "bold"),
            f" {e.score:.3f} vs the candidates' mean {e.baseline:.3f}: ",
            signed(e.score - e.baseline),
        )
        found = ", ".join(f"{path} #{rank}" for path, rank in e.found_by.items()) or "no path (back-fill)"
        groups = Text("by group: ", style="dim")
        for group, total in e.groups.items():
            groups.append(f"{group} ")
            groups.append_text(signed(total))
            groups.append("  ")
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", pad_edge=False)
        table.add_column("feature", no_wrap=True)
        table.add_column("group", style="dim")
        table.add_column("value", justify="right")
        table.add_column("vs mean", justify="right")
        for c in e.contributions[:CONTRIBUTIONS_SHOWN]:
            table.add_row(c.feature, c.group, f"{c.value:.3g}", signed(c.contribution))
        parts = [head, Text(f"found by {found}", style="dim"), groups, table]
        pair = why.pair
        if pair is not None and pair.other_id is not None:
            parts.append(
                Text.assemble(
                    ("above ", "bold"),
                    (titles[pair.other_id], "bold"),
                    f" ({pair.other_score:.3f}) because",
                )
            )
            pairs = Table(box=None, padding=(0, 1), show_header=False, pad_edge=False)
            for c in pair.contributions[:PAIR_CONTRIBUTIONS_SHOWN]:
                pairs.add_row(c.feature, f"{c.value:.3g} vs {c.other_value:.3g}", signed(c.contribution))
            parts.append(pairs)
        self.update(Group(*parts))


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


class ComparePanel(Vertical):
    """The request in the panel run a second time, with another backend or search setting."""

    comparison: reactive[Comparison | None] = reactive(None, always_update=True)

    def __init__(self, catalog: Catalog, backends: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalog = catalog
        self.backends = backends

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("with", classes="caption")
            yield BackendSelect(self.backends, self.backends[0], id="compare-backend")
            yield Input(id="compare-param", placeholder="param, e.g. nprobe=4", classes="param", compact=True)
            yield Label("x: compare", classes="hint")
        yield Static("Press x to run this request again with the backend chosen here.", id="compare-result")

    def second(self, request: RecommendRequest) -> RecommendRequest:
        """`request` with this panel's backend and search setting (a clear error on a bad one)."""
        backend = self.query_one("#compare-backend", Select).value
        params = search_params(self.query_one("#compare-param", Input).value)
        return replace(request, backend=str(backend), search_params=params)

    def watch_comparison(self, comparison: Comparison | None) -> None:
        if comparison is not None:
            self.query_one("#compare-result", Static).update(comparison_view(comparison, self.catalog.titles))


class SweepPanel(Static):
    """NDCG@k and latency against the candidate-set size, or NDCG@k against the ANN path's
    recall (how much stage-1 recall the final list needs), drawn as text."""

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
