"""`twostage compare`: one user's answer from two backends, or two search settings of one,
side by side (overlap of the candidate sets, each one's recall, how the top K differs)."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from cli import common
from engine.engine import Engine
from engine.requests import RecommendRequest
from lab.compare import compare
from lab.render.compare import comparison_view


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="one user's answer from two backends or two search settings")
    common.add_common(p)
    common.add_request_options(p)
    p.add_argument("--k", type=int, default=10, help="items to return (default 10)")
    p.add_argument("--with", dest="other", default=None, help="the second side's backend (default: the same)")
    p.add_argument(
        "--with-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="the second side's search parameter",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    engine = Engine.open(common.layout_of(args).root, common.config_of(args))
    first = RecommendRequest(**common.request_fields(args), k=args.k)
    second = replace(
        first,
        backend=args.other or first.backend,
        search_params=common.key_values(args.with_param, "--with-param"),
    )
    for request in (first, second):
        engine.warm_up(request.backend)  # both sides measured warm
    result = compare(engine.recommend(first), engine.recommend(second))
    if args.json:
        common.emit_json(asdict(result))
        return 0
    common.stdout.print(comparison_view(result, engine.catalog.titles))
    return 0
