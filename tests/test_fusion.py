import pytest

from retriever.fusion import convex_fusion, min_max, reciprocal_rank_fusion, refuse_legs, single_leg

pytestmark = pytest.mark.unit


def test_rrf_matches_hand_computed_scores():
    legs = {"bm25": [("a", 9.0), ("b", 5.0), ("c", 1.0)], "dense": [("b", 0.9), ("d", 0.8)]}
    fused = reciprocal_rank_fusion(legs, k=60)
    scores = {f.id: f.score for f in fused}
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["d"] == pytest.approx(1 / 62)
    assert scores["c"] == pytest.approx(1 / 63)
    assert [f.id for f in fused] == ["b", "a", "d", "c"]
    b = fused[0]
    assert b.ranks == {"bm25": 2, "dense": 1}
    assert b.scores == {"bm25": 5.0, "dense": 0.9}


def test_rrf_is_deterministic_on_ties():
    legs = {"bm25": [("x", 1.0)], "dense": [("y", 1.0)]}
    assert [f.id for f in reciprocal_rank_fusion(legs)] == ["x", "y"]
    assert [f.id for f in reciprocal_rank_fusion(dict(reversed(list(legs.items()))))] == ["x", "y"]


def test_rrf_counts_a_duplicate_once():
    fused = reciprocal_rank_fusion({"bm25": [("a", 2.0), ("a", 1.0)]}, k=0)
    assert len(fused) == 1 and fused[0].score == pytest.approx(1.0)


def test_min_max_constant_and_empty():
    assert min_max([]) == []
    assert min_max([3.0, 3.0]) == [1.0, 1.0]
    assert min_max([1.0, 3.0, 2.0]) == [0.0, 1.0, 0.5]


def test_convex_fusion_weights():
    legs = {"bm25": [("a", 10.0), ("b", 0.0)], "dense": [("b", 0.9), ("a", 0.1)]}
    only_dense = convex_fusion(legs, {"bm25": 0.0, "dense": 1.0})
    assert [f.id for f in only_dense] == ["b", "a"]
    only_bm25 = convex_fusion(legs, {"bm25": 1.0, "dense": 0.0})
    assert [f.id for f in only_bm25] == ["a", "b"]
    mixed = {f.id: f.score for f in convex_fusion(legs, {"bm25": 0.3, "dense": 0.7})}
    assert mixed["a"] == pytest.approx(0.3 * 1.0 + 0.7 * 0.0)
    assert mixed["b"] == pytest.approx(0.3 * 0.0 + 0.7 * 1.0)
    with pytest.raises(ValueError):
        convex_fusion(legs, {"bm25": 0.0, "dense": 0.0})


def test_convex_missing_leg_adds_zero():
    fused = convex_fusion({"bm25": [("a", 2.0), ("b", 1.0)], "dense": [("c", 0.5)]}, {"bm25": 0.5, "dense": 0.5})
    scores = {f.id: f.score for f in fused}
    assert scores == {"a": 0.5, "b": 0.0, "c": 0.5}
    assert fused[0].ranks in ({"bm25": 1}, {"dense": 1})


def test_single_leg_keeps_order_and_ranks_and_scores_in_unit_range():
    """`--mode bm25` showed a raw BM25 score of 6 as "passage relevance 605 %" and fed it to the
    answer probability; one leg alone is now normalised as inside the hybrid."""
    fused = single_leg("bm25", [("a", 6.05), ("b", 2.0)])
    assert [(f.id, f.ranks, f.scores) for f in fused] == [("a", {"bm25": 1}, {"bm25": 6.05}),
                                                         ("b", {"bm25": 2}, {"bm25": 2.0})]
    assert [f.score for f in fused] == pytest.approx([1.0, 2.0 / 6.05])
    dense = single_leg("dense", [("a", 0.62), ("b", -0.1)])
    assert [f.score for f in dense] == pytest.approx([0.62, 0.0])


def test_rrf_scores_are_rescaled_to_the_unit_range_for_users():
    from retriever.fusion import rrf_in_unit_range

    legs = {"bm25": [("a", 9.0), ("b", 5.0)], "dense": [("a", 0.9), ("c", 0.8)]}
    fused = rrf_in_unit_range(reciprocal_rank_fusion(legs, k=60), 2, 60)
    assert [f.id for f in fused] == ["a", "b", "c"]
    assert fused[0].score == pytest.approx(1.0) and all(0.0 < f.score <= 1.0 for f in fused)


def test_every_retrieval_mode_scores_hits_in_the_unit_range():
    import numpy as np

    from retriever.retriever import RetrieverConfig, fuse

    legs = {"bm25": [("a", 14.2), ("b", 3.1)], "dense": [("b", 0.7), ("c", 0.4)]}
    for cfg in (RetrieverConfig(), RetrieverConfig(fusion="rrf"), RetrieverConfig(normalisation="minmax")):
        assert all(0.0 <= f.score <= 1.0 for f in fuse(legs, cfg))
    for leg in legs:
        assert all(0.0 <= f.score <= 1.0 for f in fuse({leg: legs[leg]}, RetrieverConfig()))
    assert np.isfinite([f.score for f in fuse(legs, RetrieverConfig())]).all()


def test_refuse_legs_recomputes_convex_fusion_over_the_candidates():
    legs = {"bm25": [("a", 10.0), ("b", 5.0)], "dense": [("b", 0.9), ("c", 0.4)]}
    fused = {f.id: f for f in convex_fusion(legs, {"bm25": 0.3, "dense": 0.7}, "absolute")}
    ids = ["a", "b", "c"]
    again = refuse_legs([fused[i].scores for i in ids], 0.7)
    assert again == pytest.approx([fused[i].score for i in ids])  # same weights -> the same scores
    assert again == pytest.approx([0.3 * 1.0, 0.3 * 0.5 + 0.7 * 0.9, 0.7 * 0.4])
    # A single-leg search keeps that leg's share only: the missing leg adds 0 (no renormalising,
    # so in --mode bm25 BM25 cannot outweigh the reranker in the blend).
    assert refuse_legs([{"bm25": 4.0}, {"bm25": 2.0}], 0.7) == pytest.approx([0.3, 0.15])
    assert refuse_legs([{"dense": 0.8}, {}], 0.0) == pytest.approx([0.0, 0.0])
    assert refuse_legs([], 0.5) == []
    with pytest.raises(ValueError, match="dense_weight"):
        refuse_legs([{"bm25": 1.0}], 1.5)
