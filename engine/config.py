"""Typed engine configuration: frozen dataclasses, loadable from TOML.

Unknown keys are rejected by name so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from engine.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class RetrievalConfig:
    """Sizes of the stage-1 retrieval paths, as shares of the candidate-set size."""

    n_candidates: int = 500
    backend: str = "faiss-ivf"
    history_share: float = 0.2
    history_items: int = 10
    covisit_share: float = 0.2
    #: two clicks of one user count as a co-visit when at most this many days apart
    covisit_window_days: float = 7.0
    popular_share: float = 0.2
    #: the popular path counts positive interactions of the last N days (0: all time)
    popular_window_days: float = 0.0
    trending_share: float = 0.05
    top_categories: int = 3
    promoted_share: float = 0.04
    exclude_seen: bool = True
    #: share of served requests whose ANN recall is measured against exact search, after the
    #: response (the server's /metrics and the in-process load test report it)
    recall_sample_rate: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.recall_sample_rate <= 1.0:
            raise ConfigError(f"retrieval.recall_sample_rate must be in 0..1, got {self.recall_sample_rate}")
        if not 1 <= self.n_candidates <= 100_000:
            raise ConfigError(f"retrieval.n_candidates must be in 1..100000, got {self.n_candidates}")
        shares = self.shares()
        if any(not 0.0 <= s <= 1.0 for s in shares.values()) or sum(shares.values()) > 0.9:
            raise ConfigError(
                "retrieval shares (" + ", ".join(f"{p}_share" for p in shares) + ") must each be in "
                f"0..1 and sum to at most 0.9 so the ANN path keeps a share; got {shares}"
            )
        if self.history_items < 1 or self.top_categories < 1:
            raise ConfigError("retrieval.history_items and retrieval.top_categories must be >= 1")
        if self.covisit_window_days <= 0 or self.popular_window_days < 0:
            raise ConfigError(
                "retrieval.covisit_window_days must be > 0 and retrieval.popular_window_days >= 0 "
                "(0 counts all time)"
            )

    def shares(self) -> dict[str, float]:
        """Each quota-bound path's share of the candidate set; the ANN path takes the rest."""
        return {
            "history": self.history_share,
            "covisit": self.covisit_share,
            "popular": self.popular_share,
            "trending": self.trending_share,
            "promoted": self.promoted_share,
        }


@dataclass(frozen=True)
class BudgetConfig:
    """Latency budget per stage in milliseconds (the product's 10/20/30/40 split of 100 ms)."""

    ann_ms: float = 10.0
    features_ms: float = 20.0
    model_ms: float = 30.0
    buffer_ms: float = 40.0
    total_ms: float = 100.0

    def stages(self) -> dict[str, float]:
        """Each judged stage's budget in ms: the one table the response's verdicts, `bench`
        and the load tests' verdict read."""
        return {
            "retrieval": self.ann_ms,
            "features": self.features_ms,
            "model": self.model_ms,
            "buffer": self.buffer_ms,
            "total": self.total_ms,
        }

    def __post_init__(self) -> None:
        parts = (self.ann_ms, self.features_ms, self.model_ms, self.buffer_ms)
        if any(p < 0 for p in parts) or self.total_ms <= 0:
            raise ConfigError("budget values must be non-negative and budget.total_ms positive")
        if sum(parts) > self.total_ms + 1e-9:
            raise ConfigError(
                f"budget stages add up to {sum(parts)} ms, more than budget.total_ms = "
                f"{self.total_ms}; lower a stage or raise the total"
            )


RANKING_LOSSES = (
    "YetiRank",
    "YetiRankPairwise",
    "PairLogit",
    "PairLogitPairwise",
    "QueryRMSE",
    "QuerySoftMax",
    "LambdaMart",
)
RULES = ("out_of_stock", "promoted", "category_cap")


