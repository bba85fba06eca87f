"""Typed configuration: TOML in, frozen dataclasses out, unknown keys named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.ann import backend_class
from engine.config import (
    BudgetConfig,
    EngineConfig,
    ModelConfig,
    RetrievalConfig,
    RulesConfig,
    load_config,
)
from engine.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_product_budget() -> None:
    config = load_config(None)
    assert config.budget == BudgetConfig(
        ann_ms=10.0, features_ms=20.0, model_ms=30.0, buffer_ms=40.0, total_ms=100.0
    )
    assert config.retrieval.n_candidates == 500


def test_toml_values_are_read_and_typed(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[retrieval]
n_candidates = 200
backend = "hnswlib"
[budget]
ann_ms = 5
[search.hnswlib]
ef = 300
[build.faiss-hnsw]
M = 16
[build.scann]
avq_threshold = 0.3
[build.milvus]
uri = "http://milvus.internal:19530"
[history_search.hnswlib]
ef = 20
""",
        )
    )
    assert config.retrieval == RetrievalConfig(n_candidates=200, backend="hnswlib")
    assert config.budget.ann_ms == 5.0 and isinstance(config.budget.ann_ms, float)
    assert config.search == {"hnswlib": {"ef": 300}}
    assert config.build == {
        "faiss-hnsw": {"M": 16},
        "scann": {"avq_threshold": 0.3},
        "milvus": {"uri": "http://milvus.internal:19530"},
    }
    assert isinstance(config.build["faiss-hnsw"]["M"], int), "build numbers keep their type"
    assert config.history_search["hnswlib"] == {"ef": 20}
    assert "faiss-hnsw" not in config.history_search, "other backends keep their own history_defaults"
    with pytest.raises(AttributeError):
        config.retrieval.n_candidates = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[retrieval]\nn_candidatez = 5\n", "unknown key 'retrieval.n_candidatez'"),
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("[retrieval]\nn_candidates = 'many'\n", "'retrieval.n_candidates' must be of type int"),
        ("[retrieval]\nexclude_seen = 1\n", "'retrieval.exclude_seen' must be of type bool"),
        ("[search.hnswlib]\nef = 1.5\n", "'search.hnswlib.ef' must be of type int"),
        ("[build.scann]\navq_threshold = [0.2]\n", "'build.scann.avq_threshold' must be a number"),
        ("[build.scann]\nnum_leaves = true\n", "'build.scann.num_leaves' must be a number or a string"),
        ("retrieval = 3\n", "'retrieval' must be a table"),
        ("[budget]\nann_ms = 90\n", "more than budget.total_ms"),
        ("[retrieval]\nn_candidates = 0\n", "'retrieval.n_candidates' must be >= 1, got 0"),
        ("[retrieval]\ncovisit_neighbours = -1\n", "'retrieval.covisit_neighbours' must be >= 0, got -1"),
        ("[retrieval]\nhistory_share = 0.9\n", "sum to at most 0.9"),
        ("[retrieval\n", "not valid TOML"),
        ("[rules]\norder = ['out_of_stock', 'shuffle']\n", "unknown rule 'shuffle' in rules.order"),
        ("[rules]\norder = 'out_of_stock'\n", "'rules.order' must be a list of strings"),
        ("[model]\nloss = 'RMSE'\n", "'model.loss' must be one of 'YetiRank', "),
        ("[model]\ntrain_windows = 8\n[evaluation]\ntest_share = 0.2\n", "take 180% of the log"),
        ("[evaluation]\nsplit_by = 'users'\n", "'evaluation.split_by' must be one of 'time' or"),
        ("[evaluation]\nmax_userz = 3\n", "unknown key 'evaluation.max_userz'"),
        ("[retrieval]\ncovisit_window_days = 0\n", "'retrieval.covisit_window_days' must be > 0.0, got 0"),
        ("[events]\nstore = 'mongodb://x'\n", "events.store must be 'memory', 'journal' or a redis"),
        ("[events]\nstream_max_len = 0\n", "'events.stream_max_len' must be >= 1, got 0"),
        ("[model]\ndepth = 17\n", "'model.depth' must be <= 16, got 17"),
        ("[retrieval]\nrecall_sample_rate = 1.5\n", "'retrieval.recall_sample_rate' must be <= 1.0, got 1.5"),
        ("[rules]\npromoted_mode = 'random'\n", "'rules.promoted_mode' must be one of 'boost' or 'pin'"),
    ],
)
def test_bad_config_is_refused_with_the_key_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(write(tmp_path, text))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_engine_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        EngineConfig().budget = BudgetConfig()  # type: ignore[misc]


def test_the_example_config_is_valid_and_matches_the_defaults() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "engine.toml"
    config = load_config(example)
    assert config.retrieval == RetrievalConfig() and config.budget == BudgetConfig()
    assert config.model == ModelConfig() and config.rules == RulesConfig()
    for backend, params in config.history_search.items():
        assert backend_class(backend).history_defaults == params
    for backend, params in config.search.items():
        assert backend_class(backend).search_defaults == params
    for backend, params in config.build.items():
        assert backend_class(backend)().build_params == params
    # Every setting is listed (a default the example leaves out would still compare equal).
    written = tomllib.loads(example.read_text())
    for name, field in EngineConfig.model_fields.items():
        section = field.default_factory()
        if isinstance(section, BaseModel):
            missing = set(type(section).model_fields) - set(written.get(name, {}))
            assert not missing, f"examples/engine.toml leaves out [{name}] {sorted(missing)}"
