"""`twostage ann-scale`: how each backend's latency, build time and memory grow with the catalog,
from `ann-bench --json` runs at several sizes, as a table and log-log curves."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from cli.common import emit_json, stdout
from cli.png import check_png_path, panels, save_png
from engine.errors import InvalidRequestError
from lab.ann_scale import ScalePoint, curves, read_runs, scale_points
from lab.render.plot import line_plot

PANELS = (
    ("p50_ms", "search p50 (ms)"),
    ("build_seconds", "build time (s)"),
    ("resident_bytes", "resident memory (bytes)"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ann-scale", help="latency, build time and memory against the catalog size, log-log")
    p.add_argument(
        "runs", nargs="+", type=Path, help="`twostage ann-bench --json` outputs, one per catalog size"
    )
    p.add_argument(
        "--recall",
        type=float,
        default=0.95,
        help="target recall: each point is the fastest setting reaching it",
    )
    p.add_argument("--png", type=Path, default=None, help="also draw the curves to this PNG file")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_png_path(args.png)
    if not 0 < args.recall <= 1:
        raise InvalidRequestError(f"--recall must be in (0, 1], got {args.recall}")
    points = scale_points(read_runs(args.runs), args.recall)
    if args.png is not None:
        write_png(points, args.recall, args.png)
    if args.json:
        emit_json([asdict(p) for p in points])
        return 0
    table = Table(
        "backend",
        "items",
        "setting",
        "recall",
        "p50 ms",
        "build",
        "MiB (RSS/disk)",
        title=f"the fastest setting with recall >= {args.recall} at each size (* : none reached it)",
        title_justify="left",
    )
    for p in points:
        table.add_row(
            p.backend,
            f"{p.n_items:,}",
            " ".join(f"{k}={v}" for k, v in p.params.items()) or "-",
            f"{p.recall:.3f}" + ("" if p.reached else " *"),
            f"{p.p50_ms:.3f}",
            f"{p.build_seconds:,.0f}s",
            f"{p.resident_bytes / 2**20:,.0f} / {p.disk_bytes / 2**20:,.0f}",
        )
    stdout.print(table)
    for value, label in PANELS:
        stdout.print(
            line_plot(curves(points, value), x_label="catalog items", y_label=label, height=8, log_y=True)
        )
    if args.png is not None:
        stdout.print(f"curves written to {args.png}")
    return 0


def write_png(points: list[ScalePoint], target: float, path: Path) -> None:
    figure, axes = panels(len(PANELS), (14, 4.2))
    for axis, (value, label) in zip(axes, PANELS, strict=True):
        for backend, series in curves(points, value).items():
            line = axis.plot(*zip(*series, strict=True), "o-", label=backend)[0]
            ours = [p for p in points if p.backend == backend]
            missed = [(p.n_items, getattr(p, value)) for p in ours if not p.reached]
            if missed:  # the best setting stayed below the target recall: drawn hollow
                axis.plot(*zip(*missed, strict=True), "o", markersize=9, mfc="white", color=line.get_color())
        axis.set(xscale="log", yscale="log", xlabel="catalog items", ylabel=label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_title(f"Search p50 at recall@k >= {target} (hollow: not reached)")
    axes[1].set_title("Build time")
    axes[2].set_title("Resident memory growth")
    axes[0].legend()
    save_png(figure, path)
