"""Save an SVG screenshot of the app for the README: `python -m tui.screenshot OUT.svg`.

Runs the app headless at 160x48 (before | after side by side, the explanation and the funnel
below) on the default data set (or $TWOSTAGE_DATA_DIR), lets a few requests run so the
timing panel has a history, moves to the third item, and saves."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from textual.worker import WorkerCancelled

from engine.layout import default_data_dir
from tui.app import MainScreen, TwostageApp


async def shoot(out: Path, size: tuple[int, int] = (160, 48)) -> None:
    app = TwostageApp(default_data_dir())
    async with app.run_test(size=size) as pilot:
        while not (isinstance(app.screen, MainScreen) and app.screen.response is not None):
            await asyncio.sleep(0.1)
        for _ in range(8):
            await pilot.press("r")
            await pilot.pause(0.3)
            with contextlib.suppress(WorkerCancelled):  # a newer request replaced it
                await app.workers.wait_for_complete()
        await pilot.press("down", "down")
        await pilot.pause(0.5)
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        app.save_screenshot(out.name, str(out.parent))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/demo.svg").resolve()
    asyncio.run(shoot(target))
    print(f"saved {target}")
