"""The cross-encoder code path, with a tiny randomly initialised cross-encoder built offline."""

import pytest

from core.errors import InvalidInputError
from core.rag.config import KnowledgeBaseConfig
from core.rag.knowledge import create_knowledge_base, open_retriever
from core.rag.retrieval import load_reranker


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
    expected = load_reranker(str(tiny_cross_encoder)).predict([("refunds", h.text) for h in hits])
    assert [h.score for h in hits] == pytest.approx(sorted(map(float, expected), reverse=True), abs=1e-5)


def test_a_reranker_that_is_not_a_local_folder_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="not a local cross-encoder folder"):
        load_reranker(str(tmp_path / "missing"))
