"""What to ask: user, context, K, candidates, backend and search parameter. The panel turns
its fields into a `RecommendRequest` and posts it; a bad field is a notification naming it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select

from engine.data import favourite_categories
from engine.engine import Engine
from engine.errors import InvalidRequestError, TwostageError
from engine.requests import Context, RecommendRequest
from lab.evaluation import SIZES  # the sizes the sweep compares


class BackendSelect(Select[str]):
    """A choice of the backends this engine can search; a background build adds some."""

    def __init__(self, backends: list[str], value: str, **kwargs) -> None:
        super().__init__(
            [(name, name) for name in backends], value=value, allow_blank=False, compact=True, **kwargs
        )

    def offer(self, backends: list[str]) -> None:
        """Offer these backends, keeping the choice when it is still among them."""
        current = self.value
        self.set_options([(name, name) for name in backends])
        self.value = current if current in backends else backends[0]


class RequestPanel(Vertical):
    """Posts `Submitted` on enter in a field and, once it has asked, on every changed choice
    (before that a choice settling at start-up would race the first paint)."""

    @dataclass
    class Submitted(Message):
        request: RecommendRequest

    def __init__(self, engine: Engine, **kwargs) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.rng = np.random.default_rng()
        self.asked = False

    def compose(self) -> ComposeResult:
        engine = self.engine
        categories = [(name, code) for code, name in enumerate(engine.catalog.category_names)]
        sizes = [(str(s), s) for s in SIZES if s <= engine.catalog.n_items]
        default_size = min(engine.config.retrieval.n_candidates, engine.catalog.n_items)
        with Horizontal(classes="row"):
            yield Label("user", classes="caption")
            yield Input("42", placeholder="user id", id="user", compact=True)
            yield Input(placeholder="find: category", id="search", compact=True)
            yield Select(categories, prompt="context: any category", id="category", compact=True)
            yield Input(placeholder="hour", id="hour", classes="narrow", compact=True)
        with Horizontal(classes="row"):
            yield Label("K", classes="caption")
            yield Input("10", id="k", classes="narrow", compact=True)
            yield Select(sizes, value=default_size, allow_blank=False, id="candidates", compact=True)
            yield BackendSelect(engine.usable_backends(), engine.config.retrieval.backend, id="backend")
            yield Input(id="param", placeholder="param", classes="param", compact=True)

    def on_mount(self) -> None:
        self._show_param_hint()

    def request(self) -> RecommendRequest:
        """The request the fields describe, or a clear error naming the field."""
        user = _integer(self.query_one("#user", Input).value, "user id")
        k = _integer(self.query_one("#k", Input).value, "K")
        hour_text = self.query_one("#hour", Input).value.strip()
        hour = None
        if hour_text:
            try:
                hour = float(hour_text)
            except ValueError:
                raise InvalidRequestError(f"hour must be a number from 0 to 24, got {hour_text!r}") from None
        category = self.query_one("#category", Select).value
        params = search_params(self.query_one("#param", Input).value)
        return RecommendRequest(
            user_id=user,
            k=k,
            n_candidates=self.query_one("#candidates", Select).value,
            backend=self.query_one("#backend", Select).value,
            search_params=params,
            context=Context(category=None if category is Select.NULL else category, hour=hour),
            measure_recall=True,
        )

    def submit(self) -> None:
        """Post the fields' request, or say which field is wrong."""
        try:
            request = self.request()
        except TwostageError as error:
            self.notify(str(error), severity="error", title="Bad request")
            return
        self.asked = True
        self.post_message(self.Submitted(request))

    def set_user(self, user: int) -> None:
        self.query_one("#user", Input).value = str(user)

    def random_user(self) -> None:
        self.set_user(int(self.rng.integers(0, self.engine.users.n_users)))
        self.submit()

    def find_user(self, text: str) -> None:
        """Ask for a user whose strongest category (from the profile) is the one typed."""
        names = [n.lower() for n in self.engine.catalog.category_names]
        wanted = text.strip().lower()
        if wanted not in names:
            self.notify(
                f"no category named {text!r}; try one of: {', '.join(names[:8])}, ...", severity="error"
            )
            return
        fans = np.flatnonzero(favourite_categories(self.engine.dataset) == names.index(wanted))
        if len(fans) == 0:
            self.notify(f"no user prefers {text}", severity="warning")
            return
        self.set_user(int(self.rng.choice(fans)))
        self.submit()

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "search":
            self.find_user(event.value)
        else:
            self.submit()

    @on(Select.Changed)
    def _chosen(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "backend":
            # Another backend takes other search settings: clear the field, show its defaults.
            self.query_one("#param", Input).value = ""
            self._show_param_hint()
        if self.asked:
            self.submit()

    @property
    def backend(self) -> str | None:
        value = self.query_one("#backend", Select).value
        return None if value is Select.NULL else str(value)

    def _show_param_hint(self) -> None:
        if self.backend is None:
            return
        index_defaults = self.engine.index(self.backend).search_params
        hint = " ".join(f"{k}={v}" for k, v in index_defaults.items()) or "no parameters"
        self.query_one("#param", Input).placeholder = hint


def search_params(text: str) -> dict[str, int]:
    """'nprobe=8' -> {'nprobe': 8}; empty text -> no override."""
    text = text.strip()
    if not text:
        return {}
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise InvalidRequestError(f"a search parameter is written name=value (e.g. nprobe=8), got {text!r}")
    return {name.strip(): _integer(value, f"search parameter {name.strip()}")}


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{what} must be a whole number, got {text!r}") from None
