"""The request panel (what to ask) and the timings panel (what it cost)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Select, Sparkline, Static

from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.latency import SessionStats
from engine.requests import Context, RecommendRequest, RecommendResponse

SIZES = (10, 20, 50, 100, 200, 500, 1000)


class BackendSelect(Select[str]):
    """A choice of the backends this engine can search; a background build adds some."""

    def __init__(self, backends: list[str], value: str, **kwargs) -> None:
        super().__init__(
            [(name, name) for name in backends], value=value, allow_blank=False, compact=True, **kwargs
        )

    def offer(self, backends: list[str]) -> None:
        """Offer these backends, keeping the choice when it is still among them."""
        current = self.value
        self.set_options([(name, name) for name in backends])
        self.value = current if current in backends else backends[0]


class RequestPanel(Vertical):
    """User, context, K, candidates, backend and search parameter."""

    def __init__(self, engine: Engine, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine = engine

    def compose(self) -> ComposeResult:
        engine = self.engine
        categories = [(name, code) for code, name in enumerate(engine.catalog.category_names)]
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
            yield BackendSelect(engine.usable_backends(), engine.config.retrieval.backend, id="backend")
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
        params = search_params(self.query_one("#param", Input).value)
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

    @property
    def backend(self) -> str | None:
        value = self.query_one("#backend", Select).value
        return None if value is Select.NULL else str(value)

    def on_mount(self) -> None:
        self._show_param_hint()

    @on(Select.Changed, "#backend")
    def _backend_changed(self) -> None:
        """Another backend takes other search settings: clear the field, show its defaults
        (the event goes on up: the screen runs the request again)."""
        self.query_one("#param", Input).value = ""
        self._show_param_hint()

    def _show_param_hint(self) -> None:
        if self.backend is None:
            return
        index_defaults = self.engine.index(self.backend).search_params
        hint = " ".join(f"{k}={v}" for k, v in index_defaults.items()) or "no parameters"
        self.query_one("#param", Input).placeholder = hint


def search_params(text: str) -> dict[str, int]:
    """'nprobe=8' -> {'nprobe': 8}; empty text -> no override."""
    text = text.strip()
    if not text:
        return {}
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise InvalidRequestError(f"a search parameter is written name=value (e.g. nprobe=8), got {text!r}")
    return {name.strip(): _integer(value, f"search parameter {name.strip()}")}


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{what} must be a whole number, got {text!r}") from None


class TimingsPanel(Vertical):
    """One bar per stage against its budget, a sparkline of recent totals, session p50/p99."""

    response: reactive[RecommendResponse | None] = reactive(None, always_update=True)

    def __init__(self, session: SessionStats, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session = session

    def compose(self) -> ComposeResult:
        yield Static(id="bars")
        yield Sparkline([], id="spark", summary_function=max)
        yield Static(id="recall")

    def watch_response(self, response: RecommendResponse | None) -> None:
        if response is not None:
            self.show(response, self.session)

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
