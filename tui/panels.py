"""The app's panels: each shows one part of a response and knows nothing of the others."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Select, Sparkline, Static

from engine.cli.marks import movement
from engine.cli.plot import line_plot
from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.explain import Explanation
from engine.requests import Context, RecommendRequest, RecommendResponse
from engine.stats import SessionStats
from engine.sweep import RecallSweep, Sweep

SIZES = (10, 20, 50, 100, 200, 500, 1000)


class RequestPanel(Vertical):
    """User, context, K, candidates, backend and search parameter."""

    def __init__(self, engine: Engine, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine = engine

    def compose(self) -> ComposeResult:
        engine = self.engine
        categories = [(name, code) for code, name in enumerate(engine.catalog.category_names)]
        backends = [(name, name) for name in engine.usable_backends()]
        sizes = [(str(s), s) for s in SIZES if s <= engine.catalog.n_items]
        default_size = min(engine.config.retrieval.n_candidates, engine.catalog.n_items)
        with Horizontal(classes="row"):
            yield Label("user", classes="caption")
            yield Input("42", placeholder="user id", id="user", compact=True)
            yield Input(placeholder="find: category", id="search", compact=True)
            yield Select(categories, prompt="context: any category", id="category", compact=True)
            yield Input(placeholder="hour", id="hour", classes="narrow", compact=True)
        with Horizontal(classes="row"):
            yield Label("K", classes="caption")
            yield Input("10", id="k", classes="narrow", compact=True)
            yield Select(sizes, value=default_size, allow_blank=False, id="candidates", compact=True)
            yield Select(
                backends, value=engine.config.retrieval.backend, allow_blank=False, id="backend", compact=True
            )
            yield Input(id="param", placeholder="param", classes="param", compact=True)

    def request(self) -> RecommendRequest:
        """The request the fields describe, or a clear error naming the field."""
        user = _integer(self.query_one("#user", Input).value, "user id")
        k = _integer(self.query_one("#k", Input).value, "K")
        hour_text = self.query_one("#hour", Input).value.strip()
        hour = None
        if hour_text:
            try:
                hour = float(hour_text)
            except ValueError:
                raise InvalidRequestError(f"hour must be a number from 0 to 24, got {hour_text!r}") from None
        category = self.query_one("#category", Select).value
        params = {}
        param_text = self.query_one("#param", Input).value.strip()
        if param_text:
            name, _, value = param_text.partition("=")
            params[name.strip()] = _integer(value, f"search parameter {name.strip()}")
        return RecommendRequest(
            user_id=user,
            k=k,
            n_candidates=self.query_one("#candidates", Select).value,
            backend=self.query_one("#backend", Select).value,
            search_params=params,
            context=Context(category=None if category is Select.NULL else category, hour=hour),
            measure_recall=True,
        )

    def set_user(self, user: int) -> None:
        self.query_one("#user", Input).value = str(user)

    def show_param_hint(self, backend: str) -> None:
        index_defaults = self.engine.index(backend).search_params
        hint = " ".join(f"{k}={v}" for k, v in index_defaults.items()) or "no parameters"
        self.query_one("#param", Input).placeholder = hint


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{what} must be a whole number, got {text!r}") from None


class StageOneTable(DataTable):
    """The candidate set in stage-1 order: which paths found each item, and its similarity."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("#", "item", "category", "found by", "sim", "rules")

    def show(self, engine: Engine, response: RecommendResponse) -> None:
        """Every candidate; those a business rule dropped or moved say which rule did it."""
        self.clear()
        cands = response.candidates.candidates
        catalog = engine.catalog
        ruled: dict[int, str] = {}
        for effect in response.effects:
            ruled[effect.item_id] = f"{effect.rule}: {effect.action}"
        for row, item in enumerate(cands.item_ids.tolist()):
            similarity = cands.similarity[row]
            self.add_row(
                str(row + 1),
                catalog.titles[item],
                catalog.category_names[int(catalog.category[item])],
                ", ".join(cands.found_by(row)),
                "-" if similarity != similarity else f"{similarity:.3f}",
                Text(ruled.get(item, ""), style="yellow"),
                key=str(item),
            )


class StageTwoTable(DataTable):
    """The final list: rank, movement from the stage-1 rank, score, and rules."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("#", "move", "item", "category", "score", "rules")

    def show(self, response: RecommendResponse) -> None:
        self.clear()
        for item in response.items:
            self.add_row(
                str(item.rank_after),
                movement(item.rank_before, item.rank_change),
                item.title,
                item.category,
                f"{item.score:.3f}",
                Text(", ".join(r.split(":")[0] for r in item.rules), style="yellow"),
                key=str(item.item_id),
            )

    def selected_item(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return int(key.value)


class TimingsPanel(Vertical):
    """One bar per stage against its budget, a sparkline of recent totals, session p50/p99."""

    def compose(self) -> ComposeResult:
        yield Static(id="bars")
        yield Sparkline([], id="spark", summary_function=max)
        yield Static(id="recall")

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


class ExplainPanel(Static):
    """The selected item's top feature contributions, and why it ranks above the next item."""

    explanation: Explanation | None = None
    pair: Explanation | None = None

    def show(self, engine: Engine, explanation: Explanation, pair: Explanation | None) -> None:
        self.explanation, self.pair = explanation, pair
        titles = engine.catalog.titles
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        table.add_column(f"why {titles[explanation.item_id]} ({explanation.score:.3f})", no_wrap=True)
        table.add_column("value", justify="right")
        table.add_column("effect", justify="right")
        for c in explanation.contributions[:6]:
            table.add_row(c.feature, f"{c.value:.3g}", _signed(c.contribution))
        if pair is not None and pair.other_id is not None:
            table.add_row("", "", "")
            table.add_row(
                Text(f"above {titles[pair.other_id]} ({pair.other_score:.3f}) because", style="bold")
            )
            for c in pair.contributions[:5]:
                table.add_row(c.feature, f"{c.value:.3g} vs {c.other_value:.3g}", _signed(c.contribution))
        self.update(table)


def _signed(value: float) -> Text:
    return Text(f"{value:+.3f}", style="green" if value > 0 else "red")


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
