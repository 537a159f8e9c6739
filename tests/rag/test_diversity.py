"""Fusion of the dense and keyword rankings, and the per-file cap that lets an answer spanning two files show both."""

from core.rag.retrieval import Hit, diversify, reciprocal_rank_fusion


def hit(source: str, line: int) -> Hit:
    return Hit(source, line, line + 9, "text", id=f"{source}:{line}", score=1.0)


def test_one_file_takes_at_most_the_cap_while_others_have_candidates():
    ranked = [hit("a.py", 1), hit("a.py", 20), hit("a.py", 40), hit("a.py", 60), hit("b.py", 1), hit("c.py", 1)]
    assert [h.id for h in diversify(ranked, 5, 3)] == ["a.py:1", "a.py:20", "a.py:40", "b.py:1", "c.py:1"]
    assert [h.id for h in diversify(ranked, 5, 2)] == ["a.py:1", "a.py:20", "b.py:1", "c.py:1", "a.py:40"]


def test_with_one_file_only_the_capped_chunks_fill_the_top_k_in_order():
    ranked = [hit("a.py", line) for line in (1, 20, 40, 60)]
    assert diversify(ranked, 3, 1) == ranked[:3]


def test_fusion_ranks_by_summed_reciprocal_ranks_and_weights_tip_a_tie():
    dense, keywords = [hit("a.py", 1), hit("b.py", 1)], [hit("b.py", 1), hit("a.py", 1)]
    fused = reciprocal_rank_fusion([dense, keywords], k=60)
    assert [h.score for h in fused] == [1 / 61 + 1 / 62] * 2
    weighted = reciprocal_rank_fusion([dense, keywords], k=60, weights=[1.0, 2.0])
    assert [h.id for h in weighted] == ["b.py:1", "a.py:1"] and weighted[0].score == 2 / 61 + 1 / 62
