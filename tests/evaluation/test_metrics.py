"""Offline metrics against hand-computed values."""

import pytest

from core.evaluation.metrics import (Graded, contains_reference, exact_match, keyword_presence, normalise,
                                    semantic_similarity, token_f1)


def test_normalisation_drops_case_punctuation_and_articles():
    assert normalise("The  refund, is 30 days!") == "refund is 30 days"


def test_exact_match_after_normalisation():
    assert exact_match(Graded("The Pocket plan.", "pocket plan")) == 1.0
    assert exact_match(Graded("Pocket", "Sprout")) == 0.0
    assert exact_match(Graded("anything")) is None


def test_contains_reference_finds_the_normalised_reference_as_whole_words():
    assert contains_reference(Graded("The refund window is 45 days.", "45 days")) == 1.0
    assert contains_reference(Graded("You get your money back within six weeks", "45 days")) == 0.0  # a paraphrase
    assert contains_reference(Graded("It's the POCKET plan!", "pocket-plan")) == 1.0  # case, punctuation, articles
    assert contains_reference(Graded("It takes 450 days", "45 days")) == 0.0  # not inside another word
    assert contains_reference(Graded("anything")) is None
    assert contains_reference(Graded("anything", "")) is None  # an empty reference is no reference
    assert contains_reference(Graded("anything", "The.")) is None  # nor is one that normalises to nothing


def test_token_f1_by_hand():
    # answer: refund window is 45 days (5 words); reference: 45 days (2); common 2 -> P 0.4, R 1.0
    assert token_f1(Graded("The refund window is 45 days", "45 days")) == pytest.approx(2 * 0.4 * 1.0 / 1.4)
    assert token_f1(Graded("Sprout", "45 days")) == 0.0
    assert token_f1(Graded("", "")) == 1.0
    assert token_f1(Graded("no reference")) is None


def test_keyword_presence_is_the_share_found_case_insensitively():
    graded = Graded("TL;DR: It costs $9.\n— Acme Support", keywords=("tl;dr:", "— Acme Support", "$12"))
    assert keyword_presence(graded) == pytest.approx(2 / 3)
    assert keyword_presence(Graded("no keywords")) is None


def test_semantic_similarity_with_the_local_embedding_model():
    from core.rag.embeddings import Embedder, resolve_model_path

    embed = Embedder(resolve_model_path("")).embed
    close, missing, far = semantic_similarity([
        Graded("Refunds take five business days.", "A refund arrives in 5 working days."),
        Graded("No reference to compare with."),
        Graded("Refunds take five business days.", "The office cat is named Miso.")], embed)
    assert close > 0.6 > far and missing is None


def test_rag_answers_are_graded_on_retrieval_at_file_and_evidence_level():
    from core.evaluation.job import Grader
    from core.llm.base import Citation, Completion
    from core.store.tables import EvalItem

    item = EvalItem(set_id=0, position=0, item_id="q", question="Which error?", relevant_sources=["lexer.py"],
                    evidence=[{"source": "lexer.py", "start_line": 40, "end_line": 41}])
    contexts = (Citation("lexer.py", 1, 30, "...", number=1), Citation("lexer.py", 31, 60, "...", number=2))
    answer = Completion("TemplateSyntaxError", 10, 3, 100.0, "m", 0.0, contexts=contexts)
    metrics = ["recall_at_5", "mrr", "evidence_recall_at_5", "evidence_mrr"]
    [scores] = Grader(metrics).grade([item], [answer])
    assert scores == {"recall_at_5": (1.0, None), "mrr": (1.0, None),  # the right file at rank 1...
                      "evidence_recall_at_5": (1.0, None), "evidence_mrr": (0.5, None)}  # ...its lines at rank 2
    no_retrieval = Completion("TemplateSyntaxError", 10, 3, 100.0, "m", 0.0)
    assert Grader(metrics).grade([item], [no_retrieval]) == [{}]  # not a RAG answer: nothing applies
