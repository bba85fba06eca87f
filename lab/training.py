"""Train the re-ranker on what it will rank.

Training rows are each training user's stage-1 candidates as of a training window's start,
retrieved by the same paths that serve requests, over embeddings fitted before that moment,
and labelled by what the user did in the window: 2 purchase, 1 click (or positive rating),
0 otherwise. Features are computed as of the window's start, so nothing from the window (or
later) reaches them. The windows are the test window's length and lie right before it
(engine.splits), so the model learns the very task it is judged on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from catboost import CatBoostRanker, Pool, sum_models

from engine.ann import available
from engine.ann.base import AnnIndex
from engine.config import EngineConfig, ModelConfig
from engine.embeddings import open_dataset, roles
from engine.engine import Engine
from engine.errors import DataFormatError
from engine.features import FeatureContext, FeatureInputs, assemble, feature_names
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.ranking.model import Reranker
from engine.requests import CandidateRequest, CandidateResult
from engine.retrieval.registry import PATHS
from engine.runs import run_starts, value_at
from engine.splits import Splits

CHUNK_ROWS = 100_000
REQUEST_THREADS = os.cpu_count() or 1  # training lists are requested side by side
BATCH_USERS = 256
#: training lists come from this backend, built in memory over each window's vectors (fast to
#: build, recall near exact at its default setting); "exact" where FAISS is missing
TRAINING_BACKEND = "faiss-ivf"
EVAL_TOP = 10
SERVING_POLICY = ("skip_over_budget", "retry_after_s")  # model settings that need no retraining
#: retrieval settings that change how serving finds its candidates, not which: training
#: searches indexes built for its own window and never reads the history-neighbours table
SERVING_SHORTCUTS = ("history_table",)
EARLY_STOPPING = 50  # trees without improvement on the most recent training window
MIN_TREES = 20  # offline: the candidates stage 1 would find with a perfect index


@dataclass(frozen=True)
class RankingRows:
    """Rows sorted by group (one user's candidate list), as CatBoost requires."""

    user: np.ndarray
    item: np.ndarray
    end: np.ndarray
    group: np.ndarray
    label: np.ndarray
    path_ranks: np.ndarray
    keep: np.ndarray  # the rows that train: every positive and a sample of negatives

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def subset(self, mask: np.ndarray) -> RankingRows:
        return RankingRows(*(getattr(self, f.name)[mask] for f in fields(self)))


def window_labels(engine: Engine, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (user x n_items + item) keys of interactions in [start, end) and their best label."""
    log = engine.dataset.interactions
    inside = (log.time >= start) & (log.time < end)
    keys = log.user[inside] * engine.catalog.n_items + log.item[inside]
    labels = log.clicked[inside].astype(np.int64) + log.purchased[inside]
    order = np.lexsort((-labels, keys))
    keys, labels = keys[order], labels[order]
    first = run_starts(keys)
    return keys[first], labels[first]


def loss_function(config: ModelConfig) -> str:
    """CatBoost's loss string: YetiRank's with its number of permutations."""
    if config.loss.startswith("YetiRank"):
        return f"{config.loss}:permutations={config.permutations}"
    return config.loss


def training_backend() -> str:
    """The backend training lists are searched with (exact search where it is missing)."""
    return TRAINING_BACKEND if TRAINING_BACKEND in available() else "exact"


def candidate_rows(
    engine: Engine,
    label_end: int,
    config: ModelConfig,
    max_rows: int,
    seed: int,
    progress: Progress = no_progress,
    step: str = "candidates (train)",
    reuse: AnnIndex | None = None,
) -> RankingRows:
    """Stage-1 candidates as of the engine's clock for users with a positive interaction in
    [clock, label_end), labelled by that window, users in a seeded random order. Lists
    without a positive are left out: they teach a ranking loss nothing.

    Whole lists fill the `max_rows` budget when they can. When they cannot, users are taken
    until each list could keep `config.list_negatives` negatives, and `keep` then marks every
    positive and an even random share of the negatives that fits the budget (features are
    computed on whole lists first: some are ranks within the list)."""
    start = engine.now + 1
    keys, labels = window_labels(engine, start, label_end)
    users = np.unique(keys[labels > 0] // engine.catalog.n_items)
    rng = np.random.default_rng(seed)
    users = rng.permutation(users)
    n = min(config.train_candidates, engine.catalog.n_items)
    backend = training_backend()
    if backend != "exact":
        engine.build_index(backend, reuse)
    parts: list[tuple[np.ndarray, ...]] = []
    planned = 0
    for user, result in _candidate_lists(engine, users, n, backend):
        items = result.candidates.item_ids
        label = value_at(keys, labels, user * engine.catalog.n_items + items)
        positives = int((label > 0).sum())
        if positives:
            parts.append((np.full(len(items), user), items, label, result.candidates.path_ranks))
            planned += positives + min(config.list_negatives or len(items), len(items) - positives)
        progress(step, min(planned, max_rows), max_rows)
        if planned >= max_rows:
            break
    progress(step, max_rows, max_rows)
    if not parts:
        return _empty_rows()
    parts.sort(key=lambda part: int(part[0][0]))  # CatBoost wants each list's rows together
    user, item, label, ranks = (np.concatenate(column) for column in zip(*parts, strict=True))
    keep = label > 0
    room = max(0, max_rows - int(keep.sum()))
    negatives = int((~keep).sum())
    sampled = config.list_negatives and negatives > room
    keep |= rng.random(len(label)) < (room / negatives if sampled else 1.0)
    return RankingRows(user, item, np.full(len(user), start), user, label, ranks, keep)


def _candidate_lists(
    engine: Engine, users: np.ndarray, n_candidates: int, backend: str
) -> Iterator[tuple[int, CandidateResult]]:
    """Each user's candidates, in the users' order: requests run side by side (the engine's
    compiled loops and the ANN libraries release the GIL), a batch at a time so that a
    caller that stops early has asked for at most one batch too many."""

    def ask(user: int) -> CandidateResult:
        return engine.candidates(CandidateRequest(user, n_candidates=n_candidates, backend=backend))

    with ThreadPoolExecutor(max_workers=REQUEST_THREADS) as pool:
        for first in range(0, len(users), BATCH_USERS):
            batch = users[first : first + BATCH_USERS].tolist()
            yield from zip(batch, pool.map(ask, batch), strict=True)


def _empty_rows() -> RankingRows:
    empty = np.zeros(0, dtype=np.int64)
    ranks = np.zeros((0, len(PATHS)), dtype=np.int32)
    return RankingRows(empty, empty, empty, empty, empty, ranks, np.zeros(0, dtype=bool))


def feature_matrix(engine: Engine, rows: RankingRows, progress: Progress, step: str) -> np.ndarray:
    """Features for many rows, as of each row's time, in chunks that never split a group."""
    matrix = np.empty((len(rows), len(engine.features)), dtype=np.float32)
    boundaries = np.r_[0, np.flatnonzero(rows.group[1:] != rows.group[:-1]) + 1, len(rows)]
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
            path_ranks=rows.path_ranks[part],
        )
        context = FeatureContext(inputs, engine.catalog, engine.users, engine.store)
        matrix[part] = assemble(context, engine.features)
        progress(step, stop, len(rows))
        start = stop
    return matrix


def training_params(config: EngineConfig) -> dict[str, Any]:
    """The settings that shape the model: its own, and the retrieval and split settings that
    make its training lists (the serving policy is left out: changing it needs no retraining)."""
    model = {k: v for k, v in config.model.model_dump().items() if k not in SERVING_POLICY}
    return {
        "model": model,
        "retrieval": config.retrieval.model_dump(exclude=set(SERVING_SHORTCUTS)),
        "evaluation": config.evaluation.model_dump(),
    }


class _ProgressCallback:
    """CatBoost calls `after_iteration` once per tree; returning True continues training."""

    def __init__(self, step: str, total: int, progress: Progress):
        self.step, self.total, self.progress = step, total, progress

    def after_iteration(self, info: Any) -> bool:
        self.progress(self.step, info.iteration, self.total)
        return True


def train(
    layout: Layout, config: EngineConfig, progress: Progress = no_progress
) -> tuple[Reranker, dict[str, Any]]:
    """Fit on the candidate lists of every training window (engine.splits), each built by an
    engine opened at the window's start over embeddings fitted before it."""
    model_config = config.model
    source = open_dataset(layout, config, roles(config)[1])
    splits = Splits.of(source, config)
    per_window = max(1, model_config.max_train_rows // len(splits.windows))
    names = feature_names(source.attributes)
    matrices, parts = [], []
    backend = training_backend()
    built: tuple[np.ndarray, AnnIndex] | None = None  # the last window's vectors and index
    for j, (start, end) in enumerate(splits.windows):
        dataset = open_dataset(layout, config, roles(config)[j + 1])
        engine = Engine(layout, dataset, config, as_of=start - 1)
        step = f"window {j + 1}/{len(splits.windows)}"
        same = built is not None and np.array_equal(built[0], dataset.catalog.vectors)
        rows = candidate_rows(
            engine,
            end,
            model_config,
            per_window,
            model_config.seed + j,
            progress,
            f"candidates ({step})",
            reuse=built[1] if same else None,
        )
        if backend != "exact":
            built = (dataset.catalog.vectors, engine.index(backend))
        matrices.append(feature_matrix(engine, rows, progress, f"features ({step})")[rows.keep])
        rows = rows.subset(rows.keep)
        parts.append(replace(rows, group=rows.group + j * source.users.n_users))
    rows = RankingRows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(RankingRows)))
    if len(rows) == 0:
        raise DataFormatError(
            "no training user has a positive interaction among their candidates; the training "
            "windows are too short or the log too small to train a re-ranker"
        )
    matrix = np.concatenate(matrices)
    recent = np.concatenate([np.full(len(part), j == 0) for j, part in enumerate(parts)])

    def pool(mask: np.ndarray) -> Pool:
        return Pool(matrix[mask], label=rows.label[mask], group_id=rows.group[mask], feature_names=names)

    def ranker(iterations: int, seed: int = model_config.seed, **extra: Any) -> CatBoostRanker:
        return CatBoostRanker(
            loss_function=loss_function(model_config),
            iterations=iterations,
            depth=model_config.depth,
            learning_rate=model_config.learning_rate,
            random_seed=seed,
            thread_count=-1,
            verbose=False,
            allow_writing_files=False,
            **extra,
        )

    started = time.perf_counter()
    trees, probe_ndcg = model_config.iterations, float("nan")
    if recent.any() and not recent.all():
        # How many trees generalise forward in time: fit on the older windows, stop when the
        # most recent one stops improving; then refit on every window with that many trees.
        probe = ranker(
            model_config.iterations,
            eval_metric=f"NDCG:top={EVAL_TOP}",
            use_best_model=True,
            early_stopping_rounds=EARLY_STOPPING,
        )
        probe.fit(
            pool(~recent),
            eval_set=pool(recent),
            callbacks=[_ProgressCallback("choose trees", model_config.iterations, progress)],
        )
        trees, probe_ndcg = max(MIN_TREES, probe.get_best_iteration() + 1), _best(probe)
    everything = pool(np.ones(len(rows), dtype=bool))
    members = []
    for member in range(ensemble_size(model_config.ensemble, len(np.unique(rows.group)))):
        # Several seeds averaged: a small log (a few hundred lists) gives noisy trees, and
        # the average of a few is steadier than any one of them.
        members.append(ranker(trees, seed=model_config.seed + member))
        members[-1].fit(
            everything, callbacks=[_ProgressCallback(f"train re-ranker {member + 1}", trees, progress)]
        )
    model = (
        members[0] if len(members) == 1 else sum_models(members, weights=[1 / len(members)] * len(members))
    )
    reranker = Reranker(model, names)
    report = {
        "windows": [list(w) for w in splits.windows],
        "window_rows": [len(p) for p in parts],
        "train_rows": len(rows),
        "train_lists": len(np.unique(rows.group)),
        "trees": int(model.tree_count_),
        "trees_per_model": trees,
        "ensemble": len(members),
        "recent_window_ndcg": probe_ndcg,
        "train_positives": int((rows.label > 0).sum()),
        "train_seconds": round(time.perf_counter() - started, 2),
        "params": training_params(config),
    }
    return reranker, report


#: below this many training lists one model's trees vary a lot with the seed (ml-latest-small:
#: 195 lists; its cold users' NDCG@10 moved 0.37-0.41 between seeds), so an unset ensemble averages
SMALL_LOG_LISTS = 1000
AUTO_ENSEMBLE = 3


def ensemble_size(configured: int, lists: int) -> int:
    """`model.ensemble`, or with 0 the build's choice by the amount of training lists."""
    if configured:
        return configured
    return AUTO_ENSEMBLE if lists < SMALL_LOG_LISTS else 1


def _best(model: CatBoostRanker) -> float:
    """The held-out lists' NDCG@EVAL_TOP at the tree count kept."""
    curve = model.evals_result_.get("validation", {}).get(f"NDCG:top={EVAL_TOP};type=Base", [])
    curve = curve or next(iter(model.evals_result_.get("validation", {}).values()), [])
    return float(curve[model.get_best_iteration()]) if curve else float("nan")
