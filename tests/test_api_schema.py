"""Schemathesis against the API in process (ASGI): every operation of the OpenAPI document,
with bodies that obey it and bodies that break it, and every check it has. The document must
tell the truth both ways: what it allows is served, what it forbids is refused with 4xx, and
every answer has a status and a body it lists. A new endpoint is fuzzed the day it lands."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from engine.config import load_config
from engine.engine import Engine
from serving.api import create_app

EXAMPLES = 150  # per operation and phase, as the CLI run in docs/loadtests.md


@pytest.fixture(scope="module")
def api_schema(small_dir: Path, small_config: Path):
    """The document as a server on the test data set publishes it (its own engine: events
    recorded here must not reach other tests)."""
    engine = Engine.open(small_dir, load_config(small_config))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(engine))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_openapi_document(case) -> None:
    case.call_and_validate()


def test_the_document_states_this_data_sets_bounds(api_schema) -> None:
    """Ids carry the catalog's bounds, `backend` names the built backends, and every status
    the server can answer is listed with its body."""
    document = api_schema.raw_schema
    event = document["components"]["schemas"]["EventIn"]["properties"]
    assert event["item_id"]["maximum"] == 2999 and event["user_id"]["maximum"] == 399
    bodies = document["paths"]["/recommend"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    variants = [ref["$ref"].rsplit("/", 1)[1] for ref in bodies["oneOf"]]
    assert "RecommendIn_faiss_ivf" in variants and "RecommendIn_exact" in variants
    ivf = document["components"]["schemas"]["RecommendIn_faiss_ivf"]["properties"]
    assert ivf["search_params"]["propertyNames"] == {"const": "nprobe"}
    answers = {
        path: set(operation["post"]["responses"])
        for path, operation in document["paths"].items()
        if "post" in operation
    }
    assert answers == {
        "/recommend": {"200", "400", "413", "422", "503"},
        "/explain": {"200", "400", "404", "409", "413", "422", "503"},
        "/events": {"202", "400", "413", "422", "503"},
    }
