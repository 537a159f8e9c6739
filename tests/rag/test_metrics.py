import math
from dataclasses import dataclass

import pytest

from core.rag.metrics import mean, ndcg_at_k, precision_at_k, recall_at_k, reciprocal_rank

RANKED = ["a.py", "x.py", "a.py", "b.py", "y.py"]
RELEVANT = {"a.py", "b.py", "c.py"}


def test_recall_precision_and_mrr_count_each_file_once():
    assert recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)  # the repeated a.py earns nothing
    assert precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert reciprocal_rank(["x.py", "b.py"], RELEVANT) == 0.5
    assert reciprocal_rank(["x.py"], RELEVANT) == 0.0


def test_ndcg_against_the_ideal_ordering():
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx((1 + 1 / math.log2(5)) / ideal)
    assert ndcg_at_k(["a.py", "b.py", "c.py"], RELEVANT, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["z.py"], {"a.py"}, 1) == 0.0


def test_metrics_refuse_unlabelled_questions():
    with pytest.raises(ValueError, match="no relevant sources"):
        recall_at_k(RANKED, set(), 5)
    assert math.isnan(mean([]))


def test_an_evidence_hit_is_a_chunk_that_holds_every_answering_line():
    from core.rag.metrics import evidence_recall_at_k, evidence_reciprocal_rank

    @dataclass(frozen=True)
    class Lines:
        source: str
        start_line: int
        end_line: int

    evidence = [Lines("retry.py", 40, 42), Lines("util.py", 5, 5)]
    ranked = [Lines("retry.py", 1, 41),  # the right file, but it stops one line short
              Lines("other.py", 1, 99), Lines("util.py", 1, 20), Lines("retry.py", 30, 60)]
    assert evidence_recall_at_k(ranked, evidence, 2) == 0.0  # a file-level hit, not an evidence hit
    assert evidence_recall_at_k(ranked, evidence, 3) == 0.5 and evidence_recall_at_k(ranked, evidence, 4) == 1.0
    assert evidence_reciprocal_rank(ranked, evidence) == 1 / 3
