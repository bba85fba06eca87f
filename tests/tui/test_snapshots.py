"""Snapshots pin the look at 80x24 (tabs) and 160x48 (before | after side by side). Timings
change from run to run, so the answer shown is given fixed timings before the picture is
taken. Update after a deliberate change with `pytest tests/tui --snapshot-update` and look
at the SVGs."""

from __future__ import annotations

from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import pytest

from engine.engine import Engine
from engine.latency import STAGES, SessionStats
from engine.requests import StageVerdict
from tests.tui.pilot import finish_workers, settle
from tui.app import TwostageApp
from tui.timings_panel import TimingsPanel

RENDERER = "8.2."  # the Textual the pictures were taken with; the app itself runs on any 8.x
pytestmark = pytest.mark.skipif(
    not version("textual").startswith(RENDERER),
    reason=f"snapshots are pinned to Textual {RENDERER}x (installed: {version('textual')}); "
    "the pilot tests in test_app.py check the app on this version",
)

FIXED_MS = {"retrieval": 1.2, "features": 0.8, "model": 0.5, "buffer": 0.3, "total": 2.8}
BUDGET_MS = {"retrieval": 10, "features": 20, "model": 30, "buffer": 40, "total": 100}


async def freeze_timings(pilot) -> None:
    await settle(pilot)
    screen = pilot.app.screen
    shown = screen.response
    verdicts = tuple(StageVerdict(stage, FIXED_MS[stage], BUDGET_MS[stage]) for stage in STAGES)
    stage1 = replace(shown.candidates, timings_ns=dict.fromkeys(shown.candidates.timings_ns, 100_000))
    timings = {**dict.fromkeys(shown.timings_ms, 0.25), **FIXED_MS}
    session = SessionStats()
    for step in range(12):
        session.add({stage: ms * (1 + 0.1 * (step % 4)) for stage, ms in FIXED_MS.items()})
    screen.query_one(TimingsPanel).session = session
    screen.response = replace(shown, verdicts=verdicts, timings_ms=timings, candidates=stage1)
    for _ in range(3):  # the lists redraw and the explanation of the selected item follows
        await pilot.pause()
        await finish_workers(pilot)
    await pilot.pause()


def test_main_screen(snap_compare, engine: Engine, small_dir: Path) -> None:
    app = TwostageApp(small_dir, engine=engine)
    assert snap_compare(app, terminal_size=(80, 24), run_before=freeze_timings)


def test_wide_main_screen(snap_compare, engine: Engine, small_dir: Path) -> None:
    app = TwostageApp(small_dir, engine=engine)
    assert snap_compare(app, terminal_size=(160, 48), run_before=freeze_timings)


def test_funnel_tab(snap_compare, engine: Engine, small_dir: Path) -> None:
    app = TwostageApp(small_dir, engine=engine)

    async def open_funnel(pilot) -> None:
        await freeze_timings(pilot)
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_funnel)


def test_help_screen(snap_compare, engine: Engine, small_dir: Path) -> None:
    app = TwostageApp(small_dir, engine=engine)

    async def open_help(pilot) -> None:
        await freeze_timings(pilot)  # the main screen shows through the modal's backdrop
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_help)
