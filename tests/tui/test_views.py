"""The app's views beyond the two lists, driven headless: the wide layout (before | after
side by side), the funnel, the comparison of two backends and the recall sweep."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input, Select, Static, TabbedContent

from engine.engine import Engine
from engine.funnel import funnel
from tests.tui.pilot import SIZE, WIDE, notes, opened, plain, run, wait_until
from tui.compare_panel import ComparePanel
from tui.drive import SETTLE_S, drive
from tui.explain_panel import ExplainPanel
from tui.funnel_panel import FunnelPanel
from tui.stage_one_table import StageOneTable
from tui.stage_two_table import StageTwoTable
from tui.sweep_panel import SweepPanel


def test_wide_terminal_shows_before_and_after_side_by_side(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, WIDE) as (_app, pilot, screen):
            before, after = screen.query_one("#before", StageOneTable), screen.query_one(StageTwoTable)
            assert screen.wide and before.display and after.display
            assert before.region.y == after.region.y and before.region.right <= after.region.x
            assert before.row_count == 500 and after.row_count == 10
            tabs = screen.query_one(TabbedContent)
            for pane in ("candidates", "why", "funnel"):  # shown beside the lists
                assert tabs.get_tab(pane).display is False
            # The third re-ranked item: highlighted in the stage-1 list too, with its move.
            after.focus()
            await pilot.press("down", "down")
            third = screen.response.items[2]
            await wait_until(pilot, lambda: before.selected_item() == third.item_id)
            assert before.cursor_row == third.rank_before - 1
            subtitle = str(screen.query_one("#lists").border_subtitle)
            assert f"stage 1 #{third.rank_before} -> #3" in subtitle
            # And the other way: a candidate that made the top K moves the re-ranked cursor.
            first = screen.response.items[0]
            await pilot.press("2")
            assert before.has_focus and tabs.active == "ranked"
            await pilot.press("end")
            assert before.cursor_row == 499 and before.scroll_y > 0
            last_line = before.scrollable_content_region.height - 1  # under the header, above a scrollbar
            assert before.cursor_row - round(before.scroll_y) + 1 == last_line, "the cursor stays in view"
            assert "".join(s.text for s in before.render_line(last_line)).strip().startswith("500 ")
            await pilot.press("home", "down")
            assert before.cursor_row == 1 and before.scroll_y == 0
            await pilot.click("#before", offset=(5, 4))  # border, header, then rows 0, 1, 2
            assert before.cursor_row == 2
            before.cursor_row = first.rank_before - 1
            await wait_until(pilot, lambda: after.selected_item() == first.item_id)
            # A candidate the model left out says so.
            top = {item.item_id for item in screen.response.items}
            outside = next(
                r for r, i in enumerate(screen.response.candidates.candidates.item_ids) if i not in top
            )
            before.cursor_row = outside
            await wait_until(
                pilot, lambda: "not in the top 10" in str(screen.query_one("#lists").border_subtitle)
            )
            # The explanation beside the lists follows the selection.
            beside = screen.query_one("#why-beside ExplainPanel", ExplainPanel)
            chosen = int(screen.response.candidates.candidates.item_ids[outside])
            await wait_until(
                pilot, lambda: beside.why is not None and beside.why.explanation.item_id == chosen
            )
            # The stage-1 list's keys act on its selected item.
            assert before.has_focus
            await pilot.press("c")
            await wait_until(pilot, lambda: len(screen.engine.live) == 1)
            assert screen.engine.live.user_state(42).clicks.tolist() == [chosen]
            await pilot.resize_terminal(100, 34)
            await wait_until(pilot, lambda: not screen.wide)
            assert not before.display and tabs.get_tab("funnel").display is not False

    run(scenario)


def test_recall_sweep_of_the_chosen_backend_draws_quality_against_recall(
    engine: Engine, small_dir: Path
) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (app, pilot, screen):
            screen.query_one("#backend", Select).value = "exact"
            await wait_until(pilot, lambda: screen.response.candidates.backend == "exact")
            told = notes(app)
            await pilot.press("S")
            assert any("exact search has recall 1" in note for note in told)
            screen.query_one("#backend", Select).value = "faiss-ivf"
            await wait_until(pilot, lambda: screen.response.candidates.backend == "faiss-ivf")
            await pilot.press("S")
            panel = screen.query_one(SweepPanel)
            await wait_until(pilot, lambda: "ANN path recall@" in plain(panel), timeout=120)
            text = plain(panel)
            assert "faiss-ivf" in text and "recall 0." in text and "ground truth" in text

    run(scenario)


def test_funnel_tab_shows_the_requests_steps(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (_app, pilot, screen):
            await pilot.press("4")
            assert screen.query_one(TabbedContent).active == "funnel"
            text = plain(screen.query_one("#funnel-tab", FunnelPanel))
            steps = {step.step: step for step in funnel(screen.response)}
            for name in ("ann", "distinct", "not seen", "candidates", "rules", "top K"):
                assert name in text
            assert f"{steps['distinct'].items:,}" in text and f"{steps['rules'].detail}" in text
            await pilot.press("3")
            assert screen.query_one(TabbedContent).active == "why"
            why = screen.query_one("#explain", ExplainPanel)
            await wait_until(pilot, lambda: why.why is not None)
            assert why.why.explanation.item_id == screen.response.items[0].item_id

    run(scenario)


def test_compare_two_backends_for_the_shown_user(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (app, pilot, screen):
            await pilot.press("5")
            panel = screen.query_one(ComparePanel)
            panel.query_one("#compare-backend", Select).value = "exact"
            screen.query_one("#k", Input).value = "5"  # typed, not sent: the shown request is compared
            await pilot.press("x")
            await wait_until(pilot, lambda: panel.comparison is not None)
            c = panel.comparison
            assert c.k == 10
            assert c.a.label.startswith("faiss-ivf") and c.b.label == "exact" and c.b.recall == 1.0
            assert c.a.candidates == c.b.candidates == 500 and 0 < c.shared_candidates <= 500
            text = plain(panel.query_one("#compare-result", Static))
            assert "shared:" in text and "exact" in text
            # Two settings of one backend; a malformed one is a notification.
            told = notes(app)
            panel.query_one("#compare-backend", Select).value = "faiss-ivf"
            panel.query_one("#compare-param", Input).value = "nprobe"
            await pilot.press("x")
            assert any("name=value" in note for note in told)
            panel.query_one("#compare-param", Input).value = "nprobe=1"
            await pilot.press("x")
            await wait_until(pilot, lambda: "nprobe=1" in panel.comparison.b.label)
            assert panel.comparison.shared_ann < panel.comparison.ann_k

    run(scenario)


def test_the_fidelity_driver_records_the_engines_idle_spells(engine: Engine) -> None:
    """`twostage fidelity` paces the engine alone by these: each request after the first
    waited at least the person's pause after the previous answer."""
    driven = asyncio.run(drive(engine, [3, 5, 7]))
    assert [request.user_id for request in driven.requests] == [3, 5, 7]
    assert len(driven.shown) == len(driven.idle_s) == 3
    assert all(shown["total"] > 0 for shown in driven.shown)
    assert min(driven.idle_s[1:]) >= SETTLE_S
