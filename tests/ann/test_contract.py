"""The contract every registered ANN backend must meet; a new backend is tested by
adding it to the registry, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ann import AnnIndex, backend_class, create, names, search_grid
from engine.ann.base import INDEX_KIND
from engine.ann.exact import ExactIndex
from engine.artifacts import read_manifest
from engine.errors import ArtifactError, BackendUnavailableError, InvalidRequestError
from engine.limits import MAX_SEARCH_PARAM
from engine.retrieval.recall import recall_at_k
from sample_data.synthetic import SyntheticParams, generate
from tests.conftest import unit_rows

RECALL_FLOOR = 0.9  # at each backend's default search settings, k = 50, on the clustered set below


def _backend_or_skip(name: str) -> type[AnnIndex]:
    try:
        return backend_class(name)
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=names())
def backend(request: pytest.FixtureRequest) -> str:
    _backend_or_skip(request.param)
    return request.param


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray]:
    """5,000 items in 32 dims from the product's own generator, and 50 user queries."""
    catalog, users, _, _ = generate(
        SyntheticParams(n_items=5_000, dim=32, n_users=50, n_categories=10, items_per_topic=100, seed=3)
    )
    return np.asarray(catalog.vectors), np.asarray(users.vectors)


def built(name: str, vectors: np.ndarray) -> AnnIndex:
    index = create(name)
    index.build(vectors)
    return index


def test_known_answers_on_a_tiny_set(backend: str) -> None:
    # Four orthogonal directions: the best match of each basis vector is itself, with score 1,
    # and the remaining items score 0.
    vectors = np.eye(4, 8, dtype=np.float32)
    index = built(backend, vectors)
    result = index.search(vectors, 1)
    assert result.ids[:, 0].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(result.scores[:, 0], 1.0, atol=1e-5)
    query = np.array([0.6, 0.8, 0, 0, 0, 0, 0, 0], dtype=np.float32)
    both = index.search(query, 2)
    assert both.ids[0].tolist() == [1, 0]
    np.testing.assert_allclose(both.scores[0], [0.8, 0.6], atol=1e-5)
    assert both.ids.dtype == np.int64 and both.scores.dtype == np.float32


def test_recall_above_floor_on_clustered_data(backend: str, clustered) -> None:
    vectors, queries = clustered
    truth = ExactIndex()
    truth.build(vectors)
    expected = truth.search(queries, 50)
    found = built(backend, vectors).search(queries, 50)
    recall = recall_at_k(found.ids, queries, vectors, expected.scores[:, -1]).mean()
    assert recall >= RECALL_FLOOR, f"{backend} recall@50 = {recall:.3f} < {RECALL_FLOOR}"
    # Returned scores are the real inner products of the returned ids.
    rows = found.ids[0][found.ids[0] >= 0]
    np.testing.assert_allclose(found.scores[0][: len(rows)], vectors[rows] @ queries[0], atol=1e-4)
    assert (np.diff(found.scores[0][: len(rows)]) <= 1e-6).all(), "results must be best first"


def test_save_load_round_trip_gives_identical_results(backend: str, clustered, tmp_path: Path) -> None:
    vectors, queries = clustered
    index = built(backend, vectors)
    index.set_search_params(**search_grid(backend)[0])
    before = index.search(queries, 20)
    index.save(tmp_path / backend)
    loaded = backend_class(backend).load(tmp_path / backend)
    after = loaded.search(queries, 20)
    np.testing.assert_array_equal(before.ids, after.ids)
    np.testing.assert_allclose(before.scores, after.scores, atol=1e-6)
    assert loaded.search_params == index.search_params
    assert loaded.memory_bytes() > 0 and loaded.count == len(vectors)


