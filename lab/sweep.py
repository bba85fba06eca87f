"""Quality and latency against the candidate-set size: how many candidates does stage 2 need?

The engine is opened as of the start of the test window, so retrieval, features and the
model see only the past. Ground truth (`judge`): by default, as `eval` judges, the users'
clicks and purchases in the test window (NDCG@k, recall@k); on the synthetic data set, on
request, the generator's own click model (the probability each user clicks each item at that
moment: NDCG@k against the best possible list in the whole catalog, and the expected clicks
in the top k). The click model is synthetic truth, free of the log's exposure bias, so it
flatters: every result names its judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ann import search_grid
from engine.config import EngineConfig
from engine.embeddings import open_dataset
from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.ranking.quality import list_metrics
from engine.requests import RecommendRequest
from engine.splits import Splits
from lab.evaluation import SIZES, ClickModel, HeldOut, is_synthetic

WARMUP = 20  # untimed requests per size before timing starts
TOLERANCE = 0.02  # "stops improving": within 2 % of the best NDCG of any size
JUDGES = ("held-out", "click-model")


@dataclass(frozen=True)
class SweepRow:
    """`ndcg` and `second` (expected clicks@k under the click model, or recall@k of the
    held-out clicks) judge the model's order; `served_ndcg` the list after the business rules."""

    size: int
    ndcg: float
    second: float
    stage1_ndcg: float
    stage1_second: float
    p50_ms: float
    p99_ms: float
    served_ndcg: float


@dataclass(frozen=True)
class Sweep:
    k: int
    users: int
    tolerance: float
    ground_truth: str
    second_metric: str
    rows: tuple[SweepRow, ...]

    @property
    def enough(self) -> int | None:
        """The smallest size beyond which NDCG never improves by more than the tolerance
        (relative); None when it still improves at the largest size tried."""
        for i, row in enumerate(self.rows[:-1]):
            if max(r.ndcg for r in self.rows[i + 1 :]) <= row.ndcg * (1 + self.tolerance):
                return row.size
        return None


@dataclass(frozen=True)
class RecallRow:
    """One backend at one search setting, at a fixed candidate-set size."""

    backend: str
    params: dict[str, int]
    ann_recall: float  # the ANN path's recall@size against exact search, mean over users
    ndcg: float  # of the model's order; `served_ndcg` after the business rules
    second: float
    stage1_ndcg: float
    ann_p50_ms: float
    p50_ms: float
    served_ndcg: float


@dataclass(frozen=True)
class RecallSweep:
    """How much stage-1 recall the final list needs: quality against the ANN path's recall."""

    k: int
    users: int
    size: int
    ground_truth: str
    second_metric: str
    rows: tuple[RecallRow, ...]

    def curves(self) -> dict[str, list[tuple[float, float]]]:
        """NDCG@k against the ANN path's recall, one curve per backend, in recall order."""
        curves: dict[str, list[tuple[float, float]]] = {}
        for row in sorted(self.rows, key=lambda r: r.ann_recall):
            curves.setdefault(row.backend, []).append((row.ann_recall, row.ndcg))
        return curves


def candidate_sweep(
    data_dir: Path,
    config: EngineConfig | None = None,
    *,
    sizes: tuple[int, ...] = SIZES,
    n_users: int = 300,
    k: int = 10,
    seed: int = 0,
    judge_name: str = "held-out",
    progress: Progress = no_progress,
) -> Sweep:
    engine, judge, users = _judged_users(data_dir, config, n_users, k, seed, judge_name)
    sizes = tuple(s for s in sizes if s <= engine.catalog.n_items)
    for size in sizes:  # every size once before any is timed: the first one timed is not cold
        for user in users[:WARMUP].tolist():
            engine.recommend(RecommendRequest(user, k=k, n_candidates=size))
    rows = []
    for step, size in enumerate(sizes):
        measured = _measure(
            engine, judge, users, lambda user, size=size: RecommendRequest(user, k=k, n_candidates=size)
        )
        p50, p99 = np.percentile(measured.total_ms, [50, 99])
        final, first = measured.final, measured.first
        rows.append(
            SweepRow(size, final[0], final[1], first[0], first[1], float(p50), float(p99), measured.served)
        )
        progress("candidate sizes", step + 1, len(sizes))
    return Sweep(k, len(users), TOLERANCE, judge.name, judge.second, tuple(rows))


