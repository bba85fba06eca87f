"""The re-ranker artifact: a CatBoost model in CatBoost's own format plus a manifest that
names the features in order and the data set it was trained on. Loading refuses a model
whose features differ from the feature registry's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoost, CatBoostError, Pool

from engine.artifacts import atomic_write, read_manifest, write_manifest
from engine.errors import ArtifactError

MODEL_KIND = "twostage.reranker"
MODEL_FILE = "model.cbm"


class Reranker:
    """Scores a (candidates x features) matrix; one thread per call."""

    def __init__(self, model: CatBoost, feature_names: list[str], manifest: dict[str, Any] | None = None):
        self.model = model
        self.feature_names = feature_names
        self.manifest = manifest or {}
        #: the feature columns the model's trees split on; it never reads the others
        self.read_columns = _split_columns(model, len(feature_names))

    @property
    def trees(self) -> int:
        return int(self.model.tree_count_)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(matrix, thread_count=1))  # raw scores for both classes

    def shap(self, matrix: np.ndarray) -> np.ndarray:
        """(rows x features + 1) SHAP contributions; the last column is the expected value."""
        pool = Pool(np.ascontiguousarray(matrix, dtype=np.float32), feature_names=self.feature_names)
        shap = np.asarray(self.model.get_feature_importance(pool, type="ShapValues", thread_count=1))
        # A SHAP call leaves CatBoost's predictor cold: the next request's predict is slower
        # (docs/benchmarks.md), so the app, which explains every answer, would show a slower
        # model stage. One prediction of the same size warms it again.
        self.model.predict(matrix, thread_count=1)
        return shap

    def save(self, directory: Path, **meta: Any) -> dict[str, Any]:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / MODEL_FILE, lambda tmp: self.model.save_model(str(tmp), format="cbm"))
        self.manifest = write_manifest(
            directory, MODEL_KIND, [MODEL_FILE], features=self.feature_names, trees=self.trees, **meta
        )
        return self.manifest

    @classmethod
    def load(cls, directory: Path, *, features: list[str], dataset: str) -> Reranker:
        manifest = read_manifest(directory, MODEL_KIND)
        trained = list(manifest.get("features", []))
        if trained != features:
            missing = [f for f in features if f not in trained]
            extra = [f for f in trained if f not in features]
            detail = f"missing {missing or 'none'}, unknown {extra or 'none'}"
            if not missing and not extra:
                detail = "the same names in another order"
            raise ArtifactError(
                f"the model in {directory} was trained on other features ({detail}); "
                "retrain it with `twostage build --retrain`"
            )
        if manifest.get("dataset") != dataset:
            raise ArtifactError(
                f"the model in {directory} was trained on another data set; retrain it with "
                "`twostage build --retrain`"
            )
        model = CatBoost()
        try:
            model.load_model(str(directory / MODEL_FILE), format="cbm")
        except CatBoostError as exc:
            raise ArtifactError(f"CatBoost cannot read {directory / MODEL_FILE}: {exc}") from None
        return cls(model, trained, manifest)


def _split_columns(model: CatBoost, n_features: int) -> tuple[int, ...]:
    """Columns with at least one split border: an oblivious tree compares a feature with its
    borders and nothing else, so a column without borders cannot change a prediction."""
    try:
        borders = model.get_borders()
    except CatBoostError:  # a model without float features' borders: assume it reads all
        return tuple(range(n_features))
    return tuple(sorted(int(column) for column, values in borders.items() if len(values)))
