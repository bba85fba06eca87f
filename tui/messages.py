"""Messages that cross widgets: thread workers to the app, the lists and workers to the
screen (the UI thread never waits on the engine). A message one widget posts to itself is
declared in that widget."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.engine import Engine
from engine.explain import Explanation
from engine.requests import RecommendRequest, RecommendResponse


@dataclass
class EngineReady(Message):
    engine: Engine


@dataclass
class BuildProgress(Message):
    step: str
    done: int
    total: int


@dataclass
class BackendsBuilt(Message):
    """The backends a background build added (or the error that stopped it)."""

    built: list[str]
    error: str | None = None


@dataclass(frozen=True)
class Why:
    """An item's explanation, the pair with the item below it, and the answer they explain."""

    explanation: Explanation
    pair: Explanation | None
    response: RecommendResponse | None = None


@dataclass
class ResultReady(Message):
    """An answer and its request, with the explanation of its top item (None when the model
    did not score)."""

    request: RecommendRequest
    response: RecommendResponse
    why: Why | None = None


@dataclass
class ItemAction(Message):
    """A list asks for something done to its selected item: "click", "purchase", "explain"."""

    item_id: int
    action: str


@dataclass
class ItemHighlighted(Message):
    """A list's cursor moved onto an item: the screen has both lists follow it and explains it."""

    item_id: int


@dataclass
class ExplanationReady(Message):
    why: Why
