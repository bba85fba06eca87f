"""`twostage import PATH`: bring your own data (generic CSV or MovieLens), then build on it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cli.common import (
    add_common,
    config_of,
    emit_json,
    layout_of,
    model_summary,
    progress_bars,
    stdout,
)
from engine.ann import available
from engine.progress import StepClock
from lab.build import build
from sample_data.importer import READERS, ImportOptions, import_dataset
from sample_data.timestamps import UNITS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import a data set (docs/data-format.md) and build indexes and model")
    add_common(p)
    p.add_argument("path", type=Path, help="the folder with the data set's files")
    p.add_argument(
        "--format",
        choices=list(READERS),
        default="generic",
        help="file layout: generic (CSV or Parquet) or movielens (any release; default generic)",
    )
    p.add_argument(
        "--dim",
        type=int,
        help="fix the learned embeddings' dimension (default: the build chooses it from "
        "embeddings.factors on the data's own validation holdout)",
    )
    p.add_argument(
        "--time-unit",
        choices=list(UNITS),
        help="the unit of numeric timestamps (default: seconds; values that look like ms or us are refused)",
    )
    p.add_argument(
        "--positive-rating",
        type=float,
        default=ImportOptions.positive_rating,
        help="a rating or weight at least this is a positive (default 4, for 1-5 stars)",
    )
    p.add_argument(
        "--strong-rating",
        type=float,
        default=ImportOptions.strong_rating,
        help="a rating or weight at least this is a strong positive, like a purchase (default 5)",
    )
    p.add_argument(
        "--prefer",
        choices=["label", "score"],
        help="which decides when interactions have both a label and a rating or weight",
    )
    p.add_argument(
        "--missing-items",
        choices=["refuse", "add"],
        default="refuse",
        help="items in the log but not in items.csv: refuse (default) or add them with missing attributes",
    )
    p.add_argument("--force", action="store_true", help="replace a data set already in --data-dir")
    p.add_argument("--no-build", action="store_true", help="only convert; run `twostage build` later")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    layout = layout_of(args)
    started = time.perf_counter()
    options = ImportOptions(
        time_unit=args.time_unit,
        positive_rating=args.positive_rating,
        strong_rating=args.strong_rating,
        prefer=args.prefer,
        missing_items=args.missing_items,
    )
    with progress_bars() as bars:
        clock = StepClock(bars)
        manifest = import_dataset(
            args.path,
            args.format,
            layout.dataset,
            dim=args.dim,
            force=args.force,
            options=options,
            progress=clock,
        )
        report = None
        if not args.no_build:
            # not `force`: that would generate the synthetic data set over the import; the
            # new data's fingerprint makes every artifact built on the old data stale anyway
            report = build(layout, None, available(), config=config_of(args), progress=clock)
    summary = {
        "data_dir": str(layout.root),
        "items": manifest["n_items"],
        "users": manifest["n_users"],
        "interactions": manifest["n_interactions"],
        "categories": len(manifest["category_names"]),
        "attributes": manifest["attributes"],
        "items_added_from_log": manifest["source"]["items_added_from_log"],
        "seconds": round(time.perf_counter() - started, 2),
        "step_seconds": clock.seconds(),
        "model": None if report is None else report.model,
    }
    if args.json:
        emit_json(summary)
        return 0
    stdout.print(
        f"imported {summary['items']:,} items, {summary['users']:,} users, {summary['interactions']:,} "
        f"interactions, {summary['categories']} categories into {layout.root} ({summary['seconds']} s)"
    )
    if summary["items_added_from_log"]:
        stdout.print(
            f"[yellow]warning:[/] {summary['items_added_from_log']:,} items named in the log were not in the "
            "items file; added with missing attributes (--missing-items add)"
        )
    stdout.print(f"attributes present: {', '.join(manifest['attributes']) or 'none'} (the rest are left out)")
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in summary["step_seconds"].items())
    stdout.print(f"steps: {steps}")
    if report is not None:
        stdout.print(model_summary(report.model))
    return 0
