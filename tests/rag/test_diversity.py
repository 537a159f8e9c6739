"""The per-file cap: questions whose answer spans two files see both in the top k."""

from core.rag.retrieval import Hit, diversify


def hit(source: str, line: int) -> Hit:
    return Hit(source, line, line + 9, "text", id=f"{source}:{line}", score=1.0)


def test_one_file_takes_at_most_the_cap_while_others_have_candidates():
    ranked = [hit("a.py", 1), hit("a.py", 20), hit("a.py", 40), hit("a.py", 60), hit("b.py", 1), hit("c.py", 1)]
    assert [h.id for h in diversify(ranked, 5, 3)] == ["a.py:1", "a.py:20", "a.py:40", "b.py:1", "c.py:1"]
    assert [h.id for h in diversify(ranked, 5, 2)] == ["a.py:1", "a.py:20", "b.py:1", "c.py:1", "a.py:40"]


def test_with_one_file_only_the_capped_chunks_fill_the_top_k_in_order():
    ranked = [hit("a.py", line) for line in (1, 20, 40, 60)]
    assert diversify(ranked, 3, 1) == ranked[:3]
