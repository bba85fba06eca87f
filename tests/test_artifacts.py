"""Artifacts: written atomically, checked on load, and never unpickled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.artifacts import (
    atomic_write,
    atomic_write_dir,
    load_array,
    load_table,
    read_manifest,
    save_table,
    write_manifest,
)
from engine.data import load_dataset
from engine.errors import ArtifactError


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "table.npz"

    def explode(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert list(tmp_path.iterdir()) == []


def test_table_round_trip_and_schema_checks(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    save_table(path, {"a": np.arange(3, dtype=np.int64), "b": np.ones((3, 2), dtype=np.float32)})
    cols = load_table(path, {"a": ("int64", 1), "b": ("float32", 2)})
    assert cols["a"].tolist() == [0, 1, 2]
    with pytest.raises(ArtifactError, match="lacks column"):
        load_table(path, {"c": ("int64", 1)})
    with pytest.raises(ArtifactError, match="column 'a' is int64"):
        load_table(path, {"a": ("float32", 1)})


def test_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    with open(path, "wb") as handle:
        np.savez(handle, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_table(path, {"a": ("int64", 1)})
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_array(npy, dtype="int64", ndim=1)


def test_truncated_table_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    save_table(path, {"a": np.arange(1000, dtype=np.int64)})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_table(path, {"a": ("int64", 1)})


def test_manifest_checks(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"0123456789")
    write_manifest(tmp_path, "twostage.test", ["f.bin"], note="x")
    assert read_manifest(tmp_path, "twostage.test")["note"] == "x"
    with pytest.raises(ArtifactError, match=r"expected a 'twostage\.other'"):
        read_manifest(tmp_path, "twostage.other")
    (tmp_path / "f.bin").write_bytes(b"0123456780")  # same size, other content
    with pytest.raises(ArtifactError, match="checksum"):
        read_manifest(tmp_path, "twostage.test")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        read_manifest(tmp_path, "twostage.test")
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="run `twostage build`"):
        read_manifest(tmp_path, "twostage.test")


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"x")
    write_manifest(tmp_path, "twostage.test", ["f.bin"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format_version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format version 99"):
        read_manifest(tmp_path, "twostage.test")


def test_data_set_from_mixed_builds_is_refused(small_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dataset"
    shutil.copytree(small_dir / "dataset", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["n_items"] += 1  # a manifest from another build, with matching checksums
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="rows, the manifest says"):
        load_dataset(copy)


def test_truncated_data_set_file_is_refused(small_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dataset"
    shutil.copytree(small_dir / "dataset", copy)
    vectors = copy / "item_vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-64])
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        load_dataset(copy)


def test_missing_truncated_or_mismatched_embeddings_are_refused(small_dir: Path, tmp_path: Path) -> None:

    from engine.config import EngineConfig, EvaluationConfig
    from engine.engine import Engine

    copy = tmp_path / "data"
    shutil.copytree(small_dir, copy)
    other_window = EngineConfig().replace(evaluation=EvaluationConfig(test_share=0.05))
    refused = "fitted for other data, another test window or other embedding settings; rebuild"
    with pytest.raises(ArtifactError, match=refused):
        Engine.open(copy, other_window)
    vectors = copy / "embeddings" / "serving" / "user_vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        Engine.open(copy)
    shutil.rmtree(copy / "embeddings")
    with pytest.raises(ArtifactError, match=r"no twostage\.embeddings found .* run `twostage build`"):
        Engine.open(copy)


def test_a_folder_is_swapped_in_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "index"

    def fill(files: dict[str, str]):
        def write(tmp: Path) -> None:
            tmp.mkdir()
            for name, text in files.items():
                (tmp / name).write_text(text)

        return write

    assert atomic_write_dir(target, fill({"a": "1", "b": "2"})) == [target / "a", target / "b"]
    assert atomic_write_dir(target, fill({"c": "3"})) == [target / "c"], "the old folder is replaced"

    def broken(tmp: Path) -> None:
        fill({"d": "4"})(tmp)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_dir(target, broken)
    assert [p.name for p in target.iterdir()] == ["c"], "a failed write leaves the old folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"], "and no temporary folder"
