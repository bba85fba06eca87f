"""The app driven headless with Textual's pilot: the main flows a person would try."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from textual.widgets import Input, Select, TabbedContent

from engine.config import BudgetConfig, load_config
from engine.data import favourite_categories
from engine.engine import Engine
from sample_data.synthetic import SyntheticParams
from tests.conftest import SMALL_MODEL
from tests.tui.pilot import SIZE, main_screen, notes, opened, plain, run, settle, wait_until
from tui.app import MainScreen, TwostageApp
from tui.build_screen import BuildScreen
from tui.explain_panel import ExplainPanel
from tui.help_screen import HelpScreen
from tui.stage_one_table import StageOneTable
from tui.stage_two_table import StageTwoTable
from tui.sweep_panel import SweepPanel


def test_opens_and_shows_both_stages(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (_app, pilot, screen):
            assert screen.query_one(StageTwoTable).row_count == 10
            # The answer brings its top item's explanation (one screen update, not two).
            assert screen.why is not None and screen.why.response is screen.response
            assert screen.why.explanation.item_id == screen.response.items[0].item_id
            stage1 = screen.query_one("#stage1", StageOneTable)
            assert stage1.row_count == 0, "a list in a hidden tab is filled when it comes into view"
            await pilot.press("2")
            await wait_until(pilot, lambda: stage1.row_count == 500)
            assert stage1.has_focus, "its keys work at once"
            assert screen.response.user_id == 42 and screen.response.candidates.recall is not None
            dropped = next(e for e in screen.response.effects if e.rule == "out_of_stock")
            assert stage1.cell(stage1.row_of(dropped.item_id), "rules") == "out_of_stock: dropped"
            assert len(screen.session) == 1
            # Narrow: tabs; the stage-1 list beside the re-ranked one is hidden.
            assert not screen.wide and not screen.query_one("#before").display
            assert screen.query_one(TabbedContent).active == "candidates"
            await pilot.press("r")  # the list in view follows the next answer
            await wait_until(
                pilot,
                lambda: (
                    stage1.cell(0, "item")
                    == screen.engine.catalog.titles[int(screen.response.candidates.candidates.item_ids[0])]
                ),
            )

    run(scenario)


def test_the_whole_top_10_is_visible_at_80x24(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=engine)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = main_screen(app).query_one(StageTwoTable)
            assert table.row_count == 10
            assert table.max_scroll_y == 0 and table.size.height >= 11, (
                "header and ten rows without scrolling"
            )
            # The candidates are wider than 80 columns: the list scrolls sideways to the rules.
            await pilot.press("2")
            stage1 = main_screen(app).query_one("#stage1", StageOneTable)
            await wait_until(pilot, lambda: stage1.row_count > 0)
            assert stage1.virtual_size.width > stage1.size.width and stage1.scroll_x == 0
            await pilot.press(*["right"] * 60)
            assert stage1.scroll_x == stage1.max_scroll_x > 0
            header = "".join(segment.text for segment in stage1.render_line(0))
            assert "rules" in header and "item" not in header

    run(scenario)


def test_random_user_backend_and_candidate_count(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (_app, pilot, screen):
            await pilot.press("r")
            await wait_until(
                pilot, lambda: screen.response.user_id == int(screen.query_one("#user", Input).value)
            )
            screen.query_one("#param", Input).value = "nprobe=4"  # the old backend's setting
            screen.query_one("#backend", Select).value = "faiss-hnsw"
            await wait_until(pilot, lambda: screen.response.candidates.backend == "faiss-hnsw")
            assert screen.query_one("#param", Input).placeholder.startswith("efSearch=")
            assert screen.query_one("#param", Input).value == "", "the request panel cleared it"
            screen.query_one("#candidates", Select).value = 100
            await pilot.press("2")
            await wait_until(pilot, lambda: screen.query_one("#stage1", StageOneTable).row_count == 100)
            assert len(screen.session) >= 4

    run(scenario)


def test_explain_then_click_changes_the_ranking(small_dir: Path, small_config: Path) -> None:
    engine = Engine.open(small_dir, load_config(small_config))  # its own: clicks are recorded
    recorded_on = []
    record_event = engine.record_event

    def record_and_note_thread(*args: object) -> None:
        recorded_on.append(threading.current_thread().name)
        record_event(*args)

    engine.record_event = record_and_note_thread

    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (_app, pilot, screen):
            await pilot.press("e")
            assert screen.query_one(TabbedContent).active == "why"
            panel = screen.query_one("#explain", ExplainPanel)
            await wait_until(pilot, lambda: panel.why is not None and panel.why.pair is not None)
            selected = screen.query_one(StageTwoTable).selected_item()
            explanation = panel.why.explanation
            assert explanation.item_id == selected and len(explanation.contributions) == 8
            assert explanation.baseline == screen.response.scores.mean()  # against the request's mean
            assert panel.why.pair.other_id == screen.response.items[1].item_id
            text = plain(panel)
            assert "vs the candidates' mean" in text and "by group: item" in text and "found by" in text
            await pilot.press("1")
            screen.query_one(StageTwoTable).focus()
            before = [item.item_id for item in screen.response.items]
            screen.query_one("#user", Input).value = "7"  # typed, not sent: the shown user is ranked again
            await pilot.press("c")
            await wait_until(pilot, lambda: [item.item_id for item in screen.response.items] != before)
            assert len(engine.live) == 1 and screen.response.user_id == 42
            after = [item.item_id for item in screen.response.items]
            assert after != before and before[0] not in screen.response.candidates.candidates.item_ids
            await pilot.press("b")
            await wait_until(pilot, lambda: len(engine.live) == 2)
            assert engine.live.user_state(42).counts[1] == 1  # a purchase
            assert all(name.startswith("engine") for name in recorded_on), "not on the UI thread"

    run(scenario)


def test_find_a_user_by_their_favourite_category(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (app, pilot, screen):
            told = notes(app)
            search = screen.query_one("#search", Input)
            search.value = "no such category"
            search.focus()
            await pilot.press("enter")
            assert any("no category named 'no such category'; try one of:" in note for note in told)
            favourites = favourite_categories(engine.dataset)
            code = int(favourites[favourites >= 0][0])
            shown = screen.response
            search.value = engine.catalog.category_names[code].upper()  # any case
            await pilot.press("enter")
            await wait_until(pilot, lambda: screen.response is not shown)
            assert favourites[screen.response.user_id] == code
            assert screen.query_one("#user", Input).value == str(screen.response.user_id)

    run(scenario)


def test_invalid_input_is_a_notification_not_a_crash(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=engine)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            recorded = notes(app)
            screen = main_screen(app)
            screen.query_one("#user", Input).value = "forty-two"
            screen.query_one("#user", Input).focus()
            await pilot.press("enter")
            await settle(pilot)
            assert any("user id must be a whole number" in note for note in recorded)
            screen.query_one("#user", Input).value = "7"
            screen.query_one("#k", Input).value = "0"
            await pilot.press("enter")
            await settle(pilot)
            assert any("k must be a whole number from 1 to 1000" in note for note in recorded)
            assert app.is_running and screen.response.user_id == 42

    run(scenario)


def test_help_screen_opens_and_closes(engine: Engine, small_dir: Path) -> None:
    tight = copy.copy(engine)  # the same artifacts under another budget
    tight.config = engine.config.replace(budget=BudgetConfig(model_ms=25.0, buffer_ms=45.0))

    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=tight)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            text = app.screen.text
            assert f"over {len(engine.features)} features" in text, "the engine's own feature count"
            assert "10 ms retrieval, 20 features,\n25 model, 45 buffer, 100 total)" in text, "its own budget"
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)

    run(scenario)


def test_first_run_builds_with_progress(tmp_path: Path) -> None:
    config_path = tmp_path / "small.toml"
    config_path.write_text(SMALL_MODEL)
    params = SyntheticParams(n_items=1_500, dim=8, n_users=150, n_categories=6, items_per_topic=100, seed=3)
    pushed: list[type] = []

    async def scenario() -> None:
        app = TwostageApp(tmp_path / "data", load_config(config_path), build_params=params)
        push = app.push_screen

        def recorded(screen, *args, **kwargs):  # polling could miss a build shorter than a poll
            pushed.append(type(screen))
            return push(screen, *args, **kwargs)

        app.push_screen = recorded  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, MainScreen) and app.screen.response is not None,
                timeout=60,
            )
            screen = main_screen(app)
            assert screen.query_one(StageTwoTable).row_count == 10
            # Results came from the default backend alone; the rest arrive in the background.
            await wait_until(
                pilot, lambda: len(screen.query_one("#backend", Select)._options) > 2, timeout=120
            )
            offered = {value for _, value in screen.query_one("#backend", Select)._options}
            assert {"faiss-ivf", "faiss-hnsw", "exact"} <= offered

    run(scenario)
    assert (
        pushed[:2] == [BuildScreen, MainScreen] and (tmp_path / "data" / "model" / "manifest.json").exists()
    )
    built = sorted(p.name for p in (tmp_path / "data" / "indexes").iterdir())
    assert "faiss-ivf" in built and "faiss-hnsw" in built
    assert (tmp_path / "data" / "neighbours" / "faiss-ivf" / "manifest.json").exists(), "in the background"


def test_size_sweep_then_quit(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        async with opened(engine, small_dir, SIZE) as (app, pilot, screen):
            await pilot.press("s")
            assert screen.query_one(TabbedContent).active == "sweep"
            panel = screen.query_one(SweepPanel)
            await wait_until(pilot, lambda: "candidate-set size" in plain(panel), timeout=120)
            text = plain(panel)
            assert "NDCG@" in text and "p50 ms" in text and "ground truth" in text
            await pilot.press("6")
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running

    run(scenario)
