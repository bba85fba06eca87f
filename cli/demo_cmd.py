"""`twostage demo`: open the Textual app (building the default data set on a first run)."""

from __future__ import annotations

import argparse

from cli.common import add_common, config_of, layout_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the interactive app: both stages, explanations, live timings")
    add_common(p, json_output=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.app import TwostageApp  # imported here so the other commands start without Textual

    TwostageApp(layout_of(args).root, config_of(args)).run()
    return 0
