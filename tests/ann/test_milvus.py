"""Milvus beyond the shared contract: the same code against a Milvus server by URI, and the
errors an operator meets. The server is Milvus Lite's own gRPC endpoint: a real Milvus
protocol server on loopback, started and stopped here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.ann.base import INDEX_KIND
from engine.artifacts import read_manifest
from engine.errors import ArtifactError, InvalidRequestError
from tests.conftest import free_port, unit_rows

milvus_index = pytest.importorskip("engine.ann.milvus_index", reason="pymilvus[milvus_lite] is not installed")
server_manager = pytest.importorskip("milvus_lite.server_manager").server_manager_instance


@pytest.fixture
def milvus_server(tmp_path: Path):
    """A Milvus gRPC server on a free loopback port, over its own data folder."""
    data = tmp_path / "server.db"
    uri = server_manager.start_and_get_uri(str(data))
    assert uri is not None and uri.startswith("http://127.0.0.1:")
    yield uri
    server_manager.release_server(str(data))


def test_a_server_index_keeps_only_its_manifest_and_reloads_by_uri(milvus_server: str, rng, tmp_path) -> None:
    vectors = unit_rows(rng, 500, 16)
    index = milvus_index.MilvusIndex(uri=milvus_server, collection="items_a")
    index.build(vectors)
    before = index.search(vectors[:5], 10)
    np.testing.assert_array_equal(before.ids[:, 0], np.arange(5))
    index.save(tmp_path / "ix", dataset="abcd")
    assert read_manifest(tmp_path / "ix", INDEX_KIND)["files"] == {}, "the collection lives on the server"
    loaded = milvus_index.MilvusIndex.load(tmp_path / "ix", expect={"dataset": "abcd"})
    after = loaded.search(vectors[:5], 10)
    np.testing.assert_array_equal(before.ids, after.ids)
    np.testing.assert_allclose(before.scores, after.scores, atol=1e-6)


def test_a_dropped_collection_or_a_smaller_one_is_refused(milvus_server: str, rng, tmp_path) -> None:
    index = milvus_index.MilvusIndex(uri=milvus_server, collection="items_b")
    index.build(unit_rows(rng, 300, 8))
    index.save(tmp_path / "ix")
    other = milvus_index.MilvusIndex(uri=milvus_server, collection="items_b")
    other.build(unit_rows(rng, 200, 8))  # rebuilt elsewhere with other data
    with pytest.raises(ArtifactError, match="holds 200 vectors, the manifest says 300"):
        milvus_index.MilvusIndex.load(tmp_path / "ix")
    other._connected().drop_collection("items_b")
    with pytest.raises(ArtifactError, match="has no collection 'items_b'"):
        milvus_index.MilvusIndex.load(tmp_path / "ix")


def test_an_unreachable_server_is_a_clear_error(rng) -> None:
    index = milvus_index.MilvusIndex(uri=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ArtifactError, match=r"cannot reach Milvus at http://127\.0\.0\.1:.*start the server"):
        index.build(unit_rows(rng, 50, 8))


def test_more_results_than_milvus_returns_is_a_clear_error(rng) -> None:
    index = milvus_index.MilvusIndex()
    index.build(unit_rows(rng, 20, 8))
    index.count = milvus_index.MilvusIndex.max_results + 1  # as if the catalog were that large
    with pytest.raises(InvalidRequestError, match="at most 16,384 results per query"):
        index.search(np.ones(8, dtype=np.float32), milvus_index.MilvusIndex.max_results + 1)


def test_a_configured_server_that_does_not_answer_makes_the_backend_unavailable(
    milvus_server: str, tmp_path: Path, capsys
) -> None:
    from cli.main import main

    down, up = tmp_path / "down.toml", tmp_path / "up.toml"
    down.write_text(f'[build.milvus]\nuri = "http://127.0.0.1:{free_port()}"\n')
    up.write_text(f'[build.milvus]\nuri = "{milvus_server}"\n')
    listed = {}
    for name, config in (("down", down), ("up", up)):
        assert main(["backends", "--json", "--config", str(config), "--data-dir", str(tmp_path)]) == 0
        listed[name] = next(row for row in json.loads(capsys.readouterr().out) if row["name"] == "milvus")
    assert listed["down"]["available"] is False and "no Milvus server answers at" in listed["down"]["reason"]
    assert listed["up"]["available"] is True and listed["up"]["reason"] is None


def test_without_milvus_lite_the_embedded_mode_is_unavailable_with_the_reason(monkeypatch) -> None:
    from engine.ann import availability

    real = milvus_index.importlib.util.find_spec

    def find_spec(name: str, *args):
        return None if name == "milvus_lite" else real(name, *args)

    monkeypatch.setattr(milvus_index.importlib.util, "find_spec", find_spec)
    assert "milvus-lite is not installed" in availability()["milvus"]
    with_server = availability({"milvus": {"uri": "http://127.0.0.1:1"}})["milvus"]
    assert with_server.startswith("no Milvus server answers"), "a server needs no Milvus Lite"
