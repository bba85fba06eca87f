"""The API's bodies and answers, made for one engine.

The models are generated from the data set the server holds, so that the OpenAPI document is
the contract: ids carry this catalog's bounds, `backend` names the backends built here, and
each backend's body takes only its own search settings (a union tagged by `backend`). A body
the document allows is one the engine accepts; anything else is refused with 422 before the
engine sees it. Validation is strict: no boolean, fraction or string is taken for an id, a
count or a flag (a number without a fraction is an integer, as JSON Schema defines it), and an
unknown key is refused by name.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from functools import reduce
from types import UnionType
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, create_model

from engine.ann import backend_class
from engine.engine import Engine
from engine.events import EVENT_KINDS
from engine.explain import Explanation
from engine.funnel import FunnelStep
from engine.limits import HOURS_PER_DAY, MAX_ID, MAX_SEARCH_PARAM, k_limit, size_limit
from engine.requests import Context, RecommendRequest
from engine.rules import RuleEffect
from engine.wire import INCLUDE

STRICT = ConfigDict(extra="forbid", strict=True)


def _whole_number(value: Any) -> Any:
    """JSON has one number type, and JSON Schema's "integer" is any number without a
    fraction: 2.0 is the integer 2 to every validator of the document, so it is taken as 2.
    A fraction, a boolean or a string still fails the strict integer check after this."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def whole(ge: int, le: int) -> Any:
    """An integer as the OpenAPI document (JSON Schema) defines one, within bounds (the
    validator goes last, or pydantic leaves the bounds out of the document)."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_whole_number)]


class ErrorOut(BaseModel):
    """Every refusal but a body the schema rejects (422) carries one sentence: what was wrong
    and how to fix it."""

    detail: str


#: the answers every operation with a body can give besides its own, and when
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the engine refused the request; the message says why"},
    413: {"model": ErrorOut, "description": "the body is over the size limit"},
    503: {
        "model": ErrorOut,
        "description": "an artifact, the backend's library or the event store is not available",
    },
}
NOT_IN_RESPONSE = {404: {"model": ErrorOut, "description": "the item is not among the request's candidates"}}
NOT_SCORED = {409: {"model": ErrorOut, "description": "the response was served without the model"}}


class VerdictOut(BaseModel):
    stage: str
    ms: float
    budget_ms: float
    ok: bool


class CandidatesOut(BaseModel):
    item_ids: list[int]
    model_scores: list[float | None]
    paths: list[str]
    path_ranks: list[list[int]]


class FeaturesOut(BaseModel):
    names: list[str]
    rows: list[list[float | None]]  # a missing value (NaN) is written as null


class ItemOut(BaseModel):
    """An item of the top K: id and score, and with `details` the rest of `RankedItem`."""

    model_config = ConfigDict(extra="forbid")
    item_id: int
    score: float | None
    title: str | None = None
    category: str | None = None
    rank_before: int | None = None
    rank_after: int | None = None
    rank_change: int | None = None
    found_by: list[str] | None = None
    rules: list[str] | None = None


class RecommendOut(BaseModel):
    """The top K with scores; `include` adds the optional members (engine.wire.INCLUDE)."""

    model_config = ConfigDict(extra="forbid")
    user_id: int
    cold_start: bool
    items: list[ItemOut]
    degraded: list[str]
    notes: list[str]
    known_user: bool | None = None
    backend: str | None = None
    search_params: dict[str, int] | None = None
    n_candidates: int | None = None
    ann_recall: float | None = None
    timings_ms: dict[str, float] | None = None
    retrieval_timings_ms: dict[str, float] | None = None
    verdicts: list[VerdictOut] | None = None
    queue_ms: float | None = None
    rule_effects: list[RuleEffect] | None = None
    candidates: CandidatesOut | None = None
    features: FeaturesOut | None = None
    funnel: list[FunnelStep] | None = None


def on_the_wire(kind: Any) -> Any:
    """The type a dataclass field has in the API's JSON: NaN is written as null, so every float
    may be null; tuples are arrays; nested dataclasses become models (named `...Out`)."""
    if kind is float:
        return float | None
    if dataclasses.is_dataclass(kind):
        hints = get_type_hints(kind)
        fields = {field.name: (on_the_wire(hints[field.name]), ...) for field in dataclasses.fields(kind)}
        return create_model(f"{kind.__name__}Out", **fields)
    arguments = get_args(kind)
    if get_origin(kind) is tuple:
        return list[on_the_wire(arguments[0])]  # type: ignore[misc]
    if get_origin(kind) is dict:
        return dict[arguments[0], on_the_wire(arguments[1])]  # type: ignore[misc]
    if isinstance(kind, UnionType):
        return reduce(operator.or_, [on_the_wire(argument) for argument in arguments])
    return kind


ExplanationOut = on_the_wire(Explanation)


class EventOut(BaseModel):
    recorded: Literal[EVENT_KINDS]  # type: ignore[valid-type]
    user_id: int
    item_id: int


@dataclass(frozen=True)
class ApiModels:
    """The three request bodies of one engine (the first two are tagged unions)."""

    recommend: Any
    explain: Any
    event: type[BaseModel]


def api_models(engine: Engine) -> ApiModels:
    n_items, n_users = engine.catalog.n_items, engine.users.n_users
    n_categories = len(engine.catalog.category_names)
    default = engine.config.retrieval.backend
    backends = sorted({*engine.usable_backends(), default})
    item_id = whole(ge=0, le=n_items - 1)
    context = create_model(
        "ContextIn",
        __config__=STRICT,
        category=(whole(ge=0, le=n_categories - 1) | None, None),
        hour=(Annotated[float, Field(ge=0, lt=HOURS_PER_DAY)] | None, None),
    )
    common: dict[str, Any] = {
        "user_id": (
            whole(ge=0, le=MAX_ID),
            Field(description=f"users 0..{n_users - 1} are known; any other id gets a cold start"),
        ),
        "k": (whole(ge=1, le=k_limit(n_items)), 10),
        "context": (context, Field(default_factory=context)),
        "measure_recall": (bool, False),
        "include": (
            list[Literal[tuple(INCLUDE)]],  # type: ignore[valid-type]
            Field(
                default_factory=list,
                description="what to add to the top K with scores: "
                + "; ".join(f"{name}: {what}" for name, what in INCLUDE.items()),
            ),
        ),
    }
    explained = {
        "item_id": (item_id, Field(description="an item of this request's candidates")),
        "other_id": (item_id | None, Field(None, description="explain why item_id ranks above this one")),
    }

    def body(kind: str, name: str, extra: dict[str, Any]) -> Any:
        params = tuple(backend_class(name).search_defaults)
        value = whole(ge=1, le=MAX_SEARCH_PARAM)
        settings = dict[Literal[params], value] if params else dict[str, value]  # type: ignore[valid-type]
        backend = (Literal[name] | None, None) if name == default else (Literal[name], ...)
        most = min(size_limit(n_items), backend_class(name).max_results or n_items)
        model = create_model(
            f"{kind}_{name.replace('-', '_')}",
            __config__=STRICT,
            backend=backend,
            search_params=(settings, Field(default_factory=dict, max_length=len(params))),
            n_candidates=(whole(ge=1, le=most) | None, None),
            **common,
            **extra,
        )
        return Annotated[model, Tag(name)]

    def which(value: Any) -> str | None:
        tag = value.get("backend") if isinstance(value, dict) else getattr(value, "backend", None)
        return default if tag is None else tag if isinstance(tag, str) else None

    def union(kind: str, extra: dict[str, Any]) -> Any:
        choices = [body(kind, name, extra) for name in backends]
        if len(choices) == 1:
            return choices[0]  # its `backend` literal is the whole check
        error = f"backend must be one of {', '.join(backends)} (the backends built for this data set)"
        tagged = Discriminator(which, custom_error_type="backend", custom_error_message=error)
        return Annotated[reduce(operator.or_, choices), tagged]

    event = create_model(
        "EventIn",
        __config__=STRICT,
        user_id=(whole(ge=0, le=n_users - 1), ...),
        item_id=(item_id, ...),
        kind=(Literal[EVENT_KINDS], ...),  # type: ignore[valid-type]
    )
    return ApiModels(union("RecommendIn", {}), union("ExplainIn", explained), event)


def to_request(body: BaseModel) -> RecommendRequest:
    """The engine's request for a validated body."""
    return RecommendRequest(
        user_id=body.user_id,
        k=body.k,
        n_candidates=body.n_candidates,
        backend=body.backend,
        search_params=dict(body.search_params),
        context=Context(category=body.context.category, hour=body.context.hour),
        measure_recall=body.measure_recall,
    )
