"""Neighbour expansion (small-to-big): a hit arrives with the chunks around it, each line once."""

import pytest

from core.errors import InvalidInputError
from core.llm.base import Passage
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, open_retriever
from core.rag.retrieval import Hit, widen

LINES = [f"line {n}" for n in range(1, 41)]


def chunk(start: int, end: int, source: str = "a.py") -> Passage:
    return Passage(source, start, end, "\n".join(LINES[start - 1:end]))


def hit_on(passage: Passage, rank: int) -> Hit:
    return Hit(passage.source, passage.start_line, passage.end_line, passage.text, id=f"{passage.start_line}",
               score=1.0 / rank)


# Four chunks of a.py; the second and third share line 20 (chunk overlap).
CHUNKS = {"a.py": [chunk(1, 10), chunk(11, 20), chunk(20, 30), chunk(31, 40)]}


def test_a_hit_grows_by_its_neighbours_and_shared_lines_appear_once():
    [wide] = widen([hit_on(CHUNKS["a.py"][1], 1)], CHUNKS, 1)
    assert (wide.start_line, wide.end_line, wide.id) == (1, 30, "11")
    assert wide.text.splitlines() == LINES[:30]


def test_overlapping_windows_merge_into_the_better_hit_and_the_file_edge_bounds_them():
    first, last = hit_on(CHUNKS["a.py"][3], 1), hit_on(CHUNKS["a.py"][0], 2)
    assert [(h.id, h.start_line, h.end_line) for h in widen([first, last], CHUNKS, 1)] == [
        ("31", 20, 40), ("1", 1, 20)]
    assert [(h.id, h.start_line, h.end_line) for h in widen([first, last], CHUNKS, 2)] == [("31", 1, 40)]


def test_a_window_that_bridges_two_others_merges_all_three():
    chunks = {"a.py": [chunk(start, start + 4) for start in range(1, 36, 5)]}  # seven chunks of five lines
    ranked = [hit_on(chunks["a.py"][0], 1), hit_on(chunks["a.py"][4], 2), hit_on(chunks["a.py"][2], 3)]
    assert [(h.id, h.start_line, h.end_line) for h in widen(ranked, chunks, 1)] == [("1", 1, 30)]


def test_a_hit_of_a_file_the_index_does_not_know_passes_unchanged():
    stranger = hit_on(chunk(1, 5, source="b.py"), 1)
    assert widen([stranger], CHUNKS, 1) == [stranger]


def test_a_piece_of_a_function_found_alone_arrives_with_its_def_line(db, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "billing.py").write_text("\n\n".join(
        f"def {name}(amount):\n    \"\"\"{doc}\"\"\"\n    return amount * {factor}\n"
        for name, doc, factor in (("add_tax", "Adds the sales tax of the customer's country.", 1.2),
                                  ("apply_discount", "Takes the loyalty discount off a refund.", 0.9),
                                  ("round_cents", "Rounds to whole cents for the invoice.", 1))))
    for name, neighbours in (("narrow", 0), ("wide", 1)):
        create_knowledge_base(db, name, KnowledgeBaseConfig(source_path=str(source), chunk_size=100,
                                                            chunk_overlap=0, neighbours=neighbours))
    question = "loyalty discount on a refund"
    [narrow] = open_retriever(db, "narrow").search(question, k=1)
    [wide] = open_retriever(db, "wide").search(question, k=1)
    assert "loyalty discount" in narrow.text and "def apply_discount" not in narrow.text  # the body, cut off
    assert narrow.text in wide.text and "def apply_discount(amount):" in wide.text
    assert wide.start_line < narrow.start_line and wide.end_line > narrow.end_line


def test_neighbours_are_bounded():
    with pytest.raises(InvalidInputError, match="neighbours must be between 0 and 3"):
        KnowledgeBaseConfig(source_path="x", neighbours=4)
