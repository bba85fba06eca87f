"""The benchmark commands' sweeps: ann-bench over build settings, the ef a library really ran,
and the sweep of final quality over the ANN path's recall."""

from __future__ import annotations

import json
from pathlib import Path

from engine.ann import grid_axes
from engine.ann.base import INDEX_KIND
from engine.artifacts import read_manifest
from tests.test_cli import run


def test_ann_bench_builds_sweeps_each_build_setting_and_measures_its_files(capsys, small_dir: Path) -> None:
    args = ["ann-bench", "--backend", "faiss-hnsw", "--k", "20", "--queries", "5"]
    args += ["--data-dir", str(small_dir)]
    code, out, _ = run(capsys, *args, "--builds", "--json")
    assert code == 0
    rows = json.loads(out)["rows"]
    built = {(r["build_params"]["M"], r["build_params"]["efConstruction"]): r for r in rows}
    assert sorted(built) == [(16, 100), (16, 200), (32, 100), (32, 200)]
    assert len(rows) == 4 * len(grid_axes("faiss-hnsw")["efSearch"])
    # Twice the links per node: the saved graph is measurably larger (vectors are 3,000 x 16 floats).
    assert built[(32, 200)]["disk_bytes"] - built[(16, 200)]["disk_bytes"] > 3_000 * 16 * 4
    code, out, _ = run(capsys, *args, "--json")
    on_disk = read_manifest(small_dir / "indexes" / "faiss-hnsw", INDEX_KIND)["files"]
    assert {r["disk_bytes"] for r in json.loads(out)["rows"]} == {sum(f["bytes"] for f in on_disk.values())}


def test_ann_bench_labels_an_ef_the_library_raised_to_k(capsys, small_dir: Path) -> None:
    args = ["ann-bench", "--backend", "hnswlib", "--k", "100", "--queries", "3", "--data-dir", str(small_dir)]
    code, out, _ = run(capsys, *args, "--json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert [(r["params"]["ef"], r["used"]["ef"]) for r in rows[:2]] == [(64, 100), (128, 128)]
    code, out, _ = run(capsys, *args)
    assert "ef=64 (ran 100)" in out and "ef=128 (ran" not in out


def test_sweep_over_recall_ties_final_quality_to_the_ann_recall(
    capsys, small_dir: Path, small_config: Path, tmp_path: Path
) -> None:
    png = tmp_path / "recall.png"
    args = ["sweep", "--over", "recall", "--backend", "faiss-ivf", "--candidates", "100", "--users", "10"]
    args += ["--data-dir", str(small_dir), "--config", str(small_config)]
    code, out, _ = run(capsys, *args, "--json", "--png", str(png))
    assert code == 0
    sweep = json.loads(out)
    rows = sweep["rows"]
    assert [r["params"]["nprobe"] for r in rows] == grid_axes("faiss-ivf")["nprobe"]
    assert sweep["size"] == 100 and sweep["users"] == 10 and {r["backend"] for r in rows} == {"faiss-ivf"}
    recall = [r["ann_recall"] for r in rows]
    assert recall[0] < 0.5 < 0.95 < recall[-1] <= 1.0, "one probe finds a fraction, all of them nearly all"
    assert all(0 <= r["ndcg"] <= 1 and r["ann_p50_ms"] > 0 and r["p50_ms"] > r["ann_p50_ms"] for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, *args)
    assert code == 0 and "recall@100" in out and "ANN path recall@100" in out


def test_bad_sweep_and_scale_input_is_a_clear_error(capsys, small_dir: Path, tmp_path: Path) -> None:
    recall = ["sweep", "--over", "recall", "--users", "3", "--data-dir", str(small_dir)]
    code, _, err = run(capsys, *recall, "--backend", "annoy")
    assert code == 1 and "unknown backend 'annoy'" in err
    code, _, err = run(capsys, *recall, "--backend", "faiss-ivf", "--candidates", "0")
    assert code == 1 and "number of candidates must be a whole number from 1" in err
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"n_items": 10, "dim": 2, "rows": []}))
    code, _, err = run(capsys, "ann-scale", str(run_file), "--recall", "1.5")
    assert code == 1 and "--recall must be in (0, 1], got 1.5" in err
    code, _, err = run(capsys, "ann-scale", str(run_file), "--png", str(tmp_path / "x.jpg"))
    assert code == 1 and "--png needs a file name ending in .png" in err