@dataclass(frozen=True)
class ModelConfig:
    """The CatBoost re-ranker: how it is trained, and when serving may skip it."""

    loss: str = "YetiRank"
    iterations: int = 300
    depth: int = 4
    learning_rate: float = 0.1
    seed: int = 0
    max_train_rows: int = 150_000
    #: candidates per training user (stage 1 as of the training window's start)
    train_candidates: int = 300
    #: training windows before the test window, each as long as it (engine.splits)
    train_windows: int = 3
    #: models trained with successive seeds and averaged into one (steadier on small logs)
    ensemble: int = 1
    #: when whole lists overflow max_train_rows: take enough lists for this many negatives
    #: each, then sample negatives evenly to fit (0: whole lists only); on sparse logs more
    #: short lists teach more than fewer whole ones
    list_negatives: int = 50
    skip_over_budget: bool = True
    #: after skipping the model, try it again once this many seconds have passed
    retry_after_s: float = 5.0

    def __post_init__(self) -> None:
        if self.loss not in RANKING_LOSSES:
            raise ConfigError(
                f"model.loss '{self.loss}' is not a CatBoost ranking loss; use one of {RANKING_LOSSES}"
            )
        if self.iterations < 1 or not 1 <= self.depth <= 16 or self.learning_rate <= 0:
            raise ConfigError("model.iterations must be >= 1, model.depth in 1..16, model.learning_rate > 0")
        if self.max_train_rows < 100 or not 1 <= self.train_candidates <= 100_000:
            raise ConfigError("model.max_train_rows must be >= 100, model.train_candidates in 1..100000")
        if self.retry_after_s < 0:
            raise ConfigError(f"model.retry_after_s must be >= 0, got {self.retry_after_s}")
        if not 1 <= self.ensemble <= 10:
            raise ConfigError(f"model.ensemble must be in 1..10, got {self.ensemble}")
        if self.list_negatives < 0:
            raise ConfigError(f"model.list_negatives must be >= 0, got {self.list_negatives}")
        if not 1 <= self.train_windows <= 8:
            raise ConfigError(f"model.train_windows must be in 1..8, got {self.train_windows}")


SPLIT_BY = ("time", "interactions")


@dataclass(frozen=True)
class EvaluationConfig:
    """Where the log is cut, and how the end-to-end evaluation samples and reports.

    The test window is the last `test_share` of the time span (`split_by = "time"`) or of the
    interactions (`"interactions"`); the training windows before it have the same length
    (engine.splits). Changing the split refits the embeddings and retrains (`twostage build`)."""

    test_share: float = 0.1
    split_by: str = "time"
    k: int = 10
    #: at most this many test users are judged (a seeded sample; 0 = all of them)
    max_users: int = 2000
    bootstrap: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.test_share <= 0.2:
            raise ConfigError(f"evaluation.test_share must be in (0, 0.2], got {self.test_share}")
        if self.split_by not in SPLIT_BY:
            raise ConfigError(f"evaluation.split_by must be one of {SPLIT_BY}, got '{self.split_by}'")
        if not 1 <= self.k <= 1000 or self.max_users < 0 or self.bootstrap < 10:
            raise ConfigError(
                "evaluation.k must be in 1..1000, evaluation.max_users >= 0, evaluation.bootstrap >= 10"
            )


@dataclass(frozen=True)
class RulesConfig:
    """Business rules applied after scoring, in `order`; each can be left out of the list."""

    order: tuple[str, ...] = RULES
    category_cap: int = 3
    promoted_mode: str = "boost"
    promoted_boost: float = 0.25
    promoted_pin_position: int = 3

    def __post_init__(self) -> None:
        for name in self.order:
            if name not in RULES:
                raise ConfigError(f"unknown rule '{name}' in rules.order; known rules: {', '.join(RULES)}")
        if len(set(self.order)) != len(self.order):
            raise ConfigError(f"rules.order lists a rule twice: {list(self.order)}")
        if self.promoted_mode not in ("boost", "pin"):
            raise ConfigError(f"rules.promoted_mode must be 'boost' or 'pin', got '{self.promoted_mode}'")
        if self.category_cap < 1 or self.promoted_pin_position < 1:
            raise ConfigError("rules.category_cap and rules.promoted_pin_position must be >= 1")


