"""Every retrieval path of the registry keeps one contract, and adding a path is its function
plus one registry line (shown with a toy path)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.engine import Engine
from engine.requests import CandidateRequest, RecommendRequest
from engine.retrieval import registry
from engine.retrieval.registry import REGISTRY, PathInputs, RetrievalPath
from engine.retrieval.types import PathResult

NAMES = [path.name for path in REGISTRY]


def _warm_user(engine: Engine) -> int:
    return int(engine.users.most_active(1)[0])


def _without_history(engine: Engine) -> int:
    return int(np.flatnonzero(np.diff(engine.users.history_offsets) == 0)[0])


def _check(result: PathResult, path: RetrievalPath, engine: Engine, limit: int) -> None:
    """Provenance, ids of the catalog, each once, at most `limit`, best first."""
    assert result.name == path.name
    assert len(result) <= limit and len(np.unique(result.item_ids)) == len(result)
    assert ((result.item_ids >= 0) & (result.item_ids < engine.catalog.n_items)).all()
    assert len(result.scores) == len(result) and (np.diff(result.scores) <= 1e-6).all()


@pytest.mark.parametrize("name", NAMES)
def test_a_path_answers_within_its_size_best_first_with_its_name(engine: Engine, name: str) -> None:
    path = REGISTRY[NAMES.index(name)]
    inputs = engine.path_inputs(CandidateRequest(_warm_user(engine), n_candidates=200))
    found = path.find(inputs, 40)
    _check(found, path, engine, limit=inputs.n)
    assert len(found) > 0, f"{name} found nothing for the most active user"


@pytest.mark.parametrize("name", NAMES)
def test_a_path_with_size_zero_finds_nothing(engine: Engine, name: str) -> None:
    path = REGISTRY[NAMES.index(name)]
    assert len(path.find(engine.path_inputs(CandidateRequest(_warm_user(engine))), 0)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_a_path_asked_for_more_than_the_catalog_stays_within_it(engine: Engine, name: str) -> None:
    path = REGISTRY[NAMES.index(name)]
    n_items = engine.catalog.n_items
    inputs = engine.path_inputs(CandidateRequest(_warm_user(engine), n_candidates=n_items))
    _check(path.find(inputs, 10 * n_items), path, engine, limit=n_items)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("who", ["unknown user", "no history"])
def test_a_path_takes_an_unknown_user_or_an_empty_history_without_error(
    engine: Engine, name: str, who: str
) -> None:
    path = REGISTRY[NAMES.index(name)]
    user = 10**9 if who == "unknown user" else _without_history(engine)
    inputs = engine.path_inputs(CandidateRequest(user))
    found = path.find(inputs, 40)
    _check(found, path, engine, limit=inputs.n)
    if path.needs_history:
        assert len(found) == 0, "nothing to start from"


def test_a_seventh_path_is_one_function_and_one_registry_line(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A toy path (the catalog's last items, by id), added to the registry: the engine runs it,
    sizes it by its share, merges it with provenance, and both stages still answer."""

    def newest(inputs: PathInputs, quota: int) -> PathResult:
        ids = np.arange(inputs.catalog.n_items - 1, inputs.catalog.n_items - 1 - quota, -1, dtype=np.int64)
        return PathResult("newest", ids, np.linspace(1.0, 0.5, quota, dtype=np.float32), quota)

    toy = RetrievalPath("newest", newest, share=lambda config: 0.05)
    monkeypatch.setattr(registry, "REGISTRY", (*REGISTRY, toy))  # the one line
    result = engine.candidates(CandidateRequest(_warm_user(engine), n_candidates=200))
    candidates = result.candidates
    assert candidates.path_names == (*NAMES, "newest") and "newest" in result.timings_ns
    column = candidates.path_names.index("newest")
    found = candidates.item_ids[candidates.path_ranks[:, column] >= 0]
    assert 0 < len(found) <= 10 and set(found.tolist()) <= set(
        range(engine.catalog.n_items - 10, engine.catalog.n_items)
    )
    assert len(engine.recommend(RecommendRequest(_warm_user(engine), k=5)).items) == 5
    assert engine.candidates(CandidateRequest(3, paths=("newest",))).candidates.path_names[-1] == "newest"
