"""Stage 2's model: the CatBoost re-ranker, how it is trained, and how it is judged."""
