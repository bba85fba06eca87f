"""`twostage build`: generate (or keep) the data set, then its embeddings, the trending table,
the indexes, the history table and the re-ranker.

Each step is skipped when its artifact already exists for the same data and parameters,
so a second build is quick; `force` redoes everything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine import embeddings
from engine.ann import AnnIndex, backend_class, create
from engine.artifact_cache import history_params
from engine.artifacts import MANIFEST, read_manifest
from engine.config import EngineConfig
from engine.data import load_dataset
from engine.errors import ArtifactError, DataFormatError
from engine.features import feature_names
from engine.layout import Layout
from engine.progress import Progress, no_progress
from engine.ranking.model import MODEL_KIND
from engine.retrieval import neighbours, trending
from lab.training import train, training_params
from sample_data import synthetic


@dataclass
class BuildReport:
    """What a build did: per step, 'built' or 'kept', with seconds and sizes for indexes."""

    dataset: str = "kept"
    embeddings: dict[str, str] = field(default_factory=dict)
    trending: str = "kept"
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    history_neighbours: str = "none"
    model: dict[str, Any] = field(default_factory=dict)


def build(
    layout: Layout,
    params: synthetic.SyntheticParams | None,
    backends: list[str],
    *,
    config: EngineConfig | None = None,
    force: bool = False,
    retrain: bool = False,
    progress: Progress = no_progress,
) -> BuildReport:
    """Bring `layout` up to date. `params` None keeps an existing data set whatever its size."""
    config = config or EngineConfig()
    for name in backends:
        backend_class(name)  # unknown or unavailable backends fail before any work
    report = BuildReport()
    if force or not (layout.dataset / "manifest.json").exists():
        synthetic.write(layout.dataset, params or synthetic.SyntheticParams(), progress)
        report.dataset = "built"
    elif params is not None:
        _check_same_params(layout, params)
    source = load_dataset(layout.dataset)
    for role in embeddings.roles(config):
        if embeddings.ensure(layout, source, config, role, progress):
            report.embeddings[role] = "built"
    dataset = embeddings.open_dataset(layout, config)

    if (
        force
        or report.dataset == "built"
        or _stale(layout.trending, "twostage.trending", dataset.fingerprint)
    ):
        progress("trending", 0, 1)
        trending.save(trending.compute(dataset), layout.trending, dataset.fingerprint)
        progress("trending", 1, 1)
        report.trending = "built"

    built: dict[str, AnnIndex] = {}  # what this build made, so the history table need not reload it
    for name in backends:
        if not backend_class(name).needs_build:
            memory = dataset.catalog.vectors.nbytes
            report.indexes[name] = _summary("searches the data set's vectors; nothing to build", 0.0, memory)
            continue
        directory = layout.index(name)
        build_params = config.build.get(name, {})
        if not force and not _stale(directory, "twostage.ann-index", dataset.fingerprint, build_params):
            manifest = read_manifest(directory, "twostage.ann-index", verify=False)
            report.indexes[name] = _summary("kept", manifest["build_seconds"], manifest["memory_bytes"])
            continue
        index: AnnIndex = create(name, **build_params)
        index.build(dataset.catalog.vectors, progress)
        index.save(directory, dataset=dataset.fingerprint)
        built[name] = index
        report.indexes[name] = _summary("built", index.build_seconds, index.memory_bytes())

    report.history_neighbours = _history_neighbours(layout, dataset, config, built, force, progress)
    report.model = _model(layout, dataset, config, force or retrain, progress)
    return report


def _history_neighbours(
    layout: Layout,
    dataset,
    config: EngineConfig,
    built: dict[str, AnnIndex],
    force: bool,
    progress: Progress,
) -> str:
    """The history path's searches for the default backend, precomputed (when it is built)."""
    backend, k = config.retrieval.backend, config.retrieval.history_table
    cls = backend_class(backend)
    if not k or not cls.needs_build or not (layout.index(backend) / MANIFEST).exists():
        return "none"
    index = built.get(backend) or cls.load(layout.index(backend), expect={"dataset": dataset.fingerprint})
    params = history_params(config, cls)
    built_for = neighbours.identity(index, k, params)
    directory = layout.history_neighbours(backend)
    if not force and neighbours.is_current(directory, dataset.fingerprint, built_for):
        return "kept"
    table = neighbours.build_table(index, dataset.catalog.vectors, k, params, progress)
    neighbours.save(table, directory, dataset.fingerprint, built_for)
    return "built"


def _model(
    layout: Layout, dataset, config: EngineConfig, retrain: bool, progress: Progress
) -> dict[str, Any]:
    """Train the re-ranker unless one exists for this data, these features and these settings."""
    params = training_params(config)
    if not retrain:
        try:
            manifest = read_manifest(layout.model, MODEL_KIND, verify=False)
        except ArtifactError:
            manifest = None
        fresh = (
            manifest is not None
            and manifest.get("dataset") == dataset.fingerprint
            and manifest.get("features") == feature_names(dataset.attributes)
            and manifest.get("report", {}).get("params") == params
        )
        if fresh:
            return {"status": "kept", **_model_summary(manifest["report"])}
    reranker, report = train(layout, config, progress)
    reranker.save(layout.model, dataset=dataset.fingerprint, report=report)
    return {"status": "trained", **_model_summary(report)}


def _model_summary(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in ("train_rows", "train_lists", "train_positives", "train_seconds")}


def _summary(status: str, seconds: float, memory: int) -> dict[str, Any]:
    return {"status": status, "build_seconds": round(seconds, 3), "memory_bytes": int(memory)}


def _stale(directory, kind: str, fingerprint: str, build_params: dict[str, int] | None = None) -> bool:
    """True when the artifact is missing, broken, for other data or other build parameters."""
    try:
        manifest = read_manifest(directory, kind, verify=False)
    except ArtifactError:
        return True
    if manifest.get("dataset") != fingerprint:
        return True
    if build_params is None:
        return False
    stored = manifest.get("build_params", {})
    return any(stored.get(key) != value for key, value in build_params.items())


def _check_same_params(layout: Layout, params: synthetic.SyntheticParams) -> None:
    manifest = read_manifest(layout.dataset, "twostage.dataset", verify=False)
    stored = manifest.get("source", {}).get("params")
    if stored is not None and stored != asdict(params):
        changed = ", ".join(
            f"{k}={stored.get(k)} (asked {v})" for k, v in asdict(params).items() if stored.get(k) != v
        )
        raise DataFormatError(
            f"the data set in {layout.dataset} was generated with other parameters: {changed}; "
            "pass --force to regenerate it, or use another --data-dir"
        )
