"""Stage 2 features: one registry of named features over one vectorised context.

`assemble(context)` builds the (rows x features) float32 matrix for training (millions of
logged impressions) and `FeatureRows` a request's (its candidates), with the same code.
"""

from engine.event_store import EventStore
from engine.features.context import FeatureContext, FeatureInputs
from engine.features.matrix import FeatureRows, assemble
from engine.features.registry import FEATURES, FeatureSpec, feature_names, feature_specs

__all__ = [
    "FEATURES",
    "EventStore",
    "FeatureContext",
    "FeatureInputs",
    "FeatureRows",
    "FeatureSpec",
    "assemble",
    "feature_names",
    "feature_specs",
]
