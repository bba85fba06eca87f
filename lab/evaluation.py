"""End-to-end evaluation: top-K lists over the whole catalog, judged on held-out interactions.

The engine is opened as of the test window's start (embeddings, counters, co-visits and
popularity fitted on what came before it). For each test user (a positive interaction in the
window) it builds the top K by popularity, by each retrieval path alone, by the merged
stage-1 order, by both stages (the model's order) and as served (after the business rules,
whose cost is reported apart), and judges them against the user's positives in the window
(binary relevance): NDCG@K, recall@K, MRR@K and catalog coverage, for all, warm (any
interaction before the window) and cold users, each with a 95 % bootstrap interval over
users. The lift of the two-stage list is against the strongest baseline, with a paired
bootstrap interval. Candidate recall, the share of each user's positives that reach the
candidate set, bounds what stage 2 can do: it is reported per path alone and merged, for
every candidate-set size. How personal each list is (distinct items, the overlap of two
users' lists, which paths filled the slots) comes with it (lab.personalisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import EngineConfig
from engine.data import load_dataset
from engine.embeddings import open_dataset
from engine.engine import Engine
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.ranking.quality import graded_ndcg, list_metrics
from engine.requests import CandidateRequest, RecommendRequest
from engine.retrieval.registry import PATHS
from engine.splits import Splits
from lab.personalisation import overlap, path_shares

SIZES = (10, 20, 50, 100, 200, 500, 1000)
METRICS = ("ndcg", "recall", "mrr")
CLICK_METRICS = ("ndcg", "expected_clicks")  # the synthetic generator's click model as judge
TWO_STAGE = "two-stage"
SERVED = "served"  # the two-stage list after the business rules: what the API answers
STAGE1 = "stage-1"
POPULARITY = "popularity"
SEGMENTS = ("all", "warm", "cold")


@dataclass(frozen=True)
class HeldOut:
    """Test users (sorted), each one's positives in the window, and who was warm before it."""

    users: np.ndarray
    relevant: dict[int, np.ndarray]
    warm: np.ndarray

    @classmethod
    def of(cls, engine: Engine, start: int, end: int) -> HeldOut:
        log = engine.dataset.interactions
        hit = (log.time >= start) & (log.time < end) & log.clicked
        users, items = log.user[hit], log.item[hit]
        order = np.lexsort((items, users))
        users, items = users[order], items[order]
        ids, starts = np.unique(users, return_index=True)
        bounds = np.r_[starts, len(users)]
        relevant = {int(u): np.unique(items[bounds[i] : bounds[i + 1]]) for i, u in enumerate(ids)}
        warm = np.isin(ids, log.user[log.time < start])
        return cls(ids, relevant, warm)

    def sample(self, n: int, seed: int) -> HeldOut:
        if n <= 0 or n >= len(self.users):
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.users), size=n, replace=False))
        users = self.users[keep]
        return HeldOut(users, {int(u): self.relevant[int(u)] for u in users}, self.warm[keep])


def is_synthetic(engine: Engine) -> bool:
    return engine.dataset.manifest.get("source", {}).get("generator") == "sample_data.synthetic"


class ClickModel:
    """Gains are the generator's click probabilities at the sweep's moment, from its own
    vectors and hidden terms (the engine sees neither)."""

    name = "the generator's click model"
    second = "expected clicks"

    def __init__(self, engine: Engine, layout: Layout, k: int):
        from sample_data.click_model import Hidden, category_medians

        self.hidden = Hidden.load(layout.dataset)
        stored = load_dataset(layout.dataset)
        self.truth_catalog, self.truth_users = self.hidden.truth(stored.catalog, stored.users)
        self.engine, self.k = engine, k
        self.users = np.arange(engine.users.n_users)
        self.medians = category_medians(engine.catalog)
        self._ideal: dict[int, np.ndarray] = {}

    def _probability(self, user: int, items: np.ndarray) -> np.ndarray:
        from sample_data.click_model import click_logit, sigmoid

        users = np.full(len(items), user)
        return sigmoid(
            click_logit(
                self.truth_catalog, self.truth_users, self.hidden, users, items, self.engine.now, self.medians
            )
        )

    def prepare(self, user: int) -> None:
        """The best k probabilities over the whole catalog: the ideal list's gains."""
        p = self._probability(user, np.arange(self.engine.catalog.n_items))
        self._ideal[user] = np.sort(p)[::-1][: self.k]

    def quality(self, user: int, ranking: list[int]) -> tuple[float, float]:
        gains = self._probability(user, np.asarray(ranking, dtype=np.int64)) if ranking else np.zeros(0)
        return graded_ndcg(gains, self._ideal[user]), float(gains.sum())


