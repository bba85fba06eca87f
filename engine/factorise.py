"""Stage 1's learned vectors: the `implicit` library's ALS (or BPR), with its settings chosen
on the data's own validation holdout, never on the window a build is judged on.

Why a holdout per user rather than the time window before the test window: on real logs few
users are active on both sides of one cut (26 of ml-latest-small's 610 around its test window,
14 around the window before), too few to tell settings apart; every user's own latest
positives give hundreds. The holdout lies before the cut-off the vectors are fitted for, so
the choice sees nothing the evaluation judges.

Item vectors keep their length: in a factorisation the length carries how broadly an item is
liked, and unit rows lose it (on ml-latest-small's warm users, NDCG@10 of the same fit fell
from about 0.11 to 0.02-0.07). The user's length does not change their order, so users are
unit rows and a similarity stays comparable across users.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.sparse import csr_matrix

from engine.config import EmbeddingsConfig
from engine.progress import Progress, no_progress

#: the ranking metric the choice maximises, and its cut-off
VALIDATION_K = 10
#: a user's latest share of positives held out for validation, if they have at least MIN_HISTORY
HOLDOUT_SHARE = 0.2
MIN_HISTORY = 5


@dataclass(frozen=True)
class FitSettings:
    """One point of the grid: what the library is given."""

    method: str
    factors: int
    regularization: float
    alpha: float
    iterations: int

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def interaction_matrix(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> csr_matrix:
    """Users x items, each entry the number of positive interactions of the pair (float32)."""
    pairs, counts = np.unique(users.astype(np.int64) * n_items + items, return_counts=True)
    return csr_matrix(
        (counts.astype(np.float32), (pairs // n_items, pairs % n_items)), shape=(n_users, n_items)
    )


def fit_factors(matrix: csr_matrix, settings: FitSettings, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(user vectors, item vectors) float32: users unit rows, items as fitted; a user or an
    item without interactions is all zero (nothing is known of it: a cold start)."""
    from threadpoolctl import threadpool_limits

    # implicit runs its own threads and warns (at construction) that BLAS threads compete
    # with them: BLAS gets one while it fits
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = _model(settings, seed)
        model.fit(matrix, show_progress=False)
    users = np.asarray(model.user_factors, dtype=np.float32)
    items = np.asarray(model.item_factors, dtype=np.float32)
    users[np.diff(matrix.indptr) == 0] = 0.0
    items[np.bincount(matrix.indices, minlength=matrix.shape[1]) == 0] = 0.0
    norms = np.linalg.norm(users, axis=1, keepdims=True)
    users = users / np.where(norms > 1e-12, norms, 1.0)
    return np.ascontiguousarray(users), np.ascontiguousarray(items)


def _model(settings: FitSettings, seed: int):
    """The library's model (imported here: only a build that learns vectors pays for it)."""
    common = {
        "factors": settings.factors,
        "regularization": settings.regularization,
        "iterations": settings.iterations,
        "random_state": seed,
    }
    if settings.method == "bpr":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        # BPR's item vectors end in a bias and its users' in a 1: one dot product scores both
        return BayesianPersonalizedRanking(learning_rate=settings.alpha, **common)
    from implicit.cpu.als import AlternatingLeastSquares

    return AlternatingLeastSquares(alpha=settings.alpha, **common)


@dataclass(frozen=True)
class Holdout:
    """Each user's latest positives (HOLDOUT_SHARE of them) set aside: `train` is the rest."""

    train: csr_matrix
    users: np.ndarray
    relevant: csr_matrix

    @classmethod
    def of(
        cls, users: np.ndarray, items: np.ndarray, times: np.ndarray, n_users: int, n_items: int, most: int
    ) -> Holdout:
        order = np.lexsort((times, users))
        users, items = users[order], items[order]
        counts = np.bincount(users, minlength=n_users)
        first = np.r_[0, np.cumsum(counts)[:-1]]
        held_count = np.where(counts >= MIN_HISTORY, np.maximum(1, (counts * HOLDOUT_SHARE).astype(int)), 0)
        held = np.arange(len(users)) - first[users] >= (counts - held_count)[users]
        chosen = np.unique(users[held])
        if len(chosen) > most:
            chosen = np.sort(np.random.default_rng(0).choice(chosen, most, replace=False))
        keep = held & np.isin(users, chosen)
        return cls(
            interaction_matrix(users[~held], items[~held], n_users, n_items),
            chosen,
            interaction_matrix(users[keep], items[keep], n_users, n_items),
        )

    def ndcg(self, user_vectors: np.ndarray, item_vectors: np.ndarray, batch: int = 256) -> float:
        """Mean NDCG@VALIDATION_K of the dot product over the whole catalog, the user's
        training positives left out (as the engine leaves out what a user has seen)."""
        k = min(VALIDATION_K, item_vectors.shape[0])  # a catalog smaller than the list
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        total = 0.0
        for start in range(0, len(self.users), batch):
            rows = self.users[start : start + batch]
            scores = user_vectors[rows] @ item_vectors.T
            seen = self.train[rows]
            scores[np.repeat(np.arange(len(rows)), np.diff(seen.indptr)), seen.indices] = -np.inf
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1), 1)
            relevant = self.relevant[rows]
            for i in range(len(rows)):
                wanted = relevant.indices[relevant.indptr[i] : relevant.indptr[i + 1]]
                gains = np.isin(top[i], wanted) @ discount
                total += gains / discount[: min(k, len(wanted))].sum()
        return total / max(len(self.users), 1)


def choose(
    users: np.ndarray,
    items: np.ndarray,
    times: np.ndarray,
    n_users: int,
    n_items: int,
    config: EmbeddingsConfig,
    *,
    seed: int = 0,
    progress: Progress = no_progress,
) -> tuple[FitSettings, dict]:
    """The grid point with the best validation NDCG, and what was tried. A staged search:
    regularisation x alpha at the middle factor count, then every factor count at the best
    of those: 8 fits for the default grid instead of 18 (on ml-latest-small both searches pick
    128 factors, regularisation 10, alpha 1)."""
    holdout = Holdout.of(users, items, times, n_users, n_items, config.validation_users)
    middle = config.factors[len(config.factors) // 2]
    first = [(middle, reg, alpha) for reg in config.regularization for alpha in config.alpha]
    tried: dict[tuple[int, float, float], float] = {}
    total = len(first) + len(config.factors) - 1

    def score(point: tuple[int, float, float]) -> float:
        if point not in tried:
            settings = FitSettings(config.method, *point, config.iterations)
            tried[point] = holdout.ndcg(*fit_factors(holdout.train, settings, seed))
            progress("choose embedding settings", len(tried), total)
        return tried[point]

    if len(holdout.users) == 0:  # nothing to validate on: the grid's middle
        best = (middle, config.regularization[len(config.regularization) // 2], config.alpha[0])
    else:
        best = max(first, key=score)
        best = max(((f, best[1], best[2]) for f in config.factors), key=score)
    popularity = np.asarray(holdout.train.sum(axis=0)).ravel().astype(np.float32)
    report = {
        "validation_users": len(holdout.users),
        "holdout": f"each user's latest {HOLDOUT_SHARE:.0%} of positives (users with {MIN_HISTORY}+)",
        "popularity_ndcg": holdout.ndcg(np.ones((n_users, 1), np.float32), popularity[:, None])
        if len(holdout.users)
        else None,
        "tried": [
            {"factors": f, "regularization": r, "alpha": a, "ndcg": round(v, 5)}
            for (f, r, a), v in tried.items()
        ],
    }
    return FitSettings(config.method, *best, config.iterations), report
