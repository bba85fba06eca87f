"""The history path's precomputed neighbours: the same answers as searching, and an artifact
that is refused when broken or built for something else."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.config import load_config
from engine.engine import Engine
from engine.errors import ArtifactError
from engine.layout import Layout
from engine.requests import CandidateRequest
from engine.retrieval import neighbours, paths, resolve
from lab.build import build


def same_answer(read, search) -> None:
    """As good an answer: mostly the same items, and scores as high. Not always the very same
    items: FAISS picks among equal scores by its heap, which depends on how many answers it
    keeps (32 for the table, ~12 for a request), and the test data has groups of items that
    share one embedding. The table itself is exactly the search (the test below)."""
    shared = len(set(read.item_ids.tolist()) & set(search.item_ids.tolist()))
    assert shared >= 0.8 * len(search.item_ids), (shared, len(search.item_ids))
    assert abs(len(read) - len(search)) <= 0.05 * len(search)
    assert abs(float(read.scores.mean()) - float(search.scores.mean())) < 0.01


def queries(engine: Engine, users: range) -> list:
    """Resolved stage-1 queries of known users with a history."""
    found = []
    for user in users:
        history = engine.history(user)
        query = resolve.resolve(CandidateRequest(user), engine.catalog, engine.users, history, engine.now, 3)
        if len(query.history):
            found.append(query)
    return found


def test_the_table_answers_as_the_search_would(engine: Engine) -> None:
    index = engine.index("faiss-ivf")
    table = engine.artifacts.history_table(index)
    assert table is not None and table.k == engine.config.retrieval.history_table == 32
    params = engine.artifacts.history_params(index)
    looked_up = searched = 0
    for query in queries(engine, range(0, 400, 7)):
        for size in (20, 100):
            read = paths.history_path(query, index, engine.catalog, 10, size, params, table)
            search = paths.history_path(query, index, engine.catalog, 10, size, params, None)
            same_answer(read, search)
            seeds = min(10, len(query.history))
            if -(-size // seeds) + seeds <= table.k:
                looked_up += 1
            else:
                searched += 1  # more per seed than the table keeps: searched as before
    assert looked_up > 0 and searched > 0


def test_the_table_is_the_search_with_its_own_k(engine: Engine) -> None:
    index = engine.index("faiss-ivf")
    table = engine.artifacts.history_table(index)
    items = np.arange(0, engine.catalog.n_items, 37)
    found = index.search(engine.catalog.vectors[items], table.k, engine.artifacts.history_params(index))
    assert (table.ids[items] == found.ids).all()
    np.testing.assert_array_equal(table.scores[items], found.scores)


def test_a_short_table_falls_back_to_searching(engine: Engine) -> None:
    index = engine.index("faiss-ivf")
    params = engine.artifacts.history_params(index)
    short = neighbours.build_table(index, engine.catalog.vectors, 3, params)
    assert short.ids.shape == (engine.catalog.n_items, 3) and short.rows(np.array([0, 1]), 4) is None
    query = queries(engine, range(5, 60))[0]
    fallback = paths.history_path(query, index, engine.catalog, 10, 100, params, short)
    search = paths.history_path(query, index, engine.catalog, 10, 100, params, None)
    assert fallback.item_ids.tolist() == search.item_ids.tolist(), "searched, exactly as before"


def test_broken_or_foreign_tables_are_refused(small_dir: Path, small_config: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    config = load_config(small_config)
    table = Layout(copy).history_neighbours("faiss-ivf")

    def first_request() -> None:
        engine = Engine.open(copy, config)
        engine.candidates(CandidateRequest(3))

    other_k = config.replace(retrieval=config.retrieval.replace(history_table=16))
    with pytest.raises(ArtifactError, match=r"built for another k; rebuild them with `twostage build"):
        Engine.open(copy, other_k).candidates(CandidateRequest(3))
    ids = table / "ids.npy"
    ids.write_bytes(ids.read_bytes()[:-64])
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        first_request()
    assert build(Layout(copy), None, ["faiss-ivf"], config=config).history_neighbours == "built"
    assert build(Layout(copy), None, ["faiss-ivf"], config=config).history_neighbours == "kept"
    shutil.rmtree(table)  # none at all: the history path searches, as before
    engine = Engine.open(copy, config)
    assert engine.artifacts.history_table(engine.index("faiss-ivf")) is None
    assert len(engine.candidates(CandidateRequest(3)).candidates) > 0
    off = config.replace(retrieval=config.retrieval.replace(history_table=0))
    assert build(Layout(copy), None, ["faiss-ivf"], config=off).history_neighbours == "none"
    assert not table.exists()