def popularity_order(engine: Engine) -> np.ndarray:
    """Every item by positive interactions before the engine's clock, most first."""
    log = engine.dataset.interactions
    before = log.clicked & (log.time <= engine.now)
    counts = np.bincount(log.item[before], minlength=engine.catalog.n_items)
    return np.argsort(-counts, kind="stable")


def evaluate(
    data_dir: Path, config: EngineConfig | None = None, progress: Progress = no_progress
) -> dict[str, Any]:
    """The module's judgement of the data directory's engine, as a JSON-ready report."""
    config = config or EngineConfig()
    cfg = config.evaluation
    layout = Layout(Path(data_dir))
    dataset = open_dataset(layout, config)
    splits = Splits.of(dataset, config)
    engine = Engine(layout, dataset, config, as_of=splits.test_from - 1)
    every = HeldOut.of(engine, splits.test_from, splits.end)
    held = every.sample(cfg.max_users, cfg.seed)
    n = min(config.retrieval.n_candidates, engine.catalog.n_items)
    sizes = tuple(s for s in SIZES if s <= engine.catalog.n_items)
    popular = popularity_order(engine)
    k = cfg.k
    names = (POPULARITY, *PATHS, STAGE1, TWO_STAGE, SERVED)
    scores = {name: np.zeros((len(held.users), len(METRICS))) for name in names}
    shown: dict[str, list[np.ndarray]] = {name: [] for name in names}
    reach = {name: np.zeros((len(held.users), len(sizes))) for name in ("merged", *PATHS)}
    found: dict[str, list[np.ndarray]] = {STAGE1: [], TWO_STAGE: [], SERVED: []}  # top-K slots x paths
    judge = ClickModel(engine, layout, k) if is_synthetic(engine) else None
    clicks = {name: np.zeros((len(held.users), len(CLICK_METRICS))) for name in names}
    engine.warm_up()
    for row, user in enumerate(held.users.tolist()):
        relevant = held.relevant[user]
        seen = engine.seen(user, engine.history(user)[0])  # what the engine never proposes again
        lists = {POPULARITY: _without(popular, seen, k)}
        for path in PATHS:
            alone = engine.candidates(CandidateRequest(user, n_candidates=max(sizes), paths=(path,)))
            ids = alone.candidates.item_ids
            lists[path] = ids[:k]
            reach[path][row] = [np.isin(relevant, ids[:size]).mean() for size in sizes]
        response = engine.recommend(RecommendRequest(user, k=k, n_candidates=n))
        for column, size in enumerate(sizes):  # the configured size's set is the response's own
            merged = (
                response.candidates
                if size == n
                else engine.candidates(CandidateRequest(user, n_candidates=size))
            ).candidates.item_ids
            reach["merged"][row, column] = np.isin(relevant, merged).mean()
        candidates = response.candidates.candidates
        columns = [candidates.path_names.index(path) for path in PATHS]
        rows = {
            STAGE1: np.arange(min(k, len(candidates))),
            TWO_STAGE: response.rows_before_rules(k),
            SERVED: response.served_rows(),
        }
        for name, chosen in rows.items():
            lists[name] = candidates.item_ids[chosen]
            found[name].append(candidates.path_ranks[chosen][:, columns] >= 0)
        if judge is not None:
            judge.prepare(user)
        for name, ranked in lists.items():
            scores[name][row] = list_metrics(ranked, relevant, k)
            shown[name].append(np.asarray(ranked[:k], dtype=np.int64))
            if judge is not None:
                clicks[name][row] = judge.quality(user, np.asarray(ranked[:k]).tolist())
        progress("evaluate users", row + 1, len(held.users))
    rng = np.random.default_rng(cfg.seed)
    segments = {"all": np.ones(len(held.users), dtype=bool), "warm": held.warm, "cold": ~held.warm}
    report: dict[str, Any] = {
        "k": k,
        "n_candidates": n,
        "backend": config.retrieval.backend,
        "splits": {"start": splits.start, "test_from": splits.test_from, "end": splits.end},
        "split_by": cfg.split_by,
        "test_share": cfg.test_share,
        "test_users": len(every.users),
        "judged_users": len(held.users),
        "sizes": list(sizes),
        "segments": {},
    }
    n_items = engine.catalog.n_items
    for segment, mask in segments.items():
        report["segments"][segment] = _segment(scores, METRICS, shown, mask, n_items, cfg.bootstrap, rng)
        report["segments"][segment]["personalisation"] = _personalisation(shown, found, mask)
        if report["segments"][segment]["users"]:
            means = {name: values[mask].mean(axis=0).tolist() for name, values in reach.items()}
            report["segments"][segment]["candidate_recall"] = means
    if judge is not None:
        everyone = segments["all"]
        report["click_model"] = _segment(clicks, CLICK_METRICS, shown, everyone, n_items, cfg.bootstrap, rng)
    return report


