"""How personal a list is: distinct items, the overlap of two users' lists, which paths filled
the slots; and `eval` reports them for every list."""

from __future__ import annotations

import numpy as np
import pytest

from lab.personalisation import overlap, path_shares


def test_overlap_counts_distinct_items_and_pairwise_jaccard() -> None:
    same = [np.array([1, 2, 3]), np.array([3, 2, 1]), np.array([2, 1, 3])]
    assert overlap(same) == {"distinct_items": 3, "mean_pairwise_jaccard": 1.0}
    apart = [np.array([1, 2]), np.array([3, 4]), np.array([5, 6])]
    assert overlap(apart) == {"distinct_items": 6, "mean_pairwise_jaccard": 0.0}
    # pairs: {1,2,3}~{3,4,5}: 1/5; {1,2,3}~{1,2}: 2/3; {3,4,5}~{1,2}: 0
    mixed = [np.array([1, 2, 3]), np.array([3, 4, 5]), np.array([1, 2])]
    result = overlap(mixed)
    assert result["distinct_items"] == 5
    assert result["mean_pairwise_jaccard"] == pytest.approx((1 / 5 + 2 / 3 + 0) / 3)
    assert np.isnan(overlap([np.array([7])])["mean_pairwise_jaccard"]), "one user has no pair"


def test_path_shares_count_slots_found_and_found_alone() -> None:
    names = ("ann", "history", "popular")
    user_a = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    user_b = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0]], dtype=bool)
    shares = path_shares([user_a, user_b], names)
    assert shares["ann"] == {"found": 3 / 7, "alone": 1 / 7}
    assert shares["history"] == {"found": 2 / 7, "alone": 1 / 7}
    assert shares["popular"] == {"found": 3 / 7, "alone": 2 / 7}
    assert shares["ann_or_history"] == pytest.approx(4 / 7)
