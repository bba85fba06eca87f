"""The app driven headless with Textual's pilot: the main flows a person would try."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from dataclasses import replace
from pathlib import Path

from textual.widgets import Input, Select
from textual.worker import WorkerCancelled

from engine.config import BudgetConfig, load_config
from engine.engine import Engine
from sample_data.synthetic import SyntheticParams
from tests.conftest import SMALL_MODEL
from tui.app import MainScreen, TwostageApp
from tui.panels import ExplainPanel, StageOneTable, StageTwoTable, SweepPanel
from tui.screens import BuildScreen, HelpScreen

SIZE = (100, 34)


async def finish_workers(pilot) -> None:
    """Wait for running workers; a request that a newer one replaced ends cancelled, by design."""
    with contextlib.suppress(WorkerCancelled):
        await pilot.app.workers.wait_for_complete()


async def settle(pilot) -> None:
    """Let the first request (sent after the first paint) and any other work finish."""
    for _ in range(3):
        await pilot.pause()
        await finish_workers(pilot)
    await pilot.pause()
    screen = pilot.app.screen
    if isinstance(screen, MainScreen):
        await wait_until(pilot, lambda: screen.response is not None)


async def wait_until(pilot, condition, timeout: float = 20.0) -> None:
    """Poll the app until `condition()` holds: a change of a widget starts work through a
    message, so there may be no worker to wait for yet when the test looks."""
    waited = 0.0
    while not condition():
        assert waited < timeout, "the app did not reach the expected state in time"
        await pilot.pause(0.05)
        await finish_workers(pilot)
        waited += 0.05


def run(scenario) -> None:
    asyncio.run(scenario())


def main_screen(app: TwostageApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen), type(app.screen)
    return app.screen


def notes(app: TwostageApp) -> list[str]:
    recorded: list[str] = []
    original = app.notify

    def record(message, *args, **kwargs):
        recorded.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = record  # type: ignore[method-assign]
    return recorded


def test_opens_and_shows_both_stages(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=engine)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            assert screen.query_one(StageTwoTable).row_count == 10
            assert screen.query_one(StageOneTable).row_count == 500
            assert screen.response.user_id == 42 and screen.response.candidates.recall is not None
            dropped = next(e for e in screen.response.effects if e.rule == "out_of_stock")
            stage1 = screen.query_one(StageOneTable)
            assert "out_of_stock: dropped" in str(
                stage1.get_cell(str(dropped.item_id), stage1.ordered_columns[5].key)
            )
            assert len(screen.session) == 1

    run(scenario)


def test_random_user_backend_and_candidate_count(engine: Engine, small_dir: Path) -> None:
    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=engine)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            await pilot.press("r")
            await wait_until(
                pilot, lambda: screen.response.user_id == int(screen.query_one("#user", Input).value)
            )
            screen.query_one("#backend", Select).value = "faiss-hnsw"
            await wait_until(pilot, lambda: screen.response.candidates.backend == "faiss-hnsw")
            assert screen.query_one("#param", Input).placeholder.startswith("efSearch=")
            screen.query_one("#candidates", Select).value = 100
            await wait_until(pilot, lambda: screen.query_one(StageOneTable).row_count == 100)
            assert len(screen.session) >= 4

    run(scenario)


def test_recall_sweep_of_the_chosen_backend_draws_quality_against_recall(
    engine: Engine, small_dir: Path
) -> None:
    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=engine)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            screen.query_one("#backend", Select).value = "exact"
            await wait_until(pilot, lambda: screen.response.candidates.backend == "exact")
            told = notes(app)
            await pilot.press("S")
            assert any("exact search has recall 1" in note for note in told)
            screen.query_one("#backend", Select).value = "faiss-ivf"
            await wait_until(pilot, lambda: screen.response.candidates.backend == "faiss-ivf")
            await pilot.press("S")
            panel = screen.query_one(SweepPanel)
            await wait_until(pilot, lambda: "ANN path recall@" in str(panel.render()), timeout=120)
            text = str(panel.render())
            assert "faiss-ivf" in text and "recall 0." in text and "ground truth" in text

    run(scenario)


def test_explain_then_click_changes_the_ranking(small_dir: Path, small_config: Path) -> None:
    engine = Engine.open(small_dir, load_config(small_config))  # its own: clicks are recorded

    async def scenario() -> None:
        app = TwostageApp(small_dir, engine=engine)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = main_screen(app)
            await pilot.press("e")
            panel = screen.query_one(ExplainPanel)
            await wait_until(pilot, lambda: panel.pair is not None)
            selected = screen.query_one(StageTwoTable).selected_item()
            assert panel.explanation.item_id == selected and len(panel.explanation.contributions) == 8
            assert panel.pair.other_id == screen.response.items[1].item_id
            before = [item.item_id for item in screen.response.items]
            await pilot.press("c")
            await wait_until(pilot, lambda: [item.item_id for item in screen.response.items] != before)
            assert len(engine.live) == 1
            after = [item.item_id for item in screen.response.items]
            assert after != before and before[0] not in screen.response.candidates.candidates.item_ids

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
    tight.config = replace(engine.config, budget=BudgetConfig(model_ms=25.0, buffer_ms=45.0))

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
    seen: list[type] = []

    async def scenario() -> None:
        app = TwostageApp(tmp_path / "data", load_config(config_path), build_params=params)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):
                seen.append(type(app.screen))
                if isinstance(app.screen, MainScreen) and app.screen.response is not None:
                    break
                await asyncio.sleep(0.1)
                await pilot.pause()
            assert main_screen(app).query_one(StageTwoTable).row_count == 10

    run(scenario)
    assert BuildScreen in seen and (tmp_path / "data" / "model" / "manifest.json").exists()
