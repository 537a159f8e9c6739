"""Rerankers: the cross-encoder path with a tiny randomly initialised cross-encoder built offline, and query
likelihood with the tiny chat model (SmolLM2's tokenizer and template, random weights)."""

import pytest
import torch

from core.errors import InvalidInputError
from core.llm.base import Passage
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, list_knowledge_bases, open_retriever
from core.rag.reranking import LM_POOL, QueryLikelihoodReranker, load_reranker, rerank
from core.rag.retrieval import Hit


@pytest.fixture
def tiny_cross_encoder(tmp_path, embedder):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path / "cross-encoder"
    tokenizer = AutoTokenizer.from_pretrained(str(embedder.model_path))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_configured_reranker_reorders_the_candidates_by_its_scores(db, docs, tiny_cross_encoder):
    config = KnowledgeBaseConfig(source_path=str(docs), chunk_size=300, chunk_overlap=30,
                                 reranker_model=str(tiny_cross_encoder))
    create_knowledge_base(db, "team", config)
    retriever = open_retriever(db, "team")
    hits = retriever.search("refunds", k=4)
    expected = load_reranker(str(tiny_cross_encoder)).model.predict([("refunds", h.text) for h in hits])
    assert [h.score for h in hits] == pytest.approx(sorted(map(float, expected), reverse=True), abs=1e-5)


def test_a_reranker_that_is_not_a_local_folder_or_a_model_is_refused_before_anything_is_saved(db, docs, tmp_path):
    with pytest.raises(InvalidInputError, match="not a local cross-encoder folder"):
        load_reranker(str(tmp_path / "missing"))
    for name, message in ((str(tmp_path / "missing"), "lm:smollm2"), ("lm: ", "names no model")):
        with pytest.raises(InvalidInputError, match=message):
            create_knowledge_base(db, "team", KnowledgeBaseConfig(source_path=str(docs), reranker_model=name))
    assert list_knowledge_bases(db) == []


def test_query_likelihood_scores_each_chunk_as_alone_though_the_batch_is_padded(tiny_model_dir):
    reranker = QueryLikelihoodReranker(str(tiny_model_dir))
    chunks = [Passage("a.py", 1, 2, "def rotate(password):\n    return password[::-1]"),
              Passage("b.md", 1, 1, "Refunds take ten days.")]
    query = "How long do refunds take?"
    assert reranker.scores(query, chunks) == pytest.approx([_mean_log_prob(reranker, query, c) for c in chunks],
                                                           abs=1e-4)


def _mean_log_prob(reranker, query, chunk) -> float:
    """The same score the long way: one unpadded row, every logit, the query's tokens picked by hand."""
    tokenizer, model = reranker.loaded.tokenizer, reranker.loaded.model
    prompt = reranker._prompt_ids(chunk)
    asked = tokenizer(query, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + asked])).logits[0]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return sum(log_probs[len(prompt) - 1 + i, token].item() for i, token in enumerate(asked)) / len(asked)


def test_the_language_model_reorders_its_pool_and_leaves_the_rest_in_fused_order(tiny_model_dir):
    hits = [Hit("f.md", n, n, f"Fact {n}: the sky is blue on day {n}.", id=str(n), score=1 / n)
            for n in range(1, LM_POOL + 4)]
    reranker = load_reranker(f"lm:{tiny_model_dir}")
    reranked = rerank(reranker, "Which day is the sky blue?", hits)
    expected = reranker.scores("Which day is the sky blue?", hits[:LM_POOL])
    assert [h.score for h in reranked[:LM_POOL]] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
    assert sorted(h.id for h in reranked[:LM_POOL]) == sorted(h.id for h in hits[:LM_POOL])
    assert reranked[LM_POOL:] == hits[LM_POOL:]


def test_a_knowledge_base_reranked_by_a_language_model_searches_through_it(db, docs, tiny_model_dir):
    config = KnowledgeBaseConfig(source_path=str(docs), chunk_size=300, chunk_overlap=30,
                                 reranker_model=f"lm:{tiny_model_dir}")
    create_knowledge_base(db, "team", config)
    hits = open_retriever(db, "team").search("refunds", k=3)
    assert len(hits) == 3 and all(h.score < 0 for h in hits)  # mean log-probabilities
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
