"""ragas reaches the local model as its judge through the model server, with an AsyncOpenAI client."""

from __future__ import annotations

import pytest

from core.evaluation.ragas_metrics import RagasGrader, Sample
from core.serving.lifecycle import health, running_server

pytestmark = pytest.mark.slow


def test_ragas_asks_the_local_model_through_the_server_and_records_what_it_could_not_parse(serve, tiny_spec):
    from core.rag.config import DEFAULT_EMBEDDING_MODEL
    from core.rag.embeddings import Embedder, resolve_model_path

    serve()
    embed = Embedder(resolve_model_path(DEFAULT_EMBEDDING_MODEL)).embed
    sample = Sample("What does the Team plan cost?", "$9 per user per month.", "$9.", ("Team: $9 per user.",))
    [scores] = RagasGrader(["faithfulness", "bleu"], tiny_spec, embed).score([sample])
    served = health(running_server().url)["stats"]
    assert served["requests"] >= 4  # ragas's requests were answered by the server
    value, reason = scores["faithfulness"]  # a random tiny model writes no valid JSON: asked 4 times, then kept
    assert value is None and reason.startswith("ragas faithfulness failed: the judge's reply is not the structured")
    assert scores["bleu"][1] is None