def recall_sweep(
    data_dir: Path,
    config: EngineConfig | None = None,
    *,
    backends: list[str],
    size: int = 500,
    n_users: int = 200,
    k: int = 10,
    seed: int = 0,
    judge_name: str = "held-out",
    progress: Progress = no_progress,
) -> RecallSweep:
    """Each backend's search grid at `size` candidates: the ANN path's recall against exact
    search, and what the final top k (and stage 1's) is worth, judged as `candidate_sweep` does."""
    engine, judge, users = _judged_users(data_dir, config, n_users, k, seed, judge_name)
    size = min(size, engine.catalog.n_items)
    settings = [(backend, params) for backend in backends for params in search_grid(backend)]
    rows = []
    for step, (backend, params) in enumerate(settings):

        def request(user: int, backend: str = backend, params: dict[str, int] = params) -> RecommendRequest:
            return RecommendRequest(
                user, k=k, n_candidates=size, backend=backend, search_params=params, measure_recall=True
            )

        for user in users[:WARMUP].tolist():
            engine.recommend(request(user))
        measured = _measure(engine, judge, users, request)
        rows.append(
            RecallRow(
                backend=backend,
                params=params,
                ann_recall=float(np.mean(measured.recall)) if measured.recall else float("nan"),
                ndcg=measured.final[0],
                second=measured.final[1],
                stage1_ndcg=measured.first[0],
                ann_p50_ms=float(np.percentile(measured.ann_ms, 50)),
                p50_ms=float(np.percentile(measured.total_ms, 50)),
                served_ndcg=measured.served,
            )
        )
        progress("search settings", step + 1, len(settings))
    return RecallSweep(k, len(users), size, judge.name, judge.second, tuple(rows))


@dataclass(frozen=True)
class _Measured:
    final: tuple[float, float]  # NDCG@k and the judge's second metric of the model's order
    first: tuple[float, float]  # ... of stage 1's top k
    served: float  # NDCG@k of the lists after the business rules
    total_ms: list[float]
    ann_ms: list[float]
    recall: list[float]  # the ANN path's recall, where the request measured it


def _judged_users(
    data_dir: Path, config: EngineConfig | None, n_users: int, k: int, seed: int, judge_name: str
) -> tuple[Engine, ClickModel | _HeldOut, np.ndarray]:
    """An engine as of the start of the test window, the judge, and the sampled users (their
    ideal lists computed first, so that no timed request pays for them), warmed up."""
    if n_users < 1:
        raise InvalidRequestError(f"the sweep needs at least one user, got {n_users}")
    if judge_name not in JUDGES:
        raise InvalidRequestError(f"unknown judge {judge_name!r}; use one of {', '.join(JUDGES)}")
    config = config or EngineConfig()
    layout = Layout(Path(data_dir))
    dataset = open_dataset(layout, config)
    splits = Splits.of(dataset, config)
    engine = Engine(layout, dataset, config, as_of=splits.test_from - 1)
    if judge_name == "click-model" and not is_synthetic(engine):
        raise InvalidRequestError(
            "the click-model judge exists only for the synthetic data set; use --judge held-out"
        )
    judge = ClickModel(engine, layout, k) if judge_name == "click-model" else _HeldOut(engine, splits, k)
    rng = np.random.default_rng(seed)
    users = rng.choice(judge.users, size=min(n_users, len(judge.users)), replace=False)
    for user in users.tolist():
        judge.prepare(user)
    engine.warm_up()
    return engine, judge, users


def _measure(
    engine: Engine,
    judge: ClickModel | _HeldOut,
    users: np.ndarray,
    request: Callable[[int], RecommendRequest],
) -> _Measured:
    final, first, served, total, ann, recall = [], [], [], [], [], []
    for user in np.sort(users).tolist():
        response = engine.recommend(request(user))
        ids = response.candidates.candidates.item_ids
        final.append(judge.quality(user, ids[response.rows_before_rules(judge.k)].tolist()))
        served.append(judge.quality(user, [item.item_id for item in response.items])[0])
        first.append(judge.quality(user, ids[: judge.k].tolist()))
        total.append(response.timings_ms["total"])
        ann.append(response.candidates.timings_ns.get("ann", 0) / 1e6)
        if response.candidates.recall is not None:
            recall.append(response.candidates.recall)
    mean, mean1 = np.mean(final, axis=0), np.mean(first, axis=0)
    return _Measured(
        (float(mean[0]), float(mean[1])),
        (float(mean1[0]), float(mean1[1])),
        float(np.mean(served)),
        total,
        ann,
        recall,
    )


class _HeldOut:
    """The end-to-end evaluation's judge: the users' positives in the test window."""

    name = "positive interactions in the test window"
    second = "recall"

    def __init__(self, engine: Engine, splits: Splits, k: int):
        self.held = HeldOut.of(engine, splits.test_from, splits.end)
        self.users = self.held.users
        self.k = k

    def prepare(self, user: int) -> None:
        """Nothing to precompute: the truth is a lookup."""

    def quality(self, user: int, ranking: list[int]) -> tuple[float, float]:
        ndcg, recall, _ = list_metrics(np.asarray(ranking, dtype=np.int64), self.held.relevant[user], self.k)
        return ndcg, recall
