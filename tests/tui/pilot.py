"""Helpers for driving the app headless with Textual's pilot in tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

from rich.console import Console
from textual.widgets import Static
from textual.worker import WorkerCancelled

from tui.app import MainScreen, TwostageApp

SIZE = (100, 34)
WIDE = (160, 48)


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


def plain(widget: Static) -> str:
    """What a panel shows, as plain text (its content may be a rich table or group)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


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


@contextlib.asynccontextmanager
async def opened(
    engine, data_dir: Path, size: tuple[int, int] = SIZE
) -> AsyncIterator[tuple[TwostageApp, object, MainScreen]]:
    """The app on `engine`, headless at `size`, once its first answer is shown."""
    app = TwostageApp(data_dir, engine=engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        yield app, pilot, main_screen(app)
