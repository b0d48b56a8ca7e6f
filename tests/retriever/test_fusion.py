"""Reciprocal-rank fusion on hand-made lists, with exact scores."""

from __future__ import annotations

import pytest

from retriever.fusion import reciprocal_rank_fusion


def test_scores_sum_one_over_k_plus_rank_and_ties_go_to_the_better_rank():
    fused = reciprocal_rank_fusion([("bm25", ["a", "b"]), ("dense", ["b", "c"])], k=1)
    assert [f.key for f in fused] == ["b", "a", "c"]
    assert [f.score for f in fused] == [pytest.approx(1 / 3 + 1 / 2), pytest.approx(1 / 2), pytest.approx(1 / 3)]
    assert [f.ranks for f in fused] == [{"bm25": 2, "dense": 1}, {"bm25": 1}, {"dense": 2}]


def test_a_retrievers_weight_scales_each_of_its_lists():
    runs = [("bm25", ["a", "b"]), ("papers", ["b", "c"]), ("papers", ["c"])]
    fused = reciprocal_rank_fusion(runs, k=1, weights={"papers": 2.0})
    assert [(f.key, f.score) for f in fused] == [
        ("c", pytest.approx(2 / 3 + 2 / 2)),
        ("b", pytest.approx(1 / 3 + 2 / 2)),
        ("a", pytest.approx(1 / 2)),
    ]
    assert fused[0].ranks == {"papers": 1}  # the best rank over that retriever's lists


def test_weight_one_everywhere_is_plain_fusion():
    runs = [("bm25", ["a", "b", "c"]), ("dense", ["c", "d"]), ("feedback", ["d", "a"])]
    plain = reciprocal_rank_fusion(runs)
    weighted = reciprocal_rank_fusion(runs, weights={"bm25": 1.0, "dense": 1.0, "other": 3.0})
    assert [(f.key, f.score, f.ranks) for f in weighted] == [(f.key, f.score, f.ranks) for f in plain]
