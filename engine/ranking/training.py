"""Train and evaluate the re-ranker on the interaction log, split by time.

The log is cut into a warm-up (20 %: history and co-occurrence only), train (60 %),
validation (10 %) and test (10 %). Training rows are logged impressions with features as of
each impression's own time; validation and test rows are each user's impressions in the
window plus `eval_negatives` random items, all with features as of the window's start: the
model predicts, at one moment, what the user will engage with next. Labels: 2 purchase,
1 click, 0 shown and ignored (or never shown).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from catboost import CatBoostRanker, Pool

from engine.config import ModelConfig
from engine.data import Dataset
from engine.errors import DataFormatError
from engine.events import LiveEvents
from engine.features import EventStore, FeatureContext, FeatureInputs, assemble, feature_names, feature_specs
from engine.progress import Progress, no_progress
from engine.ranking.metrics import ranking_metrics
from engine.ranking.model import Reranker

CHUNK_ROWS = 100_000
STAGE1_FEATURE = "x_sim_user"  # the ANN path's score: what stage 1 orders by
POPULARITY_FEATURE = "i_clicks_total"  # positive interactions before the row's time: the baseline


@dataclass(frozen=True)
class Splits:
    start: int
    train_from: int
    validation_from: int
    test_from: int
    end: int

    @classmethod
    def of(cls, dataset: Dataset) -> Splits:
        log = dataset.interactions
        if len(log) == 0:
            raise DataFormatError("the interaction log is empty; a re-ranker needs impressions to learn from")
        return cls.between(int(log.time.min()), dataset.now)

    @classmethod
    def between(cls, start: int, end: int) -> Splits:
        """Warm-up 20 %, train 60 %, validation 10 %, test 10 % of the time span."""
        span = end - start
        return cls(start, start + span // 5, start + span * 8 // 10, start + span * 9 // 10, end)


@dataclass(frozen=True)
class RankingRows:
    """Rows sorted by group (a user's list), as CatBoost requires."""

    user: np.ndarray
    item: np.ndarray
    end: np.ndarray
    group: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return int(self.user.shape[0])


def training_rows(dataset: Dataset, splits: Splits, config: ModelConfig) -> RankingRows:
    """A sample of users' impressions in the train window, each at its own time, plus
    `train_negatives` random unseen items per user at the times of that user's impressions."""
    log = dataset.interactions
    window = np.flatnonzero((log.time >= splits.train_from) & (log.time < splits.validation_from))
    users = np.unique(log.user[window])
    rng = np.random.default_rng(config.seed)
    per_user = len(window) / max(1, len(users)) + config.train_negatives
    if len(window) + len(users) * config.train_negatives > config.max_train_rows:
        keep_users = max(1, int(config.max_train_rows / per_user))
        users = np.sort(rng.choice(users, size=min(keep_users, len(users)), replace=False))
        window = window[np.isin(log.user[window], users)]
    label = log.clicked[window].astype(np.int64) + log.purchased[window]
    user, item, end = log.user[window], log.item[window], log.time[window]
    if config.train_negatives:
        picks = rng.integers(0, len(window), size=len(users) * config.train_negatives)
        by_user = np.argsort(user, kind="stable")
        starts = np.searchsorted(user[by_user], users)
        sizes = np.searchsorted(user[by_user], users, side="right") - starts
        owner = np.repeat(np.arange(len(users)), config.train_negatives)
        source = by_user[starts[owner] + picks % np.maximum(sizes[owner], 1)]
        user = np.r_[user, users[owner]]
        item = np.r_[item, rng.integers(0, dataset.catalog.n_items, size=len(owner))]
        end = np.r_[end, end[source]]
        label = np.r_[label, np.zeros(len(owner), dtype=np.int64)]
    order = np.lexsort((end, user))
    return RankingRows(user[order], item[order], end[order], user[order], label[order])


def holdout_rows(dataset: Dataset, start: int, end: int, negatives: int, seed: int) -> RankingRows:
    """Impressions in [start, end) of users with a click there, plus random unseen items."""
    log = dataset.interactions
    window = np.flatnonzero((log.time >= start) & (log.time < end))
    positive_users = np.unique(log.user[window][log.clicked[window]])
    window = window[np.isin(log.user[window], positive_users)]
    label = log.clicked[window].astype(np.int64) + log.purchased[window]
    users, items = log.user[window], log.item[window]
    rng = np.random.default_rng(seed)
    extra_users = np.repeat(positive_users, negatives)
    extra_items = rng.integers(0, dataset.catalog.n_items, size=len(extra_users))
    users, items = np.r_[users, extra_users], np.r_[items, extra_items]
    label = np.r_[label, np.zeros(len(extra_users), dtype=np.int64)]
    # One row per (user, item); an impression wins over a random pick of the same item.
    _, first = np.unique(users * dataset.catalog.n_items + items, return_index=True)
    keep = np.sort(first)
    order = keep[np.argsort(users[keep], kind="stable")]
    return RankingRows(users[order], items[order], np.full(len(order), start), users[order], label[order])


def feature_matrix(
    dataset: Dataset, store: EventStore, rows: RankingRows, progress: Progress, step: str
) -> np.ndarray:
    """Features for many rows, in chunks that never split a group."""
    specs = feature_specs(dataset.attributes)
    matrix = np.empty((len(rows), len(specs)), dtype=np.float32)
    boundaries = np.r_[0, np.flatnonzero(rows.group[1:] != rows.group[:-1]) + 1, len(rows)]
    live = LiveEvents().snapshot()
    start = 0
    while start < len(rows):
        stop = int(boundaries[np.searchsorted(boundaries, start + CHUNK_ROWS, side="right") - 1])
        stop = stop if stop > start else int(boundaries[np.searchsorted(boundaries, start, side="right")])
        part = slice(start, stop)
        inputs = FeatureInputs(
            user=rows.user[part],
            item=rows.item[part],
            end=rows.end[part],
            group=rows.group[part],
            query_sim=np.full(stop - start, np.nan, dtype=np.float32),
            context_category=np.full(stop - start, -1, dtype=np.int64),
        )
        matrix[part] = assemble(FeatureContext(inputs, dataset.catalog, dataset.users, store, live), specs)
        progress(step, stop, len(rows))
        start = stop
    return matrix


def training_params(config: ModelConfig) -> dict[str, Any]:
    """The settings that shape the model (the serving policy is left out: changing it needs
    no retraining)."""
    return {k: v for k, v in asdict(config).items() if k != "skip_over_budget"}


class _ProgressCallback:
    """CatBoost calls `after_iteration` once per tree; returning True continues training."""

    def __init__(self, total: int, progress: Progress):
        self.total, self.progress = total, progress

    def after_iteration(self, info: Any) -> bool:
        self.progress("train re-ranker", info.iteration, self.total)
        return True


def train(
    dataset: Dataset, config: ModelConfig, progress: Progress = no_progress
) -> tuple[Reranker, dict[str, Any]]:
    """Fit on the train split, report validation and test quality; returns model and report."""
    splits = Splits.of(dataset)
    log = dataset.interactions
    train_store = EventStore(dataset.catalog, log, cooc_before=splits.train_from)
    holdout_store = train_store.with_cooc_before(splits.validation_from)
    rows = training_rows(dataset, splits, config)
    validation = holdout_rows(
        dataset, splits.validation_from, splits.test_from, config.eval_negatives, config.seed
    )
    if len(rows) == 0 or len(validation) == 0:
        raise DataFormatError("too few impressions in the training or validation window to train a re-ranker")
    x_train = feature_matrix(dataset, train_store, rows, progress, "features (train)")
    x_val = feature_matrix(dataset, holdout_store, validation, progress, "features (validation)")
    names = feature_names(dataset.attributes)
    model = CatBoostRanker(
        loss_function=config.loss,
        iterations=config.iterations,
        depth=config.depth,
        learning_rate=config.learning_rate,
        random_seed=config.seed,
        thread_count=-1,
        verbose=False,
        allow_writing_files=False,
        use_best_model=False,  # keep every tree: the validation set only reports quality
    )
    started = time.perf_counter()
    model.fit(
        Pool(x_train, label=rows.label, group_id=rows.group, feature_names=names),
        eval_set=Pool(x_val, label=validation.label, group_id=validation.group, feature_names=names),
        callbacks=[_ProgressCallback(config.iterations, progress)],
    )
    seconds = time.perf_counter() - started
    reranker = Reranker(model, names)
    report = {
        "splits": splits.__dict__,
        "train_rows": len(rows),
        "train_seconds": round(seconds, 2),
        "params": training_params(config),
        "validation": compare(reranker, x_val, validation),
        "test": evaluate(dataset, reranker, config, splits, holdout_store, progress),
    }
    return reranker, report


def evaluate(
    dataset: Dataset,
    reranker: Reranker,
    config: ModelConfig,
    splits: Splits | None = None,
    store: EventStore | None = None,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Stage-1 order against the re-ranked order on the test window."""
    splits = splits or Splits.of(dataset)
    store = store or EventStore(dataset.catalog, dataset.interactions, cooc_before=splits.validation_from)
    rows = holdout_rows(dataset, splits.test_from, splits.end, config.eval_negatives, config.seed + 1)
    matrix = feature_matrix(dataset, store, rows, progress, "features (test)")
    return compare(reranker, matrix, rows)


def compare(reranker: Reranker, matrix: np.ndarray, rows: RankingRows) -> dict[str, Any]:
    """The popularity order, the stage-1 order and the re-ranked order of the same lists."""
    column = reranker.feature_names.index
    popularity = ranking_metrics(matrix[:, column(POPULARITY_FEATURE)], rows.label, rows.group)
    stage1 = matrix[:, column(STAGE1_FEATURE)]
    before = ranking_metrics(np.nan_to_num(stage1, nan=-np.inf), rows.label, rows.group)
    after = ranking_metrics(reranker.predict(matrix), rows.label, rows.group)
    return {
        "rows": len(rows),
        "popularity": popularity,
        "stage1": before,
        "reranked": after,
        "lift": _lift(after, before),
        "lift_vs_popularity": _lift(after, popularity),
    }


def _lift(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {
        k: (after[k] - before[k]) / before[k] if before[k] else float("nan") for k in before if k != "groups"
    }