def test_search_params_apply_to_one_call_only(backend: str, clustered) -> None:
    """A per-call setting leaves the index's own settings as they were: after the whole grid,
    strongest first, a plain call answers as the first did (a library whose
    setting is index state, like hnswlib's ef or FAISS's nprobe, must be set back)."""
    vectors, queries = clustered
    index = built(backend, vectors)
    before = index.search(queries, 50)
    grid = search_grid(backend)
    for params in reversed(grid):  # the weakest last: a leaked setting would show
        index.search(queries, 50, params or None)
    np.testing.assert_array_equal(index.search(queries, 50).ids, before.ids)
    assert index.search_params == index.search_defaults


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [
        (np.ones(5, dtype=np.float32), 3, "has 5 dimensions but the index has 8"),
        (np.array([np.nan] + [0.1] * 7, dtype=np.float32), 3, "NaN or infinity"),
        (np.ones(8, dtype=np.float32), 0, "k must be between 1 and 30"),
        (np.ones(8, dtype=np.float32), -2, "k must be between 1 and 30"),
        (np.ones(8, dtype=np.float32), 31, "k must be between 1 and 30"),
        (np.ones(8, dtype=np.float32), 2.5, "k must be a whole number"),
        ("not a vector", 3, "query vector must be numbers"),
    ],
)
def test_bad_search_input_is_a_clear_error(backend: str, rng, query, k, message) -> None:
    index = built(backend, unit_rows(rng, 30, 8))
    with pytest.raises(InvalidRequestError, match=message):
        index.search(query, k)


def test_bad_search_params_are_rejected(backend: str, rng) -> None:
    index = built(backend, unit_rows(rng, 30, 8))
    with pytest.raises(InvalidRequestError, match="has no search parameter 'bogus'"):
        index.set_search_params(bogus=3)
    for name in index.search_defaults:
        for value in (0, MAX_SEARCH_PARAM + 1, True, 2.0):
            with pytest.raises(
                InvalidRequestError, match=f"must be a whole number from 1 to {MAX_SEARCH_PARAM}"
            ):
                index.set_search_params(**{name: value})


def test_building_from_bad_vectors_fails_clearly(backend: str) -> None:
    index = create(backend)
    with pytest.raises(InvalidRequestError, match="zero vectors"):
        index.build(np.zeros((0, 8), dtype=np.float32))
    with pytest.raises(InvalidRequestError, match="NaN or infinity"):
        index.build(np.array([[1.0, np.inf]], dtype=np.float32))
    with pytest.raises(InvalidRequestError, match="empty"):
        index.search(np.ones(2, dtype=np.float32), 1)


def test_truncated_or_missing_index_file_is_refused(backend: str, rng, tmp_path: Path) -> None:
    index = built(backend, unit_rows(rng, 200, 8))
    directory = tmp_path / backend
    index.save(directory)
    cls = backend_class(backend)
    written = read_manifest(directory, INDEX_KIND)["files"]
    data_file = directory / max(written, key=lambda name: written[name]["bytes"])
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        cls.load(directory)
    data_file.unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        cls.load(directory)


def test_index_built_for_other_data_is_refused(backend: str, rng, tmp_path: Path) -> None:
    index = built(backend, unit_rows(rng, 100, 8))
    index.save(tmp_path / "ix", dataset="aaaa")
    with pytest.raises(ArtifactError, match="rebuild"):
        backend_class(backend).load(tmp_path / "ix", expect={"dataset": "bbbb"})
    other = next(n for n in names() if n != backend)
    with pytest.raises(ArtifactError, match=f"holds a '{backend}' index"):
        _backend_or_skip(other).load(tmp_path / "ix")


def test_a_backend_that_returns_fewer_than_k_is_padded_as_promised() -> None:
    class Short(ExactIndex):  # as ScaNN or USearch do when they find fewer than asked
        def _search(self, queries, k, params):
            ids, scores = super()._search(queries, k, params)
            return ids[:, : k - 2], scores[:, : k - 2]

    index = Short()
    index.build(np.eye(4, 8, dtype=np.float32))
    found = index.search(np.eye(4, 8, dtype=np.float32)[:2], 3)
    assert found.ids.tolist() == [[0, -1, -1], [1, -1, -1]]
    assert found.scores[:, 0].tolist() == [1.0, 1.0] and np.isneginf(found.scores[:, 1:]).all()
    assert found.ids.dtype == np.int64 and found.scores.dtype == np.float32