SHARED_STORE_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class EventsConfig:
    """Where live events are kept (engine.live_store): "memory", "journal" (memory plus a
    file in the data directory, the default) or a redis:// URL shared by every worker.
    `stream_max_len`: about how many recent events Redis keeps in its log; the counters the
    features read keep every event."""

    store: str = "journal"
    stream_max_len: int = 1_000_000

    @property
    def shared(self) -> bool:
        """True for a Redis URL: the one store every worker and machine sees."""
        return self.store.startswith(SHARED_STORE_SCHEMES)

    def __post_init__(self) -> None:
        if self.store not in ("memory", "journal") and not self.shared:
            raise ConfigError(
                f"events.store must be 'memory', 'journal' or a redis:// URL, got {self.store!r}"
            )
        kept = self.stream_max_len
        if isinstance(kept, bool) or not isinstance(kept, int) or kept < 1:
            raise ConfigError(f"events.stream_max_len must be a whole number >= 1, got {kept!r}")


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine reads at start-up.

    `build` and `search` map a backend name to its build and default search parameters
    (e.g. `[build.faiss-hnsw] M = 32`, `[search.faiss-hnsw] efSearch = 256`); the backend
    checks the names when it is built or loaded. `history_search` overrides a backend's
    `history_defaults`: the lighter settings of the history path's small searches.
    """

    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    build: dict[str, dict[str, int | float | str]] = field(default_factory=dict)
    search: dict[str, dict[str, int]] = field(default_factory=dict)
    history_search: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        windows, share = self.model.train_windows, self.evaluation.test_share
        if (windows + 1) * share > 0.9 + 1e-9:
            raise ConfigError(
                f"model.train_windows = {windows} windows of evaluation.test_share = {share} each, "
                f"plus the test window, take {(windows + 1) * share:.0%} of the log; keep it at most "
                "90 % so that a tenth is left to learn the first window's embeddings from"
            )


#: the environment variable through which worker processes (server, Locust) get `--config`
CONFIG_ENV = "TWOSTAGE_CONFIG"
#: ... and `serve --events URL`, which overrides the configuration's event store
EVENTS_ENV = "TWOSTAGE_EVENTS"


def config_from_environment() -> EngineConfig:
    """The configuration named by $TWOSTAGE_CONFIG, or the defaults; $TWOSTAGE_EVENTS names
    the event store."""
    path = os.environ.get(CONFIG_ENV)
    config = load_config(Path(path) if path else None)
    if os.environ.get(EVENTS_ENV):
        events = dataclasses.replace(config.events, store=os.environ[EVENTS_ENV])
        config = dataclasses.replace(config, events=events)
    return config


def load_config(path: Path | None) -> EngineConfig:
    """Read a TOML file into an `EngineConfig`; `None` gives the defaults."""
    if path is None:
        return EngineConfig()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return from_mapping(EngineConfig, data, source=str(path))


def from_mapping(cls: type[T], data: Any, source: str = "config", prefix: str = "") -> T:
    """Build dataclass `cls` from nested mappings, checking keys and value types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or 'top level'}' must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key '{prefix}{key}'; known keys here: {', '.join(sorted(known))}"
            )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, source, f"{prefix}{name}")
    return cls(**kwargs)


def _convert(hint: Any, value: Any, source: str, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, source, key + ".")
    origin = typing.get_origin(hint)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a table")
        _, value_hint = typing.get_args(hint)
        return {k: _convert(value_hint, v, source, f"{key}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: '{key}' must be a list of strings, got {value!r}")
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if set(options) == {int, float, str}:  # build parameters: kept as written
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ConfigError(
                    f"{source}: '{key}' must be a number or a string, got {type(value).__name__} {value!r}"
                )
            return value
        hint = options[0]
    ok = (
        (hint is bool and isinstance(value, bool))
        or (hint is int and isinstance(value, int) and not isinstance(value, bool))
        or (hint is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (hint is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(
            f"{source}: '{key}' must be of type {hint.__name__}, got {type(value).__name__} {value!r}"
        )
    return float(value) if hint is float else value
