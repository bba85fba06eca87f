"""`twostage candidates`: one user's stage-1 candidate set with provenance and timings."""

from __future__ import annotations

import argparse
import math
from typing import Any

from rich.table import Table

from cli import common
from engine.engine import Engine
from engine.requests import CandidateRequest, CandidateResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("candidates", help="show one user's candidate set (stage 1)")
    common.add_common(p)
    common.add_request_options(p)
    p.add_argument("--show", type=int, default=20, help="rows to print (all are in --json)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = Engine.open(common.layout_of(args).root, common.config_of(args))
    request = CandidateRequest(**common.request_fields(args))
    result = engine.candidates(request)
    if args.json:
        common.emit_json(to_json(engine, result))
    else:
        show(engine, result, args.show)
    return 0


def rows(engine: Engine, result: CandidateResult, limit: int | None = None) -> list[dict[str, Any]]:
    cands, catalog = result.candidates, engine.catalog
    out = []
    for row in range(len(cands) if limit is None else min(limit, len(cands))):
        item = int(cands.item_ids[row])
        paths = {
            name: {"rank": int(cands.path_ranks[row, p]) + 1, "score": float(cands.path_scores[row, p])}
            for p, name in enumerate(cands.path_names)
            if cands.path_ranks[row, p] >= 0
        }
        similarity = float(cands.similarity[row])
        out.append(
            {
                "rank": row + 1,
                "item_id": item,
                "title": catalog.titles[item],
                "category": catalog.category_names[int(catalog.category[item])],
                "similarity": None if math.isnan(similarity) else round(similarity, 6),
                "paths": paths,
            }
        )
    return out


def to_json(engine: Engine, result: CandidateResult) -> dict[str, Any]:
    return {
        "user_id": result.user_id,
        "known_user": result.known_user,
        "cold_start": result.cold_start,
        "backend": result.backend,
        "search_params": result.search_params,
        "n_candidates": len(result.candidates),
        "ann_recall": result.recall,
        "ann_k": result.ann_k,
        "path_counts": result.candidates.path_counts(),
        "timings_ms": {k: round(v, 4) for k, v in result.timings_ms().items()},
        "notes": list(result.notes),
        "candidates": rows(engine, result),
    }


def show(engine: Engine, result: CandidateResult, limit: int) -> None:
    params = " ".join(f"{k}={v}" for k, v in result.search_params.items())
    common.stdout.print(
        f"[bold]user {result.user_id}[/] · backend {result.backend} {params} · "
        f"{len(result.candidates)} candidates"
    )
    for note in result.notes:
        common.stdout.print(f"[yellow]note:[/] {note}")
    table = Table("#", "item", "category", "found by: path rank", "sim")
    table.columns[1].overflow = "ellipsis"
    table.columns[1].no_wrap = True
    table.columns[3].no_wrap = True
    for row in rows(engine, result, limit):
        found = ", ".join(f"{name} {p['rank']}" for name, p in row["paths"].items())
        sim = "-" if row["similarity"] is None else f"{row['similarity']:.3f}"
        table.add_row(str(row["rank"]), f"{row['title']}", row["category"], found, sim)
    common.stdout.print(table)
    counts = ", ".join(f"{name} {n}" for name, n in result.candidates.path_counts().items())
    common.stdout.print(f"found by path: {counts}")
    timings = ", ".join(f"{stage} {ms:.2f}" for stage, ms in result.timings_ms().items())
    common.stdout.print(f"timings (ms): {timings}")
    recall = "n/a (no query vector)" if result.recall is None else f"{result.recall:.3f}"
    common.stdout.print(f"ANN path recall@{result.ann_k} vs exact search: {recall}")