def _personalisation(
    shown: dict[str, list[np.ndarray]], found: dict[str, list[np.ndarray]], mask: np.ndarray
) -> dict[str, Any]:
    """Per list, over the segment's users: distinct items and pairwise overlap of their top K;
    for the lists made of candidates, the share of slots each path found (and found alone)."""
    rows = np.flatnonzero(mask).tolist()
    out: dict[str, Any] = {}
    for name, lists in shown.items():
        out[name] = overlap([lists[i] for i in rows])
        if name in found:
            out[name]["paths"] = path_shares([found[name][i] for i in rows], PATHS)
    return out


def _without(order: np.ndarray, seen: np.ndarray, k: int) -> np.ndarray:
    head = order[: k + len(seen)]
    return head[~np.isin(head, seen)][:k]


def _segment(
    scores: dict[str, np.ndarray],
    metrics: tuple[str, ...],
    shown: dict[str, list[np.ndarray]],
    mask: np.ndarray,
    n_items: int,
    resamples: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Each list's metrics over the users in `mask` with bootstrap intervals, and the lift of
    the two-stage list over the strongest other list by the first metric (paired resamples)."""
    users = int(mask.sum())
    out: dict[str, Any] = {"users": users, "lists": {}, "candidate_recall": {}}
    if users == 0:
        return out
    picks = rng.integers(0, users, size=(resamples, users))
    for name, values in scores.items():
        mine = values[mask]
        entry = {metric: _interval(mine[:, j], picks) for j, metric in enumerate(metrics)}
        items = [shown[name][i] for i in np.flatnonzero(mask)]
        entry["coverage"] = len(np.unique(np.concatenate(items))) / n_items if items else 0.0
        out["lists"][name] = entry
    baselines = [name for name in scores if name not in (TWO_STAGE, SERVED)]
    strongest = max(baselines, key=lambda name: out["lists"][name][metrics[0]]["mean"])
    two, base = scores[TWO_STAGE][mask][:, 0], scores[strongest][mask][:, 0]
    resampled = two[picks].mean(axis=1) / np.maximum(base[picks].mean(axis=1), 1e-12) - 1.0
    out["strongest_baseline"] = strongest
    served = scores[SERVED][mask][:, 0].mean()
    out["rules_cost"] = float(served / two.mean() - 1.0) if two.mean() > 0 else float("nan")
    out["lift"] = {
        "mean": float(two.mean() / base.mean() - 1.0) if base.mean() > 0 else float("nan"),
        "low": float(np.percentile(resampled, 2.5)),
        "high": float(np.percentile(resampled, 97.5)),
    }
    return out


def _interval(values: np.ndarray, picks: np.ndarray) -> dict[str, float]:
    means = values[picks].mean(axis=1)
    return {
        "mean": float(values.mean()),
        "low": float(np.percentile(means, 2.5)),
        "high": float(np.percentile(means, 97.5)),
    }
