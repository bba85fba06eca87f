"""Request and result types of the engine's public API (shared by the CLI, app and server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from engine.features.matrix import FeatureRows
from engine.retrieval.types import CandidateRequest, CandidateResult
from engine.rules import RuleChanges, RuleEffect, effects_of


@dataclass(frozen=True)
class Context:
    """Session context: the category being browsed and the hour of day (None: from the clock)."""

    category: int | None = None
    hour: float | None = None


@dataclass(frozen=True)
class RecommendRequest:
    """Both stages. `k` items come back, re-ranked from `n_candidates` (config default)."""

    user_id: int
    k: int = 10
    n_candidates: int | None = None
    query: Any = None
    backend: str | None = None
    search_params: dict[str, int] = field(default_factory=dict)
    context: Context = field(default_factory=Context)
    measure_recall: bool = False

    def stage1(self, measure_recall: bool | None = None) -> CandidateRequest:
        return CandidateRequest(
            user_id=self.user_id,
            query=self.query,
            n_candidates=self.n_candidates,
            backend=self.backend,
            search_params=self.search_params,
            measure_recall=self.measure_recall if measure_recall is None else measure_recall,
        )


@dataclass(frozen=True)
class RankedItem:
    """One item of the final list. Ranks are 1-based; `rank_change` > 0 means it moved up."""

    item_id: int
    title: str
    category: str
    score: float
    rank_before: int
    rank_after: int
    rank_change: int
    found_by: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class StageVerdict:
    stage: str
    ms: float
    budget_ms: float

    @property
    def ok(self) -> bool:
        return self.ms <= self.budget_ms


@dataclass(frozen=True)
class RecommendResponse:
    """The final items plus everything needed to explain them: the full candidate result,
    each candidate's model score and feature row (aligned with `candidates.candidates`), the
    rules' effects, per-stage timings and budget verdicts, and why the result is degraded.
    `scores` are the model's when `model_scored`, else the stage-1 order (descending)."""

    user_id: int
    k: int
    items: tuple[RankedItem, ...]
    candidates: CandidateResult
    scores: np.ndarray
    feature_rows: FeatureRows  # `features`, its unread columns filled in on first read
    feature_names: tuple[str, ...]  # the columns of `features`: the data set's feature set
    rule_changes: tuple[RuleChanges, ...]  # worded on demand by `effects`
    timings_ms: dict[str, float]
    verdicts: tuple[StageVerdict, ...]
    degraded: tuple[str, ...]
    notes: tuple[str, ...]

    @cached_property
    def features(self) -> np.ndarray:
        """(candidates x features), aligned with `candidates.candidates`."""
        return self.feature_rows.matrix

    @cached_property
    def effects(self) -> tuple[RuleEffect, ...]:
        """Every rule's effect, in the order the rules ran."""
        return effects_of(self.rule_changes)

    def rows_before_rules(self, k: int) -> np.ndarray:
        """The first k candidate rows in score order, before the business rules moved or
        dropped any: what stage 2 alone made of stage 1 (`eval`, `sweep`)."""
        return np.argsort(-self.scores, kind="stable")[:k]

    def served_rows(self) -> np.ndarray:
        """The candidate row of each item served, in the order served."""
        return np.array([item.rank_before - 1 for item in self.items], dtype=np.int64)

    @property
    def model_scored(self) -> bool:
        return not self.degraded

    @property
    def within_budget(self) -> bool:
        return all(v.ok for v in self.verdicts)
