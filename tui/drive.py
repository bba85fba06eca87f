"""The app driven headless by Textual's pilot, as a person would use it: type a user, run the
request, wait until the list shows it. For `twostage fidelity`: what the app shows, compared
with what the engine alone measures on the same requests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.worker import WorkerCancelled

from engine.engine import Engine
from engine.errors import TwostageError
from engine.requests import RecommendRequest
from tui.app import MainScreen, TwostageApp
from tui.request_panel import RequestPanel

SETTLE_S = 0.05  # a person's pause between requests: the screen finishes drawing first
ANSWER_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Drive:
    """What the app was asked and showed, and how long its engine sat idle before each
    request (the screen drawing the previous answer, then a person's pause): a request after
    an idle spell runs on colder caches and clocks, so an engine compared with the app must
    wait as long."""

    requests: list[RecommendRequest]
    shown: list[dict[str, float]]
    idle_s: list[float]


async def drive(engine: Engine, users: list[int], progress: Callable[[int], None] | None = None) -> Drive:
    """The request the app sent for each user, and the stage timings it showed for it."""
    app = TwostageApp(engine.layout.root, engine.config, engine=engine)
    requests, shown, idle = [], [], []
    async with app.run_test(headless=True, size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        answered = time.perf_counter()
        for done, user in enumerate(users, start=1):
            panel = screen.query_one(RequestPanel)
            panel.set_user(user)
            requests.append(panel.request())
            previous, deadline = screen.response, time.monotonic() + ANSWER_TIMEOUT_S
            idle.append(time.perf_counter() - answered)
            panel.submit()
            while screen.response is previous:  # until the app has shown the answer
                if time.monotonic() > deadline:
                    why = f"the app showed no answer for user {user} within {ANSWER_TIMEOUT_S:g} s"
                    raise TwostageError(why)
                await asyncio.sleep(0.001)
            answered = time.perf_counter()  # the answer came with its explanation: the engine is idle
            shown.append(dict(screen.response.timings_ms))
            # The screen finishes with the answer (the explanation of the selected item
            # follows it in a worker) before the person asks again.
            with contextlib.suppress(WorkerCancelled):
                await app.workers.wait_for_complete()
            await pilot.pause()  # idle work too: a list sizes its 500 rows when the app is idle
            await pilot.pause(SETTLE_S)
            if progress is not None:
                progress(done)
    return Drive(requests, shown, idle)
