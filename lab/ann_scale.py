"""How an ANN backend's cost grows with the catalog: `ann-bench --json` runs at several catalog
sizes, reduced to one row per backend and size (the fastest search setting that reaches the
target recall), for a table and log-log curves of latency, build time and memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DataFormatError

ROW_KEYS = ("backend", "params", "recall", "p50_ms", "build_seconds", "resident_bytes", "disk_bytes")


@dataclass(frozen=True)
class ScalePoint:
    """One backend at one catalog size, at the fastest setting with recall >= the target (or,
    when none reaches it, the setting with the best recall: `reached` False)."""

    backend: str
    n_items: int
    dim: int
    params: dict[str, int]
    recall: float
    reached: bool
    p50_ms: float
    build_seconds: float
    resident_bytes: int
    disk_bytes: int


def read_runs(paths: list[Path]) -> list[dict[str, Any]]:
    """ann-bench JSON files, checked enough that a wrong file is a clear error."""
    runs = []
    for path in paths:
        try:
            run = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataFormatError(
                f"{path} does not exist; write it with `twostage ann-bench --json > {path}`"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(
                f"{path} is not JSON ({exc}); pass the output of `ann-bench --json`"
            ) from None
        rows = run.get("rows") if isinstance(run, dict) else None
        if not isinstance(rows, list) or not rows or "n_items" not in run:
            raise DataFormatError(
                f"{path} is not the output of `twostage ann-bench --json` (no n_items and rows)"
            )
        missing = [key for key in ROW_KEYS if key not in rows[0]]
        if missing:
            raise DataFormatError(
                f"{path} lacks {', '.join(missing)} (an older ann-bench wrote it); run `ann-bench` again"
            )
        runs.append(run)
    return runs


def scale_points(runs: list[dict[str, Any]], target_recall: float) -> list[ScalePoint]:
    points = []
    for run in runs:
        by_backend: dict[str, list[dict[str, Any]]] = {}
        for row in run["rows"]:
            by_backend.setdefault(row["backend"], []).append(row)
        for backend, rows in by_backend.items():
            good = [row for row in rows if row["recall"] >= target_recall]
            chosen = min(good, key=lambda r: r["p50_ms"]) if good else max(rows, key=lambda r: r["recall"])
            points.append(
                ScalePoint(
                    backend=backend,
                    n_items=int(run["n_items"]),
                    dim=int(run["dim"]),
                    params=chosen["params"],
                    recall=float(chosen["recall"]),
                    reached=bool(good),
                    p50_ms=float(chosen["p50_ms"]),
                    build_seconds=float(chosen["build_seconds"]),
                    resident_bytes=int(chosen["resident_bytes"]),
                    disk_bytes=int(chosen["disk_bytes"]),
                )
            )
    return sorted(points, key=lambda p: (p.backend, p.n_items))


def curves(points: list[ScalePoint], value: str) -> dict[str, list[tuple[float, float]]]:
    """`value` (a ScalePoint field) against the catalog size, one curve per backend."""
    series: dict[str, list[tuple[float, float]]] = {}
    for point in points:
        series.setdefault(point.backend, []).append((point.n_items, float(getattr(point, value))))
    return series
