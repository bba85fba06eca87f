"""Quality and latency against the candidate-set size: how many candidates does stage 2 need?

The engine is opened as of the start of the test window, so retrieval, features and the
model see only the past. Ground truth: on the synthetic data set, the generator's own click
model (the probability each user clicks each item at that moment), so quality is NDCG@k
against the best possible list in the whole catalog and the expected number of clicks in the
top k; on other data, the users' clicks and purchases in the test window (NDCG@k, recall@k).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.config import EngineConfig
from engine.embeddings import open_dataset
from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.evaluation import SIZES, ClickModel, HeldOut, is_synthetic
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.ranking.metrics import list_metrics
from engine.requests import RecommendRequest
from engine.splits import Splits

WARMUP = 20  # untimed requests per size before timing starts
TOLERANCE = 0.02  # "stops improving": within 2 % of the best NDCG of any size


@dataclass(frozen=True)
class SweepRow:
    """`second` is expected clicks@k (click model) or recall@k (held-out clicks)."""

    size: int
    ndcg: float
    second: float
    stage1_ndcg: float
    stage1_second: float
    p50_ms: float
    p99_ms: float


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


def candidate_sweep(
    data_dir: Path,
    config: EngineConfig | None = None,
    *,
    sizes: tuple[int, ...] = SIZES,
    n_users: int = 300,
    k: int = 10,
    seed: int = 0,
    progress: Progress = no_progress,
) -> Sweep:
    if n_users < 1:
        raise InvalidRequestError(f"the sweep needs at least one user, got {n_users}")
    config = config or EngineConfig()
    layout = Layout(Path(data_dir))
    dataset = open_dataset(layout, config)
    splits = Splits.of(dataset, config)
    engine = Engine(layout, dataset, config, as_of=splits.test_from - 1)
    sizes = tuple(s for s in sizes if s <= engine.catalog.n_items)
    judge = ClickModel(engine, layout, k) if is_synthetic(engine) else _HeldOut(engine, splits, k)
    users = np.random.default_rng(seed).choice(
        judge.users, size=min(n_users, len(judge.users)), replace=False
    )
    for user in users.tolist():  # the ideal lists first, so no timed request pays for them
        judge.prepare(user)
    engine.warm_up()
    for size in sizes:  # every size once before any is timed: the first one timed is not cold
        for user in users[:WARMUP].tolist():
            engine.recommend(RecommendRequest(user, k=k, n_candidates=size))
    rows = []
    for step, size in enumerate(sizes):
        final, first, latency = [], [], []
        for user in np.sort(users).tolist():
            response = engine.recommend(RecommendRequest(user, k=k, n_candidates=size))
            final.append(judge.quality(user, [item.item_id for item in response.items]))
            first.append(judge.quality(user, response.candidates.candidates.item_ids[:k].tolist()))
            latency.append(response.timings_ms["total"])
        mean, mean1 = np.mean(final, axis=0), np.mean(first, axis=0)
        p50, p99 = np.percentile(latency, [50, 99])
        rows.append(
            SweepRow(
                size, float(mean[0]), float(mean[1]), float(mean1[0]), float(mean1[1]), float(p50), float(p99)
            )
        )
        progress("candidate sizes", step + 1, len(sizes))
    return Sweep(k, len(users), TOLERANCE, judge.name, judge.second, tuple(rows))


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
