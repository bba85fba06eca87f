"""Typed engine configuration: frozen pydantic models, loadable from TOML.

Strict types (a string is never read as a number, nor 1 as true), and unknown keys are
refused by name so a typo never silently falls back to a default. The API's request models
are pydantic too, and both read their bounds from engine.limits.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.errors import ConfigError
from engine.limits import MAX_CANDIDATES, MAX_K


class Section(BaseModel):
    """One table of the configuration: frozen, strictly typed, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @classmethod
    def of(cls, data: Any) -> Self:
        """Validate plain data (a TOML table); a problem is a ConfigError naming the key."""
        if not isinstance(data, dict):
            raise ConfigError("the top level must be a table")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe(exc, cls)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the configuration is frozen; use .replace({name}=...) for a changed copy")

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, checked again (pydantic's model_copy would not check them)."""
        try:
            return type(self)(**{**dict(self), **changes})
        except ValidationError as exc:
            raise ConfigError(describe(exc, type(self))) from None

    def check(self) -> None:
        """Cross-field rules; raise ConfigError naming the keys."""

    @model_validator(mode="after")
    def _checked(self) -> Self:
        self.check()
        return self


class RetrievalConfig(Section):
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

    def check(self) -> None:
        if not 0.0 <= self.recall_sample_rate <= 1.0:
            raise ConfigError(f"retrieval.recall_sample_rate must be in 0..1, got {self.recall_sample_rate}")
        if not 1 <= self.n_candidates <= MAX_CANDIDATES:
            raise ConfigError(
                f"retrieval.n_candidates must be in 1..{MAX_CANDIDATES}, got {self.n_candidates}"
            )
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


class BudgetConfig(Section):
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

    def check(self) -> None:
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


class ModelConfig(Section):
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

    def check(self) -> None:
        if self.loss not in RANKING_LOSSES:
            raise ConfigError(
                f"model.loss '{self.loss}' is not a CatBoost ranking loss; use one of {RANKING_LOSSES}"
            )
        if self.iterations < 1 or not 1 <= self.depth <= 16 or self.learning_rate <= 0:
            raise ConfigError("model.iterations must be >= 1, model.depth in 1..16, model.learning_rate > 0")
        if self.max_train_rows < 100 or not 1 <= self.train_candidates <= MAX_CANDIDATES:
            raise ConfigError(
                f"model.max_train_rows must be >= 100, model.train_candidates in 1..{MAX_CANDIDATES}"
            )
        if self.retry_after_s < 0:
            raise ConfigError(f"model.retry_after_s must be >= 0, got {self.retry_after_s}")
        if not 1 <= self.ensemble <= 10:
            raise ConfigError(f"model.ensemble must be in 1..10, got {self.ensemble}")
        if self.list_negatives < 0:
            raise ConfigError(f"model.list_negatives must be >= 0, got {self.list_negatives}")
        if not 1 <= self.train_windows <= 8:
            raise ConfigError(f"model.train_windows must be in 1..8, got {self.train_windows}")


SPLIT_BY = ("time", "interactions")


class EvaluationConfig(Section):
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

    def check(self) -> None:
        if not 0.0 < self.test_share <= 0.2:
            raise ConfigError(f"evaluation.test_share must be in (0, 0.2], got {self.test_share}")
        if self.split_by not in SPLIT_BY:
            raise ConfigError(f"evaluation.split_by must be one of {SPLIT_BY}, got '{self.split_by}'")
        if not 1 <= self.k <= MAX_K or self.max_users < 0 or self.bootstrap < 10:
            raise ConfigError(
                f"evaluation.k must be in 1..{MAX_K}, evaluation.max_users >= 0, evaluation.bootstrap >= 10"
            )


class RulesConfig(Section):
    """Business rules applied after scoring, in `order`; each can be left out of the list."""

    order: tuple[str, ...] = Field(RULES, strict=False)  # TOML writes a list
    category_cap: int = 3
    promoted_mode: str = "boost"
    promoted_boost: float = 0.25
    promoted_pin_position: int = 3

    def check(self) -> None:
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


class EventsConfig(Section):
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

    def check(self) -> None:
        if self.store not in ("memory", "journal") and not self.shared:
            raise ConfigError(
                f"events.store must be 'memory', 'journal' or a redis:// URL, got {self.store!r}"
            )
        if self.stream_max_len < 1:
            raise ConfigError(f"events.stream_max_len must be a whole number >= 1, got {self.stream_max_len}")


class EngineConfig(Section):
    """Everything the engine reads at start-up.

    `build` and `search` map a backend name to its build and default search parameters
    (e.g. `[build.faiss-hnsw] M = 32`, `[search.faiss-hnsw] efSearch = 256`); the backend
    checks the names when it is built or loaded. `history_search` overrides a backend's
    `history_defaults`: the lighter settings of the history path's small searches.
    """

    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    build: dict[str, dict[str, int | float | str]] = Field(default_factory=dict)
    search: dict[str, dict[str, int]] = Field(default_factory=dict)
    history_search: dict[str, dict[str, int]] = Field(default_factory=dict)

    def check(self) -> None:
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
        config = config.replace(events=config.events.replace(store=os.environ[EVENTS_ENV]))
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
    try:
        return EngineConfig.of(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


#: pydantic's error types -> the type a key should have had
EXPECTED = {
    "int_type": "int",
    "int_parsing": "int",
    "int_from_float": "int",
    "bool_type": "bool",
    "bool_parsing": "bool",
    "float_type": "float",
    "float_parsing": "float",
    "string_type": "str",
}
UNION_MEMBERS = ("int", "float", "str")


def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """The first problem pydantic found, said the way the rest of twostage says things: the
    dotted key, what it should be, what it was."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    union = bool(loc) and loc[-1] in UNION_MEMBERS and len(loc) > 1 and loc[0] == "build"
    if union:
        loc = loc[:-1]
    key, kind, got = ".".join(loc), error["type"], error.get("input")
    shown = f"{type(got).__name__} {got!r}"
    if kind == "extra_forbidden":
        known = ", ".join(sorted(_model_at(model, loc[:-1]).model_fields))
        return f"unknown key '{key}'; known keys here: {known}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if union:
        return f"'{key}' must be a number or a string, got {shown}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"'{key or 'top level'}' must be a table"
    if kind in ("tuple_type", "list_type") or (len(loc) > 1 and kind == "string_type" and loc[-2] == "order"):
        return f"'{key}' must be a list of strings, got {shown}"
    if kind in EXPECTED:
        return f"'{key}' must be of type {EXPECTED[kind]}, got {shown}"
    return f"'{key}': {error['msg']}"


def _model_at(model: type[BaseModel], path: list[str]) -> type[BaseModel]:
    for part in path:
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return model
