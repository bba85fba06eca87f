"""The backend registry: names, availability, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ann import registry
from engine.errors import BackendUnavailableError, UnknownBackendError


def test_every_backend_the_product_promises_is_registered() -> None:
    assert {"exact", "faiss-hnsw", "faiss-ivf", "hnswlib"} <= set(registry.names())


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownBackendError, match="unknown backend 'annoy'; choose one of: exact, faiss-hnsw"
    ):
        registry.backend_class("annoy")


def test_backend_with_a_missing_library_is_unavailable_not_an_import_error(monkeypatch) -> None:
    monkeypatch.setitem(registry.BACKENDS, "ghost", ("tests.ghost_backend:GhostIndex", "ghost-ann"))
    registry._import.cache_clear()
    try:
        reason = registry.availability()["ghost"]
        assert (
            reason is not None
            and "ghost-ann is not installed" in reason
            and "pip install ghost-ann" in reason
        )
        assert "ghost" not in registry.available()
        with pytest.raises(BackendUnavailableError, match="backend 'ghost' is unavailable"):
            registry.create("ghost")
    finally:
        registry._import.cache_clear()


def test_bad_build_parameters_are_reported() -> None:
    with pytest.raises(UnknownBackendError, match="bad build parameters for backend 'faiss-hnsw'"):
        registry.create("faiss-hnsw", efConstructionz=3)


def test_every_backend_has_a_search_grid_matching_its_parameters() -> None:
    for name in registry.available():
        defaults = registry.backend_class(name).search_defaults
        for setting in registry.search_grid(name):
            assert set(setting) == set(defaults), name


def test_every_build_grid_names_real_build_parameters() -> None:
    for name in registry.available():
        cls = registry.backend_class(name)
        defaults = cls().build_params if cls.needs_build else {}
        for setting in registry.build_grid(name):
            assert set(setting) <= set(defaults), f"{name}: {set(setting) - set(defaults)} unknown"
    assert len(registry.build_grid("faiss-hnsw")) == 4, "M x efConstruction"
    assert registry.build_grid("exact") == [{}]


def test_usable_backends_are_the_built_ones_and_those_needing_no_build(tmp_path: Path) -> None:
    (tmp_path / "faiss-ivf").mkdir()
    (tmp_path / "faiss-ivf" / "manifest.json").write_text("{}")
    (tmp_path / "hnswlib").mkdir()  # a folder without its manifest: an unfinished build
    assert registry.usable(lambda name: tmp_path / name) == ["exact", "faiss-ivf"]
