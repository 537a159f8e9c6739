"""The Evaluate page's rows and lines, built without Streamlit."""

from datetime import datetime

from core.evaluation.views import (agreement_line, eval_item_rows, eval_set_rows, format_estimate, pairwise_rows,
                                   run_choice_label, score_line)
from core.rag.views import citation_label
from core.store.tables import EvalItem, EvalRun, EvalSet, Job


def test_eval_sets_and_their_items_as_rows():
    imported = datetime(2026, 12, 1)
    (row,) = eval_set_rows([EvalSet(name="docs", source="upload:docs.jsonl", sha256="x", item_count=3,
                                    created_at=imported)])
    assert row == {"name": "docs", "questions": 3, "source": "upload:docs.jsonl", "imported": imported}
    item = EvalItem(set_id=1, position=0, item_id="q1", question="Price?", reference_answer="$10",
                    kind="factual", relevant_sources=["a.md", "b.md"], keywords=["10"], tags=["v2", "pricing"])
    assert eval_item_rows([item]) == [{"id": "q1", "question": "Price?", "reference": "$10", "kind": "factual",
                                       "sources": "a.md, b.md", "keywords": "10", "tags": "v2, pricing"}]


def test_a_run_is_listed_with_its_job_status_or_a_dash():
    run = EvalRun(id=12, eval_set="ledgerly-v2", systems=["local", "local?kb=ledgerly-v2"])
    assert run_choice_label(run, Job(kind="eval", status="running")) == \
        "12 · running · ledgerly-v2 · local, local?kb=ledgerly-v2"
    assert run_choice_label(run, None).startswith("12 · - · ")


def test_scores_agreement_and_estimates_read_as_lines():
    assert score_line({"token_f1": 0.5, "exact_match": 1.0}) == "exact_match 1.00 · token_f1 0.50"
    assert agreement_line({"kappa": 0.4123, "agreement": 0.75, "pairs": 8}) == \
        "Judge-human agreement: Cohen's kappa 0.41 (75% the same grade, 8 labelled answers)."
    assert format_estimate({"mean": 0.5, "low": 0.25, "high": 0.75, "failed": 2}) == "0.500 [0.250, 0.750] (2 not graded)"
    assert format_estimate({"mean": None, "low": None, "high": None}) == "-"


def test_pairwise_rows_leave_out_the_per_question_verdicts():
    run = EvalRun(eval_set="s", systems=["a", "b"], pairwise={"a vs b": {"a": "a", "wins_a": 3, "verdicts": [1, 2]}})
    assert pairwise_rows(run) == [{"a": "a", "wins_a": 3}]


def test_a_stored_context_is_labelled_as_its_citation():
    context = {"source": "docs/auth.md", "start_line": 3, "end_line": 9, "text": "...", "number": 1}
    assert citation_label(context) == "[1] docs/auth.md:L3-L9"
