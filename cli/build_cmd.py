"""`twostage build`: generate the data set and build the trending table and indexes."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from rich.table import Table

from cli.common import (
    add_common,
    config_of,
    emit_json,
    layout_of,
    mib,
    model_summary,
    progress_bars,
    stdout,
)
from engine.ann import available, names
from engine.errors import InvalidRequestError
from lab.build import build
from sample_data.synthetic import EMBEDDINGS, SyntheticParams

SIZE_FLAGS = {
    "items": "n_items",
    "dim": "dim",
    "users": "n_users",
    "categories": "n_categories",
    "impressions": "impressions_per_user",
    "seed": "seed",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="generate the synthetic data set and build indexes")
    add_common(p)
    defaults = SyntheticParams()
    for flag, field in SIZE_FLAGS.items():
        p.add_argument(
            f"--{flag}",
            type=int,
            default=None,
            help=f"synthetic {field} (default {getattr(defaults, field)})",
        )
    p.add_argument(
        "--backends",
        default="all",
        help=f"comma-separated backends to build, or 'all' available (known: {', '.join(names())})",
    )
    p.add_argument(
        "--embeddings",
        choices=EMBEDDINGS,
        default=None,
        help="synthetic data: stage 1 searches content vectors, a noisy view of the true ones "
        "(default; a user is the mean of their likes), vectors learned from the clicks, or the "
        "generator's own vectors (an upper bound; only the geometry matters to ANN benchmarks)",
    )
    p.add_argument("--force", action="store_true", help="regenerate and rebuild everything")
    p.add_argument("--retrain", action="store_true", help="retrain the re-ranker even if one is up to date")
    p.set_defaults(run=run)


def backend_list(text: str) -> list[str]:
    if text == "all":
        return available()
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    if not chosen:
        raise InvalidRequestError("--backends needs at least one backend name, or 'all'")
    return chosen


def run(args: argparse.Namespace) -> int:
    layout = layout_of(args)
    given = {
        field: getattr(args, flag) for flag, field in SIZE_FLAGS.items() if getattr(args, flag) is not None
    }
    if args.embeddings is not None:
        given["embeddings"] = args.embeddings
    params = SyntheticParams(**given) if given else None
    started = time.perf_counter()
    with progress_bars() as progress:
        report = build(
            layout,
            params,
            backend_list(args.backends),
            config=config_of(args),
            force=args.force,
            retrain=args.retrain,
            progress=progress,
        )
    seconds = time.perf_counter() - started
    if args.json:
        emit_json({"data_dir": str(layout.root), "seconds": round(seconds, 3), **asdict(report)})
        return 0
    table = Table(title=f"Indexes in {layout.root}", title_justify="left")
    for column in ("backend", "status", "build time", "memory"):
        table.add_column(column, justify="left" if column in ("backend", "status") else "right")
    for name, info in report.indexes.items():
        table.add_row(name, info["status"], f"{info['build_seconds']:.1f} s", mib(info["memory_bytes"]))
    stdout.print(
        f"data set: {report.dataset}; trending: {report.trending}; history neighbours: "
        f"{report.history_neighbours}; total {seconds:.1f} s"
    )
    stdout.print(table)
    stdout.print(model_summary(report.model))
    return 0
