"""`twostage recommend`: both stages for one user, with rank movement, rules and timings."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from rich.table import Table
from rich.text import Text

from cli import common
from engine.engine import Engine
from engine.errors import InvalidRequestError
from engine.explain import Explanation
from engine.requests import Context, RecommendRequest, RecommendResponse
from engine.wire import payload
from lab.render.marks import ranked_cells


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="recommend K items for a user (both stages)")
    common.add_common(p)
    common.add_request_options(p)
    p.add_argument("--k", type=int, default=10, help="items to return (default 10)")
    p.add_argument("--category", default=None, help="session context: the category being browsed (name)")
    p.add_argument("--hour", type=float, default=None, help="session context: hour of day, 0-24")
    p.add_argument("--explain", action="store_true", help="explain the top item and why it beats the next")
    p.set_defaults(run=run)


def category_code(engine: Engine, name: str | None) -> int | None:
    if name is None:
        return None
    names = [n.lower() for n in engine.catalog.category_names]
    if name.lower() not in names:
        raise InvalidRequestError(
            f"unknown category '{name}'; choose one of: {', '.join(engine.catalog.category_names)}"
        )
    return names.index(name.lower())


def run(args: argparse.Namespace) -> int:
    engine = Engine.open(common.layout_of(args).root, common.config_of(args))
    request = RecommendRequest(
        **common.request_fields(args),
        k=args.k,
        context=Context(category=category_code(engine, args.category), hour=args.hour),
    )
    engine.warm_up(request.backend)
    response = engine.recommend(request)
    explanations = []
    if args.explain and response.items and response.model_scored:
        alone, pair = engine.explain_in_list(response, response.items[0].item_id)
        explanations = [alone] if pair is None else [alone, pair]
    if args.json:
        common.emit_json(to_json(response, explanations))
    else:
        show(engine, response, explanations)
    return 0


def to_json(response: RecommendResponse, explanations: list[Explanation]) -> dict[str, Any]:
    """The API's shape with its plain-data parts (engine.wire), and the explanations."""
    body = payload(response, ("details", "timings", "rules", "funnel"))
    return {**body, "explanations": [asdict(e) for e in explanations]}


def show(engine: Engine, response: RecommendResponse, explanations: list[Explanation]) -> None:
    result = response.candidates
    common.stdout.print(
        f"[bold]user {response.user_id}[/] · top {len(response.items)} of "
        f"{len(result.candidates)} candidates · {result.backend}"
    )
    for line in (*response.notes, *response.degraded):
        common.stdout.print(Text.assemble(("note: ", "yellow"), line))
    table = Table("#", "move (was)", "item", "category", "score", "found by")
    table.columns[1].no_wrap = True
    table.columns[2].no_wrap = True
    for item in response.items:
        table.add_row(*ranked_cells(item), ", ".join(item.found_by))
    common.stdout.print(table)
    for item in response.items:
        for rule in item.rules:
            common.stdout.print(f"  #{item.rank_after} {item.title}: {rule}")
    dropped = [e for e in response.effects if e.action == "dropped"]
    moved = [e for e in response.effects if e.action != "dropped"]
    common.stdout.print(
        f"rules: {len(dropped)} dropped, {len(moved)} moved ({', '.join(engine.config.rules.order)})"
    )
    verdicts = Text("timings: ")
    for v in response.verdicts:
        verdicts.append(f"{v.stage} {v.ms:.2f}/{v.budget_ms:g} ms ", style="green" if v.ok else "bold red")
    common.stdout.print(verdicts)
    if result.recall is not None:
        common.stdout.print(f"ANN path recall@{result.ann_k} vs exact search: {result.recall:.3f}")
    for explanation in explanations:
        show_explanation(engine, explanation)


def show_explanation(engine: Engine, e: Explanation) -> None:
    title = engine.catalog.titles[e.item_id]
    if e.other_id is None:
        common.stdout.print(
            f"\n[bold]why {title}[/] scores {e.score:.3f}, the candidates' mean {e.baseline:.3f}:"
        )
    else:
        other = engine.catalog.titles[e.other_id]
        common.stdout.print(
            f"\n[bold]why {title}[/] ({e.score:.3f}) ranks above {other} ({e.other_score:.3f}):"
        )
    groups = ", ".join(f"{group} {total:+.3f}" for group, total in e.groups.items())
    found = ", ".join(f"{path} #{rank}" for path, rank in e.found_by.items()) or "no path (back-fill)"
    common.stdout.print(f"by feature group: {groups}; found by {found}")
    table = Table("feature", "group", "value" if e.other_id is None else "values", "effect", "meaning")
    for c in e.contributions:
        value = f"{c.value:.3g}" if c.other_value is None else f"{c.value:.3g} vs {c.other_value:.3g}"
        table.add_row(
            c.feature,
            c.group,
            value,
            Text(f"{c.contribution:+.3f}", style="green" if c.contribution > 0 else "red"),
            c.description,
        )
    common.stdout.print(table)
