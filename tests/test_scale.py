"""`ann-scale`: ann-bench runs at several catalog sizes reduced to one point per backend and size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from engine.errors import DataFormatError
from lab.ann_scale import curves, read_runs, scale_points


def _row(backend: str, nprobe: int, recall: float, p50: float, build: float = 1.0) -> dict:
    return {
        "backend": backend,
        "params": {"nprobe": nprobe},
        "recall": recall,
        "p50_ms": p50,
        "build_seconds": build,
        "resident_bytes": 2**20,
        "disk_bytes": 2**20,
    }


def _run(path: Path, n_items: int, rows: list[dict]) -> Path:
    path.write_text(json.dumps({"n_items": n_items, "dim": 16, "rows": rows}))
    return path


def test_each_point_is_the_fastest_setting_that_reaches_the_recall(tmp_path: Path) -> None:
    small = _run(
        tmp_path / "a.json",
        1_000,
        [_row("ivf", 4, 0.90, 0.1), _row("ivf", 8, 0.96, 0.2), _row("ivf", 16, 0.99, 0.3)],
    )
    large = _run(
        tmp_path / "b.json", 10_000, [_row("ivf", 8, 0.80, 0.4), _row("ivf", 16, 0.93, 0.9, build=9.0)]
    )
    points = scale_points(read_runs([large, small]), 0.95)
    assert [(p.n_items, p.params["nprobe"], p.reached) for p in points] == [
        (1_000, 8, True),
        (10_000, 16, False),
    ]
    assert curves(points, "build_seconds") == {"ivf": [(1_000, 1.0), (10_000, 9.0)]}


def test_the_command_draws_log_log_curves_and_a_png(tmp_path: Path, capsys) -> None:
    runs = [
        _run(tmp_path / f"{n}.json", n, [_row("ivf", 8, 0.97 if n < 100_000 else 0.9, n / 1e5)])
        for n in (1_000, 10_000, 100_000)
    ]
    png = tmp_path / "scale.png"
    assert main(["ann-scale", *map(str, runs), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "search p50 (ms) (log scale)" in out and "100,000" in out and "catalog items (log scale)" in out
    assert "0.900 *" in out, "a size where no setting reached the target recall is marked"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ('{"rows": []}', "is not the output of `twostage ann-bench --json`"),
        ('{"n_items": 5, "dim": 2, "rows": [{"backend": "x"}]}', "lacks params, recall"),
    ],
)
def test_a_file_that_is_not_an_ann_bench_run_is_a_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message):
        read_runs([path])
    with pytest.raises(DataFormatError, match="does not exist; write it with `twostage ann-bench --json"):
        read_runs([tmp_path / "missing.json"])
