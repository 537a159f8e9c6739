"""ragas's metrics, computed by ragas: the offline ones on known inputs, the judge's against a fake
Claude (the network boundary) that speaks the Messages API, and a judge that fails."""

from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from core.evaluation.ragas_metrics import RagasGrader, Sample
from tests.evaluation.ragas_judge import agreeing_judge
from tests.llm.fake_servers import FakeServer, Reply, anthropic_message, error

REFERENCE = "The Team plan costs $9 per user per month with annual billing."
SECTION = "## Prices\n\nThe Team plan costs $9 per user per month billed annually, $11 monthly."
OTHER = "## Webhooks\n\nFailed deliveries are retried 8 times over 24 hours."
JUDGE_METRICS = ["faithfulness", "answer_relevancy", "context_precision", "context_recall"]


@pytest.fixture(scope="module")
def embed():
    from core.rag.config import DEFAULT_EMBEDDING_MODEL
    from core.rag.embeddings import Embedder, resolve_model_path

    return Embedder(resolve_model_path(DEFAULT_EMBEDDING_MODEL)).embed


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")


def rag_sample(answer: str = REFERENCE, retrieved=(OTHER, SECTION)) -> Sample:
    return Sample("What does the Team plan cost?", answer, REFERENCE, tuple(retrieved), (SECTION,))


def judge_at(server, timeout: float = 10) -> str:
    return f"anthropic:claude-judge?base_url={server.url}&max_retries=0&timeout={timeout}"


def test_offline_metrics_follow_their_definitions(embed):
    grader = RagasGrader(["string_similarity", "bleu", "rouge_l", "nonllm_context_precision",
                          "nonllm_context_recall"], None, embed)
    exact, partial, base = grader.score([rag_sample(), rag_sample("It costs $9.", retrieved=(SECTION, OTHER)),
                                         Sample("What does the Team plan cost?", "No idea.", REFERENCE)])
    assert {name: value for name, (value, _) in exact.items()} == pytest.approx({
        "string_similarity": 1.0, "bleu": 1.0, "rouge_l": 1.0,
        "nonllm_context_precision": 0.5,  # the matching chunk ranked second: precision@2 = 1/2
        "nonllm_context_recall": 1.0})
    assert partial["nonllm_context_precision"][0] == pytest.approx(1.0)  # ranked first
    assert 0 < partial["rouge_l"][0] < 1 and 0 < partial["string_similarity"][0] < 1
    assert set(base) == {"string_similarity", "bleu", "rouge_l"}  # no retrieval: no context metrics


def test_judge_metrics_are_computed_by_ragas_through_the_judge(key, embed):
    with FakeServer(agreeing_judge) as server:
        scores = RagasGrader(JUDGE_METRICS, judge_at(server), embed).score([rag_sample()])[0]
    assert {name: reason for name, (_, reason) in scores.items()} == dict.fromkeys(JUDGE_METRICS)
    # every claim supported, every chunk useful, every reference claim attributed
    assert [scores[name][0] for name in ("faithfulness", "context_precision", "context_recall")] == \
        pytest.approx([1.0, 1.0, 1.0])
    assert 0 < scores["answer_relevancy"][0] <= 1  # cosine of the judge's question to the asked one
    tools = [request["json"]["tools"][0]["name"] for request in server.requests]
    assert len(tools) == 2 + 3 + 2 + 1  # ragas's calls: faithfulness 2, relevancy 3, precision 1 per chunk, recall 1
    assert all(request["path"] == "/v1/messages" and "temperature" not in request["json"]
               for request in server.requests)


def test_judge_metrics_skip_answers_without_retrieval(key, embed):
    with FakeServer(agreeing_judge) as server:
        scores = RagasGrader(JUDGE_METRICS, judge_at(server), embed).score(
            [Sample("What does the Team plan cost?", "$9.", REFERENCE)])[0]
    assert set(scores) == {"answer_relevancy"}


@pytest.mark.parametrize("reply, cause", [
    (error(429, "rate limited", "rate_limit_error"), "RateLimitError"),
    (anthropic_message("I think it is fine."), "the judge's reply is not the structured output asked for"),
    (Reply(delay_s=3, body={}), "APITimeoutError"),
])
def test_a_failing_judge_is_recorded_per_metric_with_its_cause(key, embed, reply, cause):
    with FakeServer(reply) as server:
        scores = RagasGrader(["faithfulness", "bleu"], judge_at(server, timeout=1), embed).score([rag_sample()])[0]
    value, reason = scores["faithfulness"]
    assert value is None and reason.startswith(f"ragas faithfulness failed: {cause}")
    assert scores["bleu"] == (pytest.approx(1.0), None)  # the offline metrics do not depend on the judge


def test_judge_metrics_need_a_judge(embed):
    with pytest.raises(InvalidInputError, match="faithfulness need"):
        RagasGrader(["faithfulness"], None, embed)
