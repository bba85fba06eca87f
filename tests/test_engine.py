"""Stage 1 end to end through the Engine, on the small built data set."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from engine.ann import available
from engine.ann.faiss_ivf import FaissIvfIndex
from engine.config import EngineConfig
from engine.engine import Engine
from engine.errors import ArtifactError, InvalidRequestError, UnknownBackendError
from engine.requests import CandidateRequest
from engine.retrieval.registry import PATHS
from engine.retrieval.resolve import resolve

APPROXIMATE = [b for b in available() if b != "exact"]


def active_user(engine: Engine, min_history: int = 5) -> int:
    lengths = np.diff(engine.users.history_offsets)
    return int(np.flatnonzero(lengths >= min_history)[0])


@pytest.mark.parametrize("backend", available())
def test_known_user_gets_a_full_candidate_set_with_provenance(engine: Engine, backend: str) -> None:
    user = active_user(engine)
    result = engine.candidates(CandidateRequest(user, n_candidates=300, backend=backend, measure_recall=True))
    cands = result.candidates
    assert len(cands) == 300 and len(np.unique(cands.item_ids)) == 300
    assert result.known_user and not result.cold_start and result.notes == ()
    assert cands.path_names == PATHS
    counts = cands.path_counts()
    assert all(counts[path] > 0 for path in PATHS), counts
    # Every candidate was found by at least one path, and its recorded scores are real.
    assert (cands.path_ranks >= 0).any(axis=1).all()
    ann_rows = cands.path_ranks[:, 0] >= 0
    expected = engine.catalog.vectors[cands.item_ids[ann_rows]] @ engine.users.vectors[user]
    np.testing.assert_allclose(cands.path_scores[ann_rows, 0], expected, atol=1e-4)
    np.testing.assert_allclose(cands.similarity[ann_rows], expected, atol=1e-4)
    # Items the user has already seen are not proposed again.
    seen, _ = engine.users.history(user)
    assert not np.isin(cands.item_ids, seen).any()
    assert 0.0 <= result.recall <= 1.0
    if backend == "exact":
        assert result.recall == 1.0
    assert set(result.timings_ns) == {"resolve", *PATHS, "merge", "retrieval"}
    assert result.timings_ns["retrieval"] >= result.timings_ns["ann"] > 0
    assert result.timings_ms()["retrieval"] < 1000, "a 300-candidate request should take far under 1 s"


def test_trending_path_follows_the_users_categories(engine: Engine) -> None:
    user = active_user(engine, 8)
    result = engine.candidates(CandidateRequest(user, n_candidates=200))
    query = resolve(CandidateRequest(user), engine.catalog, engine.users, engine.history(user), engine.now, 3)
    trending_rows = result.candidates.path_ranks[:, PATHS.index("trending")] >= 0
    categories = engine.catalog.category[result.candidates.item_ids[trending_rows]]
    assert set(categories.tolist()) <= set(query.top_categories.tolist())
    history_categories = engine.catalog.category[engine.users.history(user)[0]]
    assert (
        query.top_categories[0] == np.bincount(history_categories).argmax() or len(query.top_categories) > 1
    )


def test_unknown_user_falls_back_to_cold_start(engine: Engine) -> None:
    result = engine.candidates(CandidateRequest(user_id=10**9, n_candidates=100, measure_recall=True))
    assert not result.known_user and result.cold_start
    assert "unknown: cold start" in result.notes[0]
    assert len(result.candidates) == 100
    counts = result.candidates.path_counts()
    assert set(counts) == set(PATHS) and result.recall is None
    assert counts["ann"] == counts["history"] == counts["covisit"] == 0
    assert counts["popular"] > 50, "the popular path fills what the ANN path would have"
    promoted = engine.catalog.promoted[result.candidates.item_ids]
    assert promoted.sum() >= 1


def test_explicit_query_vector_drives_the_ann_path(engine: Engine) -> None:
    item = int(np.flatnonzero(engine.catalog.vectors.any(axis=1))[123])  # an item with a learned vector
    target = engine.catalog.vectors[item]
    result = engine.candidates(
        CandidateRequest(user_id=-1, query=target.tolist(), n_candidates=50, backend="exact")
    )
    assert result.cold_start and "query vector" in result.notes[0]
    # inner product: the best answer to an item's vector is the item or one liked more broadly
    scores = engine.catalog.vectors @ target
    assert result.ann_ids[0] == int(np.argmax(scores)) and scores[result.ann_ids[0]] >= scores[item]


def test_user_without_history_has_no_history_path(engine: Engine) -> None:
    empty = np.flatnonzero(np.diff(engine.users.history_offsets) == 0)
    if len(empty) == 0:
        pytest.skip("the small data set has no user without history")
    result = engine.candidates(CandidateRequest(int(empty[0]), n_candidates=100))
    assert result.candidates.path_counts()["history"] == 0
    assert "no history" in result.notes[0] and len(result.candidates) == 100


@pytest.mark.parametrize(
    ("request_kwargs", "error", "message"),
    [
        ({"n_candidates": 0}, InvalidRequestError, "from 1 to 3000"),
        ({"n_candidates": 3001}, InvalidRequestError, "from 1 to 3000"),
        ({"query": "five numbers"}, InvalidRequestError, r"has 5 dimensions but the index has \d+"),
        ({"query": "NaN of the right length"}, InvalidRequestError, "NaN"),
        ({"backend": "annoy"}, UnknownBackendError, "unknown backend 'annoy'; choose one of"),
        ({"search_params": {"nprobe": 4}}, InvalidRequestError, "no search parameter 'nprobe'"),
        ({"paths": ("ann", "bm25")}, InvalidRequestError, r"unknown retrieval path\(s\) bm25; use ann,"),
    ],
)
def test_bad_requests_get_clear_errors(engine: Engine, request_kwargs, error, message) -> None:
    queries = {"five numbers": [0.1] * 5, "NaN of the right length": [float("nan")] * engine.catalog.dim}
    if "query" in request_kwargs:  # the learned dimension is the build's choice
        request_kwargs = {**request_kwargs, "query": queries[request_kwargs["query"]]}
    with pytest.raises(error, match=message):
        engine.candidates(
            CandidateRequest(user_id=1, backend=request_kwargs.pop("backend", "faiss-hnsw"), **request_kwargs)
        )


def test_non_integer_user_id_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError, match="user id must be a whole number"):
        engine.candidates(CandidateRequest(user_id="7"))  # type: ignore[arg-type]


def test_weak_search_settings_lose_recall_strong_ones_recover_it(engine: Engine) -> None:
    user = active_user(engine)
    weak = engine.candidates(
        CandidateRequest(
            user, n_candidates=500, backend="faiss-ivf", search_params={"nprobe": 1}, measure_recall=True
        )
    )
    strong = engine.candidates(
        CandidateRequest(
            user, n_candidates=500, backend="faiss-ivf", search_params={"nprobe": 64}, measure_recall=True
        )
    )
    assert weak.recall < 0.9 < strong.recall
    assert weak.search_params == {"nprobe": 1}


def test_concurrent_requests_match_sequential_ones(engine: Engine) -> None:
    users = list(range(0, 400, 7))
    requests = [CandidateRequest(u, n_candidates=100, backend=b) for u in users for b in APPROXIMATE]
    sequential = [engine.candidates(r).candidates.item_ids for r in requests]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda r: engine.candidates(r).candidates.item_ids, requests))
    for one, other in zip(sequential, concurrent, strict=True):
        np.testing.assert_array_equal(one, other)


def test_missing_index_names_the_build_command(small_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy, ignore=shutil.ignore_patterns("hnswlib"))
    with pytest.raises(ArtifactError, match="twostage build --backends hnswlib"):
        Engine.open(copy).candidates(CandidateRequest(1, backend="hnswlib"))


def test_index_from_another_data_set_is_refused(small_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    manifest_path = copy / "indexes" / "faiss-hnsw" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["dataset"] = "0000000000000000"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="rebuild it with `twostage build --force`"):
        Engine.open(copy).candidates(CandidateRequest(1, backend="faiss-hnsw"))


def test_missing_data_dir_says_to_build(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="run `twostage build`"):
        Engine.open(tmp_path / "nothing-here")


def test_recall_counts_results_the_index_did_not_return_as_misses(engine: Engine) -> None:
    user = active_user(engine)
    vector = engine.users.vectors[user]
    truth = engine.index("exact").search(vector, 100).ids[0]
    assert engine.ann_recall(vector, truth, 100) == 1.0
    assert engine.ann_recall(vector, truth[:40], 100) == pytest.approx(0.4)
    assert engine.ann_recall(None, truth, 100) is None


def test_search_defaults_come_from_the_configuration(small_dir: Path) -> None:
    default = Engine.open(small_dir).candidates(CandidateRequest(1, backend="faiss-ivf"))
    assert default.search_params == FaissIvfIndex.search_defaults
    configured = Engine.open(small_dir, EngineConfig(search={"faiss-ivf": {"nprobe": 3}}))
    assert configured.candidates(CandidateRequest(1, backend="faiss-ivf")).search_params == {"nprobe": 3}
    per_request = configured.candidates(CandidateRequest(1, backend="faiss-ivf", search_params={"nprobe": 9}))
    assert per_request.search_params == {"nprobe": 9}
    assert configured.index("faiss-ivf").search_params == {"nprobe": 3}, "a request must not change defaults"
