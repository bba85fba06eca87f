"""Messages that thread workers post back to the app (the UI thread never waits on the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.engine import Engine
from engine.explain import Explanation
from engine.requests import RecommendResponse
from engine.sweep import RecallSweep, Sweep


@dataclass
class EngineReady(Message):
    engine: Engine


@dataclass
class BuildProgress(Message):
    step: str
    done: int
    total: int


@dataclass
class ResultReady(Message):
    response: RecommendResponse


@dataclass
class ExplanationReady(Message):
    explanation: Explanation
    pair: Explanation | None


@dataclass
class SweepProgress(Message):
    done: int
    total: int


@dataclass
class SweepReady(Message):
    sweep: Sweep | RecallSweep
