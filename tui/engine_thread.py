"""The one long-lived thread every engine call of the app runs on (requests, explanations,
comparisons), awaited by async workers so the UI thread never waits on the engine.

One thread, not one per call: CatBoost keeps per-thread state, and a request on a fresh thread
after an explanation on another took 1.3x as long in the model (docs/loadtests.md)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class EngineThread:
    """Runs engine calls one after another on a single thread; a screen owns one and hands
    it to the widgets that call the engine."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")

    async def run(self, call: Callable[..., T], *args: object) -> T:
        """`call(*args)` on the engine thread, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(call, *args))

    def shutdown(self) -> None:
        """Drop calls not yet started; the one running finishes on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
